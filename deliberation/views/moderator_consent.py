"""The moderator's consent page: read and edit the consent text (a change makes a new version)."""

from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from deliberation.access import get_moderated_deliberation, moderator_required
from deliberation.errors import DomainError
from deliberation.selectors.consent import consent_disclosures
from deliberation.services.consent import CONSENT_TEXT_MAX, consent_text_update


@require_http_methods(["GET", "POST"])
@moderator_required
def consent_edit(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """GET: the text, its version and the platform's sentences shown under it. POST: save the
    text typed; a refused text comes back on this page as typed, with the error."""
    deliberation = get_moderated_deliberation(request.user, public_id)
    text, error, status = deliberation.consent_text, "", 200
    if request.method == "POST":
        text = request.POST.get("consent_text", "")
        before = deliberation.consent_version
        try:
            updated = consent_text_update(deliberation=deliberation, text=text, actor=request.user)
        except DomainError as exc:
            error, status = exc.message, exc.status
        else:
            if updated.consent_version == before:
                messages.info(request, "The consent text is unchanged.")
            else:
                messages.success(
                    request,
                    f"Saved as version {updated.consent_version}. Participants who agreed to an "
                    "older version are asked to agree again before their next step.",
                )
            return redirect("moderator:deliberation_detail", public_id=public_id)
    return render(
        request,
        "deliberation/moderator/consent.html",
        {
            "deliberation": deliberation,
            "text": text,
            "error": error,
            "text_max": CONSENT_TEXT_MAX,
            "disclosures": consent_disclosures(deliberation),
        },
        status=status,
    )
