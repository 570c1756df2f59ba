"""A bootstep of the Celery worker's consumer that records the worker's heartbeat (another
interface onto the services, like `tasks`). It runs on the consumer's own timer, so a worker
whose consumer hangs (or lost its broker) stops beating and shows as not alive."""

import logging
import os
import socket

from celery import bootsteps
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from deliberation.services.workers import worker_beat, worker_gone

logger = logging.getLogger(__name__)


class WorkerHeartbeatStep(bootsteps.StartStopStep):
    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.timer_entry = None
        self.started_at = timezone.now()

    def start(self, parent) -> None:
        self.beat(parent)
        self.timer_entry = parent.timer.call_repeatedly(
            settings.WORKER_HEARTBEAT_SECONDS, self.beat, (parent,), priority=10
        )

    def stop(self, parent) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    def shutdown(self, parent) -> None:
        self.stop(parent)
        try:
            close_old_connections()
            worker_gone(name=parent.hostname)
        except Exception:  # noqa: BLE001 - the database may be the reason for the shutdown
            logger.warning("could not remove the heartbeat of %s", parent.hostname, exc_info=True)

    def beat(self, parent) -> None:
        try:
            close_old_connections()
            worker_beat(
                name=parent.hostname,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                started_at=self.started_at,
            )
        except Exception as exc:  # noqa: BLE001 - a missed beat must not stop the consumer
            logger.warning("worker heartbeat not recorded: %s: %s", type(exc).__name__, exc)
