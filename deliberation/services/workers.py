"""Worker heartbeats: each Celery worker records that it is alive (and consuming) every
`WORKER_HEARTBEAT_SECONDS`, from its consumer loop (`deliberation.worker_steps`)."""

from datetime import datetime

from django.utils import timezone

from deliberation.models import WorkerHeartbeat


def worker_beat(*, name: str, hostname: str, pid: int, started_at: datetime) -> None:
    WorkerHeartbeat.objects.update_or_create(
        name=name[:200],
        defaults={
            "hostname": hostname[:200],
            "pid": pid,
            "started_at": started_at,
            "seen_at": timezone.now(),
        },
    )


def worker_gone(*, name: str) -> None:
    """A worker that shuts down cleanly says so, rather than being presumed dead later."""
    WorkerHeartbeat.objects.filter(name=name[:200]).delete()
