"""Which Celery workers are alive: each writes its row every few seconds from its consumer loop
(`deliberation.worker_heartbeat`), so that a worker that stopped consuming stops beating."""

from django.db import models


class WorkerHeartbeat(models.Model):
    name = models.CharField(max_length=200, unique=True)
    hostname = models.CharField(max_length=200, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return f"{self.name} (seen {self.seen_at:%Y-%m-%d %H:%M:%S})"
