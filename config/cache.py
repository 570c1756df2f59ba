"""A Redis cache that fails open: while Redis cannot be reached, reads miss and writes are
dropped, so that nothing a page does depends on Redis being up. Each outage is logged (once a
minute at most), never raised to the page.

What uses the cache must be correct with a cache that forgets: rate limits then admit everyone
(`deliberation.ratelimit`), and the create page's once-only guard lets a repeat through to the
database's own checks.
"""

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

WARN_EVERY_S = 60.0


class ReusedClientRedisCacheClient(RedisCacheClient):
    """Django's Redis cache client, keeping one `redis.Redis` per connection pool: Django's makes
    a new one for every cache call, about 0.05-0.1 ms of CPU each here, a tenth of the waiting
    page's unchanged poll (one cache read). A client over a shared pool is thread-safe."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class FailOpenRedisCache(RedisCache):
    # When the last outage warning was logged (monotonic seconds; shared by every instance).
    warned_at = float("-inf")

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient

    def _failed(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - FailOpenRedisCache.warned_at >= WARN_EVERY_S:
            FailOpenRedisCache.warned_at = now
            logger.warning(
                "cache unavailable (%s: %s: %s); carrying on without it",
                operation,
                type(exc).__name__,
                exc,
            )

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().add(key, value, timeout, version)
        except RedisError as exc:
            self._failed("add", exc)
            return True

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except RedisError as exc:
            self._failed("get", exc)
            return default

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            super().set(key, value, timeout, version)
        except RedisError as exc:
            self._failed("set", exc)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().touch(key, timeout, version)
        except RedisError as exc:
            self._failed("touch", exc)
            return False

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except RedisError as exc:
            self._failed("delete", exc)
            return False

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except RedisError as exc:
            self._failed("get_many", exc)
            return {}

    def has_key(self, key, version=None):
        try:
            return super().has_key(key, version)
        except RedisError as exc:
            self._failed("has_key", exc)
            return False

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except RedisError as exc:
            self._failed("incr", exc)
            return delta

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set_many(data, timeout, version)
        except RedisError as exc:
            self._failed("set_many", exc)
            return list(data)

    def delete_many(self, keys, version=None):
        try:
            return super().delete_many(keys, version)
        except RedisError as exc:
            self._failed("delete_many", exc)
            return False

    def clear(self):
        try:
            return super().clear()
        except RedisError as exc:
            self._failed("clear", exc)
            return False

    def ping(self) -> None:
        """Raise unless Redis answers (for /healthz/)."""
        self._cache.get_client(write=True).ping()
