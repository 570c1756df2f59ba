"""Fixed-window rate limits on joining and posting, counted in the shared cache (Redis in the
full stack, so the count holds across web processes)."""

import time

from django.core.cache import cache

from deliberation.errors import DomainError


def check_rate(*, scope: str, who: str, per_minute: int) -> None:
    """Raise a 429 DomainError when `who` has done `scope` more than `per_minute` times this minute."""
    if per_minute <= 0:
        return
    key = f"cg:rl:{scope}:{who}:{int(time.time() // 60)}"
    if cache.add(key, 1, timeout=70):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:
            cache.add(key, 1, timeout=70)
            count = 1
    if count > per_minute:
        raise DomainError(
            "Too many requests in a short time; please wait a minute and try again.",
            code="rate_limited",
            status=429,
        )
