"""Moderator accounts: a user who holds the `deliberation.moderate` permission."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from deliberation.errors import DomainError


def moderator_ensure(*, username: str, password: str, validate: bool = True) -> tuple[object, bool]:
    """Create the user `username`, or update it: set `password` and grant the moderate permission.

    Returns `(user, created)`. Running it again with the same arguments changes nothing but the
    password hash. With `validate`, the password must pass the project's password validators.
    """
    username = (username or "").strip()
    if not username:
        raise DomainError("A moderator needs a username.", code="username")
    if not password:
        raise DomainError("A moderator needs a password.", code="password")
    user_model = get_user_model()
    with transaction.atomic():
        user, created = user_model.objects.get_or_create(username=username)
        if validate:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise DomainError(" ".join(exc.messages), code="password") from None
        user.set_password(password)
        user.is_active = True
        user.save()
        permission = Permission.objects.get(
            content_type__app_label="deliberation", codename="moderate"
        )
        user.user_permissions.add(permission)
    return user, created


# The roles an administrator grants, each one permission of `Deliberation.Meta.permissions`.
ROLES = {
    "moderator": "moderate",
    "researcher": "research",
    "view_all": "view_all",
    "export_identifiers": "export_identifiers",
}


def user_role_set(*, username: str, role: str, granted: bool = True):
    """Grant (or, with `granted=False`, take away) one of `ROLES` from an existing user."""
    if role not in ROLES:
        raise DomainError(f"Unknown role {role!r}: choose one of {', '.join(ROLES)}.", code="role")
    user = get_user_model().objects.filter(username=(username or "").strip()).first()
    if user is None:
        raise DomainError(f"There is no user called {username!r}.", code="username")
    permission = Permission.objects.get(
        content_type__app_label="deliberation", codename=ROLES[role]
    )
    with transaction.atomic():
        if granted:
            user.user_permissions.add(permission)
        else:
            user.user_permissions.remove(permission)
    return user
