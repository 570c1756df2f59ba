"""The owner's share page: who else may run a deliberation or read its data."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from deliberation.access import get_owned_deliberation, moderator_required
from deliberation.errors import DomainError
from deliberation.models import DeliberationShare
from deliberation.services.shares import deliberation_share_add, deliberation_share_remove


@require_http_methods(["GET", "POST"])
@moderator_required
def share(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """GET: who has access. POST: add a user by username with a role; a refusal comes back on
    this page with the error and what was typed."""
    deliberation = get_owned_deliberation(request.user, public_id)
    username, role, error, status = "", DeliberationShare.Role.RESEARCHER, "", 200
    if request.method == "POST":
        username, role = request.POST.get("username", ""), request.POST.get("role", "")
        try:
            deliberation_share_add(
                deliberation=deliberation, username=username, role=role, actor=request.user
            )
        except DomainError as exc:
            error, status = exc.message, exc.status
        else:
            messages.success(request, f"Shared with {username.strip()} as {role}.")
            return redirect("moderator:share", public_id=public_id)
    return render(
        request,
        "deliberation/moderator/share.html",
        {
            "deliberation": deliberation,
            "shares": deliberation.shares.select_related("user", "created_by"),
            "roles": DeliberationShare.Role.choices,
            "username": username,
            "role": role,
            "error": error,
        },
        status=status,
    )


@require_POST
@moderator_required
def share_remove(request: HttpRequest, public_id: UUID, share_id: int) -> HttpResponse:
    deliberation = get_owned_deliberation(request.user, public_id)
    try:
        deliberation_share_remove(deliberation=deliberation, share_id=share_id, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The share was removed.")
    return redirect("moderator:share", public_id=public_id)
