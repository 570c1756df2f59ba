"""Celery tasks: another interface onto the services. They take ids, load rows, call one service,
and are safe to run twice."""

import logging
import time

from celery import shared_task
from celery.signals import worker_init, worker_process_init
from django.conf import settings
from django.db import close_old_connections

from deliberation import mediator
from deliberation.models import Group
from deliberation.services.bots import bots_act as bots_act_service
from deliberation.services.deadlines import iterations_advance_overdue
from deliberation.services.enqueue import BOTS_ACT, MEDIATE_ITERATION, RUN_EXPORT_JOB
from deliberation.services.export_jobs import export_job_run, export_jobs_sweep_expired
from deliberation.services.housekeeping import sessions_clear_expired
from deliberation.services.mediation import iteration_mediate
from deliberation.services.presence import presence_sweep
from deliberation.services.recovery import work_recover
from inference.runtime import torch_threads_set

logger = logging.getLogger(__name__)


def worker_process_setup() -> None:
    """Fit this worker process to the box: torch's threads (`TORCH_THREADS`), then, with
    `MEDIATION_PRELOAD`, the server's mediation backends built before the first task. A backend
    that cannot be built is logged, not fatal: the mediations that need it fail with the reason."""
    threads = torch_threads_set(settings.TORCH_THREADS)
    if not settings.MEDIATION_PRELOAD:
        logger.info("mediation models not preloaded (MEDIATION_PRELOAD=0)")
        return
    started = time.monotonic()
    try:
        close_old_connections()
        generator, reward_model = mediator.backends_preload()
    except Exception as exc:  # noqa: BLE001 - the worker still serves everything else
        logger.warning("mediation models not preloaded: %s: %s", type(exc).__name__, exc)
        return
    finally:
        close_old_connections()
    threads = torch_threads_set(settings.TORCH_THREADS) or threads
    logger.info(
        "mediation models preloaded in %.1f s: generator %s, reward model %s, torch threads %s",
        time.monotonic() - started,
        generator.describe().get("backend", type(generator).__name__),
        reward_model.describe().get("backend", type(reward_model).__name__),
        threads if threads is not None else "not loaded",
    )


@worker_process_init.connect
def _on_worker_process_init(**_kwargs) -> None:
    # Sent in each prefork child after the fork, and once by the solo pool.
    worker_process_setup()


@worker_init.connect
def _on_worker_init(sender=None, **_kwargs) -> None:
    # The thread pools (threads, eventlet, gevent) send no process-init signal: set up here.
    pool = str(getattr(sender, "pool_cls", "prefork")).lower()
    if not any(name in pool for name in ("prefork", "solo", "processes")):
        worker_process_setup()


@shared_task(
    name=MEDIATE_ITERATION,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=settings.MEDIATION_TIME_LIMIT,
    soft_time_limit=settings.MEDIATION_SOFT_TIME_LIMIT,
)
def mediate_iteration(iteration_id: int) -> int | None:
    """Mediate an iteration; returns the candidate set id (None when nothing was stored).

    A message redelivered after its worker was killed finds the lease of the dead task and does
    nothing; the recovery sweep sends the mediation again once that lease has lapsed."""
    candidate_set = iteration_mediate(iteration_id=iteration_id)
    return candidate_set.pk if candidate_set else None


@shared_task(name=BOTS_ACT, acks_late=True, reject_on_worker_lost=True)
def bots_act(group_id: int) -> int:
    group = Group.objects.filter(pk=group_id).first()
    return bots_act_service(group=group) if group else 0


@shared_task
def advance_overdue_iterations() -> int:
    moved = iterations_advance_overdue()
    if moved:
        logger.info("deadline sweep moved %d iteration(s) on", moved)
    return moved


@shared_task
def recover_work() -> dict[str, int]:
    """Send again the mediations no live task is doing, and nudge bots that owe an answer."""
    counts = work_recover()
    if any(counts.values()):
        logger.info("recovery sweep: %s", counts)
    return counts


@shared_task
def sweep_presence() -> dict[str, int]:
    """Drop members gone silent mid-phase (their groups go on) and resolve waiting pools that have
    waited too long; counts of what it did. Safe to run twice or in parallel."""
    counts = presence_sweep()
    if any(counts.values()):
        logger.info("presence sweep: %s", counts)
    return counts


@shared_task(name=RUN_EXPORT_JOB, acks_late=True)
def run_export_job(job_id: int) -> str | None:
    """Run an export job; its status at the end (None when it was not queued: a repeat)."""
    job = export_job_run(job_id=job_id)
    return job.status if job else None


@shared_task
def sweep_expired_exports() -> int:
    deleted = export_jobs_sweep_expired()
    if deleted:
        logger.info("export sweep deleted %d expired file(s)", deleted)
    return deleted


@shared_task
def clear_expired_sessions() -> int:
    deleted = sessions_clear_expired()
    if deleted:
        logger.info("deleted %d expired session(s)", deleted)
    return deleted
