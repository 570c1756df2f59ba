"""The consent text: a moderator's edit makes a new version, kept whole in the audit log.

Participants who agreed to an older version are asked to agree again before their next step
(`deliberation.selectors.consent.consent_needed`); what each one agreed to is in their
`ConsentRecord` (version and the hash of everything the consent page showed).
"""

import re

from django.db import transaction

from deliberation.errors import DomainError
from deliberation.models import AuditLog, Deliberation
from deliberation.services.versions import member_views_changed

CONSENT_TEXT_MAX = 10_000
CONSENT_VERSION_MAX = 32


def consent_version_next(version: str) -> str:
    """ "1" -> "2", "2024-b3" -> "2024-b4", "draft" -> "draft-2"."""
    match = re.fullmatch(r"(.*?)(\d+)", version)
    if match:
        return f"{match.group(1)}{int(match.group(2)) + 1}"
    return f"{version}-2"


def consent_text_update(*, deliberation: Deliberation, text: str, actor) -> Deliberation:
    """Replace the deliberation's consent text. A changed text gets the next version, and both
    texts are written to the audit log with `actor`; the same text again changes nothing."""
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise DomainError("The consent text cannot be empty.", code="consent_text")
    if len(text) > CONSENT_TEXT_MAX:
        raise DomainError(
            f"The consent text can be at most {CONSENT_TEXT_MAX:,} characters; "
            f"it has {len(text):,}.",
            code="consent_text",
        )
    with transaction.atomic():
        current = Deliberation.objects.select_for_update().get(pk=deliberation.pk)
        if current.consent_text == text:
            return current
        version = consent_version_next(current.consent_version)
        if len(version) > CONSENT_VERSION_MAX:
            raise DomainError(
                "The consent version has grown too long; set a shorter one in the admin.",
                code="consent_version",
            )
        AuditLog.objects.create(
            actor=actor,
            action="consent_text",
            target_type="deliberation",
            target_id=current.pk,
            data={
                "from_version": current.consent_version,
                "to_version": version,
                "from_text": current.consent_text,
                "to_text": text,
            },
        )
        current.consent_text = text
        current.consent_version = version
        current.save(update_fields=["consent_text", "consent_version"])
        member_views_changed(deliberation_id=current.pk)  # every member is asked again
    return current
