"""Panel integration: Prolific, MTurk-style and a generic `?xid=` for embedding in another study.

External ids arrive on the join URL, are stored in `PanelIdentity`, apart from the pseudonymous
participant, and let the same panel member resume instead of joining twice. The completion
redirect (with its code) is built only for a member whose every required step is saved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from django.db import IntegrityError, transaction
from django.utils.translation import gettext, gettext_lazy

from deliberation.errors import DomainError
from deliberation.models import Deliberation, PanelIdentity, Participant

PANEL_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
PROLIFIC_COMPLETE = "https://app.prolific.com/submissions/complete?cc={code}"
MTURK_PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"
# Where an MTurk-style HIT may be submitted: the live site and the sandbox, nothing else.
MTURK_HOSTS = ("www.mturk.com", "workersandbox.mturk.com")


@dataclass(frozen=True)
class PanelIds:
    panel: str
    external_id: str
    study_id: str = ""
    session_id: str = ""
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "panel": self.panel,
            "external_id": self.external_id,
            "study_id": self.study_id,
            "session_id": self.session_id,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> PanelIds | None:
        """The ids `as_dict` kept (in the session until consent); None for nothing kept."""
        return cls(**data) if data else None


@dataclass(frozen=True)
class Completion:
    """Where a finished (or released) member goes: a URL, or a form to POST (MTurk)."""

    code: str
    url: str = ""
    post_fields: dict = field(default_factory=dict)


def _one(params, name: str, label: str, *, required: bool = True) -> str:
    """The panel id `name` of the link; `label` names it to the person (translated)."""
    value = (params.get(name) or "").strip()
    words = {"label": label, "name": name}
    if not value:
        if required:
            raise DomainError(
                gettext(
                    "This study link is missing your %(label)s (%(name)s). Please open it again "
                    "from the page that sent you here."
                )
                % words,
                code="panel_missing",
            )
        return ""
    if not PANEL_ID.match(value):
        raise DomainError(
            gettext(
                "The %(label)s in this link (%(name)s) is not valid. If you are previewing the "
                "study, open it from the panel as a participant."
            )
            % words,
            code="panel_invalid",
        )
    return value


def panel_ids_parse(deliberation: Deliberation, params) -> PanelIds | None:
    """The panel ids a join URL carries, checked; None for a deliberation without a panel.

    Prolific: PROLIFIC_PID, STUDY_ID, SESSION_ID. MTurk-style: workerId, assignmentId, hitId and
    turkSubmitTo. Generic: xid. A deliberation with a panel needs its ids.
    """
    panel = deliberation.panel
    Panel = Deliberation.Panel
    if panel == Panel.PROLIFIC:
        return PanelIds(
            panel=panel,
            external_id=_one(params, "PROLIFIC_PID", gettext_lazy("Prolific ID")),
            study_id=_one(params, "STUDY_ID", gettext_lazy("study ID"), required=False),
            session_id=_one(params, "SESSION_ID", gettext_lazy("session ID"), required=False),
        )
    if panel == Panel.MTURK:
        assignment = (params.get("assignmentId") or "").strip()
        if assignment == MTURK_PREVIEW:
            raise DomainError(
                gettext("This is a preview of the task. Accept the HIT to take part."),
                code="panel_preview",
            )
        submit_to = (params.get("turkSubmitTo") or "").strip()
        if submit_to and urlsplit(submit_to).hostname not in MTURK_HOSTS:
            raise DomainError(
                gettext("The submission address in this link is not MTurk's."), code="panel"
            )
        return PanelIds(
            panel=panel,
            external_id=_one(params, "workerId", gettext_lazy("worker ID")),
            study_id=_one(params, "hitId", gettext_lazy("HIT ID"), required=False),
            session_id=_one(params, "assignmentId", gettext_lazy("assignment ID")),
            extra={"turkSubmitTo": submit_to} if submit_to else {},
        )
    if panel == Panel.GENERIC:
        return PanelIds(panel=panel, external_id=_one(params, "xid", gettext_lazy("external ID")))
    return None


def panel_participant(deliberation: Deliberation, ids: PanelIds | None) -> Participant | None:
    """The participant these panel ids already belong to, so a returning member resumes."""
    if ids is None:
        return None
    identity = (
        PanelIdentity.objects.filter(
            deliberation=deliberation, panel=ids.panel, external_id=ids.external_id
        )
        .select_related("participant")
        .first()
    )
    return identity.participant if identity else None


@dataclass(frozen=True)
class PanelArrival:
    """What opening a join link means for its panel ids: a returning panel member to resume as,
    or new ids to keep until consent; neither for a deliberation without a panel."""

    returning: Participant | None = None
    ids: PanelIds | None = None


def panel_arrival(
    *, deliberation: Deliberation, params, participant: Participant | None
) -> PanelArrival:
    """The panel rules of opening a join link (`params`: its query string).

    Raises `DomainError` when the ids are missing or invalid, unless the visitor already is a
    participant here (`participant`, from their session): they resume, and the link's ids are
    ignored. Ids that belong to a participant already make that participant the one who resumes,
    so the same panel member never joins twice.
    """
    if deliberation.panel == Deliberation.Panel.NONE:
        return PanelArrival()
    try:
        ids = panel_ids_parse(deliberation, params)
    except DomainError:
        if participant is None:
            raise
        return PanelArrival()
    returning = panel_participant(deliberation, ids)
    if returning is not None:
        return PanelArrival(returning=returning)
    return PanelArrival(ids=ids)


def panel_identity_attach(*, participant: Participant, ids: PanelIds) -> Participant:
    """Store the panel ids of a new participant. When the same panel member was attached a moment
    ago by another request (two tabs), that participant is returned and this one is left unused."""
    try:
        with transaction.atomic():
            PanelIdentity.objects.create(
                participant=participant,
                deliberation=participant.deliberation,
                panel=ids.panel,
                external_id=ids.external_id,
                study_id=ids.study_id,
                session_id=ids.session_id,
                extra=ids.extra,
            )
    except IntegrityError:
        existing = panel_participant(participant.deliberation, ids)
        if existing is None:
            raise
        return existing
    return participant


def completion_for(participant: Participant) -> Completion | None:
    """Where this member is sent at the end, or None while any required step is unsaved.

    Completed members get the deliberation's completion code; members released from the waiting
    pool get its release code. Nobody else gets a code, whatever URL they type.
    """
    deliberation = participant.deliberation
    Status = Participant.Status
    if participant.status == Status.COMPLETED:
        code = deliberation.completion_code
    elif participant.status == Status.RELEASED:
        code = deliberation.release_code or deliberation.completion_code
    else:
        return None
    template = deliberation.completion_url
    if not template and deliberation.panel == Deliberation.Panel.PROLIFIC and code:
        template = PROLIFIC_COMPLETE
    if deliberation.panel == Deliberation.Panel.MTURK and not template:
        identity = getattr(participant, "panel_identity", None)
        submit_to = identity.extra.get("turkSubmitTo", "") if identity else ""
        if identity and submit_to:
            return Completion(
                code=code,
                url=submit_to.rstrip("/") + "/mturk/externalSubmit",
                post_fields={"assignmentId": identity.session_id, "completionCode": code},
            )
    url = template.replace("{code}", quote(code, safe="")) if template else ""
    return Completion(code=code, url=url)
