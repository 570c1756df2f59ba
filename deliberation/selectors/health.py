"""What `/healthz/` and the moderator pages tell about the platform's own parts: the database,
the broker, the cache, and which workers are alive (seen within three heartbeats)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from config import celery_app
from deliberation.models import WorkerHeartbeat

BROKER_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class WorkerStatus:
    alive: list[str]
    last_seen: datetime | None

    @property
    def any_alive(self) -> bool:
        return bool(self.alive)


@dataclass(frozen=True)
class Health:
    database: str
    broker: str
    cache: str
    workers: WorkerStatus | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Pages and the queue work: the database and the broker answer (a cache outage and
        missing workers are reported, and do not make the web tier unhealthy)."""
        return self.database == "ok" and self.broker == "ok"

    def as_dict(self) -> dict:
        workers = None
        if self.workers is not None:
            workers = {
                "alive": len(self.workers.alive),
                "names": self.workers.alive,
                "last_seen": self.workers.last_seen.isoformat() if self.workers.last_seen else None,
            }
        return {
            "ok": self.ok,
            "database": self.database,
            "broker": self.broker,
            "cache": self.cache,
            "workers": workers,
        }


def worker_status(now: datetime | None = None) -> WorkerStatus:
    now = now or timezone.now()
    since = now - timedelta(seconds=3 * settings.WORKER_HEARTBEAT_SECONDS)
    beats = list(WorkerHeartbeat.objects.values_list("name", "seen_at"))
    return WorkerStatus(
        alive=sorted(name for name, seen in beats if seen >= since),
        last_seen=max((seen for _, seen in beats), default=None),
    )


def health_check() -> Health:
    database = _probe(_ping_database)
    workers = worker_status() if database == "ok" else None
    return Health(
        database=database, broker=_probe(_ping_broker), cache=_probe(_ping_cache), workers=workers
    )


def _probe(ping) -> str:
    try:
        ping()
    except Exception as exc:  # noqa: BLE001 - any failure is the answer, reported by name
        return f"down: {type(exc).__name__}: {str(exc)[:200]}"
    return "ok"


def _ping_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _ping_broker() -> None:
    if celery_app.conf.task_always_eager:
        return  # the embedded default runs tasks in-process: there is no broker to reach
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_S)
        client = getattr(conn.default_channel, "client", None)  # Redis: ask it, not the pool
        if client is not None:
            client.ping()


def _ping_cache() -> None:
    ping = getattr(cache, "ping", None)
    if ping is not None:
        ping()
