"""API tokens for scripts: made and revoked by their owner; only a SHA-256 of the secret is
stored, so the secret is shown once, when it is made."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from deliberation.errors import DomainError
from deliberation.models import ApiToken

SECRET_PREFIX = "cg_"
NAME_MAX = 100
TOKENS_PER_USER_MAX = 20
# last_used_at is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_create(*, user, name: str) -> NewToken:
    """A new token of `user` called `name`; the returned `secret` is never stored."""
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise DomainError("Give the token a name, e.g. the script that will use it.", code="name")
    if len(name) > NAME_MAX:
        raise DomainError(f"Keep the name to {NAME_MAX} characters.", code="name")
    with transaction.atomic():
        live = ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True)
        if len(live) >= TOKENS_PER_USER_MAX:
            raise DomainError(
                f"You have {TOKENS_PER_USER_MAX} tokens already; revoke one you no longer use.",
                code="too_many_tokens",
            )
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken.objects.create(
            user=user, name=name, key_sha256=token_digest(secret), prefix=secret[:10]
        )
    return NewToken(token=token, secret=secret)


def api_token_revoke(*, user, token_id: int) -> ApiToken:
    """Revoke one of `user`'s own tokens; another user's token is as missing as no token."""
    with transaction.atomic():
        token = (
            ApiToken.objects.select_for_update()
            .filter(pk=token_id, user=user, revoked_at__isnull=True)
            .first()
        )
        if token is None:
            raise DomainError("No such token, or it was revoked already.", code="token_missing")
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_authenticate(*, secret: str):
    """The active user a live token belongs to, or None."""
    if not secret or not secret.startswith(SECRET_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_sha256=token_digest(secret), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
