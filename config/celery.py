"""The Celery app. Workers start with `celery -A config worker`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("commonground")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Named, not imported: the worker loads it once Django is set up (it records heartbeats).
app.steps["consumer"].add("deliberation.worker_steps:WorkerHeartbeatStep")
