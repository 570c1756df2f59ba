"""Fixed-window rate limits on joining and posting, counted in the shared cache (Redis in the
full stack, so the count holds across web processes), and the client address they count by.

The limits fail open: the cache (`config.cache.FailOpenRedisCache`) forgets while Redis is
away, so every request is admitted then, and the outage is logged there. Turning people away
because a counter cannot be read would lose what they came to send.
"""

import ipaddress

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext

from deliberation.errors import DomainError

WINDOW_SECONDS = 60


def client_address(request: HttpRequest) -> str:
    """The client's IP address ("" when unknown): with `TRUSTED_PROXY_COUNT` = n > 0 proxies in
    front, the n-th entry from the end of X-Forwarded-For (what the outermost trusted proxy saw;
    anything further left was written by the client and is not trusted); otherwise, or when the
    header is too short or not an address, REMOTE_ADDR. Also what django-axes counts failed
    logins by."""
    remote = request.META.get("REMOTE_ADDR") or ""
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [p for p in forwarded if p]
    if len(forwarded) < count:
        return remote
    try:
        return str(ipaddress.ip_address(forwarded[-count]))
    except ValueError:
        return remote


def check_rate(*, scope: str, who: str, per_minute: int) -> None:
    """Raise a 429 DomainError when `who` has done `scope` more than `per_minute` times in the
    minute since the first time they did it (a window that opens with the first request and
    closes 60 s later; the counter's expiry in the cache ends it)."""
    if per_minute <= 0:
        return
    key = f"cg:rl:{scope}:{who}"
    count = 1
    if not cache.add(key, 1, timeout=WINDOW_SECONDS):
        try:
            count = cache.incr(key)  # keeps the window's expiry
        except ValueError:  # the window closed between the two calls: a new one opens
            cache.add(key, 1, timeout=WINDOW_SECONDS)
    if count > per_minute:
        raise DomainError(
            gettext("Too many requests in a short time; please wait a minute and try again."),
            code="rate_limited",
            status=429,
        )
