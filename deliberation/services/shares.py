"""Sharing a deliberation: its owner lets another user run it (moderator) or read and export its
data (researcher). Every change is audit-logged. Who may share is decided in `access`."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from deliberation.errors import DomainError
from deliberation.models import AuditLog, Deliberation, DeliberationShare

ROLE_PERMISSIONS = {
    DeliberationShare.Role.MODERATOR: "deliberation.moderate",
    DeliberationShare.Role.RESEARCHER: "deliberation.research",
}


def deliberation_share_add(
    *, deliberation: Deliberation, username: str, role: str, actor
) -> DeliberationShare:
    """Share `deliberation` with the user called `username` in `role`. The user must exist,
    not be the owner, hold the role's permission, and not have a share yet (change a role by
    removing the share first)."""
    if role not in ROLE_PERMISSIONS:
        raise DomainError(
            "Choose a role: moderator (runs it) or researcher (reads and exports its data).",
            code="share_role",
        )
    username = (username or "").strip() if isinstance(username, str) else ""
    if not username:
        raise DomainError("Give the username of the person to share with.", code="share_user")
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise DomainError(f"There is no active user called {username!r}.", code="share_user")
    if user.pk == deliberation.created_by_id:
        raise DomainError(f"{username} created this deliberation already.", code="share_owner")
    permission = ROLE_PERMISSIONS[role]
    if not user.has_perm(permission):
        raise DomainError(
            f"{username} does not hold the {role} permission, so the share would give them "
            f"nothing; ask an administrator to grant it first (manage.py grant_role {username} "
            f"{role}).",
            code="share_permission",
        )
    try:
        with transaction.atomic():
            share = DeliberationShare.objects.create(
                deliberation=deliberation, user=user, role=role, created_by=actor
            )
            _audit(actor, "share_add", deliberation, username=username, role=role)
    except IntegrityError:
        raise DomainError(
            f"{username} already has access to this deliberation; remove it first to change "
            "the role.",
            code="share_exists",
        ) from None
    return share


def deliberation_share_remove(*, deliberation: Deliberation, share_id: int, actor) -> None:
    """Remove one share of `deliberation`; a share that is already gone is a clear error."""
    with transaction.atomic():
        share = (
            DeliberationShare.objects.select_for_update()
            .select_related("user")
            .filter(pk=share_id, deliberation=deliberation)
            .first()
        )
        if share is None:
            raise DomainError("That share does not exist (any more).", code="share_missing")
        share.delete()
        _audit(actor, "share_remove", deliberation, username=share.user.username, role=share.role)


def _audit(actor, action: str, deliberation: Deliberation, **data) -> None:
    AuditLog.objects.create(
        actor=actor,
        action=action,
        target_type="deliberation",
        target_id=deliberation.pk,
        data=data,
    )
