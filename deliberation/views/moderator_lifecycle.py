"""The moderator's deliberation actions after set-up: clone into a new draft, archive, restore."""

from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from deliberation.access import get_moderated_deliberation, moderator_required
from deliberation.errors import DomainError
from deliberation.services.lifecycle import (
    deliberation_archive,
    deliberation_clone,
    deliberation_restore,
)


@require_POST
@moderator_required
def clone(request: HttpRequest, public_id: UUID) -> HttpResponse:
    deliberation = get_moderated_deliberation(request.user, public_id)
    copy = deliberation_clone(deliberation=deliberation, actor=request.user)
    messages.success(
        request,
        f"Cloned into this new draft, {copy.title!r}: nobody can join until you open it.",
    )
    return redirect("moderator:deliberation_detail", public_id=copy.public_id)


@require_POST
@moderator_required
def archive(request: HttpRequest, public_id: UUID) -> HttpResponse:
    deliberation = get_moderated_deliberation(request.user, public_id)
    deliberation_archive(deliberation=deliberation, actor=request.user)
    messages.success(
        request,
        f"Archived {deliberation.title!r}: it is closed and hidden from the lists; its data is "
        "kept, and its page stays at its address.",
    )
    return redirect("moderator:home")


@require_POST
@moderator_required
def restore(request: HttpRequest, public_id: UUID) -> HttpResponse:
    deliberation = get_moderated_deliberation(request.user, public_id)
    try:
        deliberation_restore(deliberation=deliberation, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Restored: back in the list, still closed to new participants.")
    return redirect("moderator:deliberation_detail", public_id=public_id)
