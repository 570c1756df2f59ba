"""A mediation's claim is a lease: the task that takes the work holds it until `lease_until`, and
renews it while it runs (a thread beside the work, every third of the lease); a task that died
(a killed process or worker) stops renewing, the lease lapses, and the recovery sweep sends the
mediation again. A redelivered message that finds a live lease does nothing.

The claim's token is the `mediation_started_at` it wrote: only the holder renews, and only the
holder stores (`holds_claim`), so a task presumed dead that comes back cannot store a second time.
The one-candidate-set-per-iteration constraint stays the last line of defence.
"""

import logging
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from deliberation.models import Iteration

logger = logging.getLogger(__name__)


def lease_length() -> timedelta:
    return timedelta(seconds=settings.MEDIATION_LEASE_SECONDS)


def mediation_claim(*, iteration_id: int) -> datetime | None:
    """Take the mediation of a `mediating` iteration that has no candidates and no live lease;
    the claim's token (its start time), or None when it is not to be taken."""
    now = timezone.now()
    claimed = (
        Iteration.objects.filter(
            pk=iteration_id, state=Iteration.State.MEDIATING, candidate_set__isnull=True
        )
        .filter(Q(mediation_lease_until__isnull=True) | Q(mediation_lease_until__lt=now))
        .update(
            mediation_started_at=now,
            mediation_lease_until=now + lease_length(),
            mediation_attempts=F("mediation_attempts") + 1,
            updated_at=now,
        )
    )
    return now if claimed == 1 else None


def mediation_lease_renew(*, iteration_id: int, claimed_at: datetime) -> bool:
    """Extend the holder's lease; False when the claim is no longer theirs (or the iteration
    moved on)."""
    return (
        Iteration.objects.filter(
            pk=iteration_id, state=Iteration.State.MEDIATING, mediation_started_at=claimed_at
        ).update(mediation_lease_until=timezone.now() + lease_length())
        == 1
    )


def holds_claim(iteration: Iteration, claimed_at: datetime) -> bool:
    """The (locked, fresh) iteration is still mediating under this claim."""
    return (
        iteration.state == Iteration.State.MEDIATING
        and iteration.mediation_started_at == claimed_at
    )


class LeaseKept:
    """`with LeaseKept(iteration_id=..., claimed_at=...):` renews the lease in a thread until the
    block ends."""

    def __init__(self, *, iteration_id: int, claimed_at: datetime):
        self.iteration_id = iteration_id
        self.claimed_at = claimed_at
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{iteration_id}", daemon=True)

    def __enter__(self) -> "LeaseKept":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        interval = max(0.5, settings.MEDIATION_LEASE_SECONDS / 3)
        try:
            while not self._stop.wait(interval):
                try:
                    if not mediation_lease_renew(
                        iteration_id=self.iteration_id, claimed_at=self.claimed_at
                    ):
                        return  # no longer ours: nothing left to keep
                except Exception as exc:  # noqa: BLE001 - keep trying; the lease may lapse
                    logger.warning(
                        "lease of iteration %s not renewed: %s: %s",
                        self.iteration_id,
                        type(exc).__name__,
                        exc,
                    )
                    connection.close()
        finally:
            connection.close()  # this thread's own connection
