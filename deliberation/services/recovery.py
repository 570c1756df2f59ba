"""The recovery sweep (the worker's beat runs it every `RECOVERY_SWEEP_SECONDS`): work a group
waits on that no live task is doing is sent again.

- A mediation whose lease lapsed (its worker died mid-way) or that no worker took within
  `MEDIATION_QUEUE_GRACE_SECONDS` (its message was lost with a restarted Redis, or could not be
  sent) is sent again; once it has been sent again `MEDIATION_MAX_RESENDS` times it fails with
  the reason instead, so a mediation that kills its worker every time does not go round for ever
  (a moderator's Retry starts the count again).
- Bots that owe an answer in a phase that has waited longer than the grace time are told to act
  again (their task is idempotent: a bot does only what its step asks).

Deadlines and presence have sweeps of their own, which run whatever was lost.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from deliberation.models import Group, Iteration, Participant, Provenance
from deliberation.selectors.iterations import mediations_to_recover
from deliberation.selectors.participant import ANSWER_STEPS, participant_step
from deliberation.services.enqueue import bots_enqueue, mediation_enqueue
from deliberation.services.rounds import iteration_fail

logger = logging.getLogger(__name__)


def mediations_recover(*, now=None) -> dict[str, int]:
    """Send again (or fail, past the attempt limit) every stuck or unclaimed mediation; counts."""
    now = now or timezone.now()
    counts = {"resent": 0, "failed": 0}
    for iteration in mediations_to_recover(now):
        with transaction.atomic():
            locked = (
                mediations_to_recover(now)
                .select_for_update(skip_locked=True, of=("self",))
                .filter(pk=iteration.pk)
                .first()
            )
            if locked is None:
                continue  # taken, finished or recovered meanwhile
            if locked.mediation_resends >= settings.MEDIATION_MAX_RESENDS:
                iteration_fail(
                    iteration=locked,
                    reason=(
                        f"The mediation was sent again {locked.mediation_resends} times and never "
                        "finished (its worker was lost each time, it ran past its time limit, or "
                        "no worker took it). Retry it once a worker is running."
                    ),
                )
                counts["failed"] += 1
                continue
            was_running = locked.mediation_lease_until is not None
            locked.mediation_queued_at = now
            locked.mediation_lease_until = None
            locked.mediation_resends += 1
            locked.save(
                update_fields=["mediation_queued_at", "mediation_lease_until", "mediation_resends"]
            )
            mediation_enqueue(iteration_id=locked.pk)
            counts["resent"] += 1
            logger.warning(
                "recovery: iteration %s sent again (%s)",
                locked.pk,
                "its worker stopped renewing the lease" if was_running else "no worker took it",
            )
    return counts


def bots_recover(*, now=None) -> int:
    """Tell the bots of groups whose phase has waited past the grace time, and who still owe an
    answer in it, to act; the number of groups."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.MEDIATION_QUEUE_GRACE_SECONDS)
    groups = Group.objects.filter(
        status=Group.Status.ACTIVE,
        rounds__iterations__state__in=[Iteration.State.COLLECTING, Iteration.State.RATING],
        rounds__iterations__updated_at__lt=stale,
        members__provenance=Provenance.BOT_CITIZEN,
        members__status=Participant.Status.ACTIVE,
    ).distinct()
    sent = 0
    for group in groups:
        bots = group.members.filter(
            provenance=Provenance.BOT_CITIZEN, status=Participant.Status.ACTIVE
        )
        if any(participant_step(bot).kind in ANSWER_STEPS for bot in bots):
            bots_enqueue(group=group)
            sent += 1
    return sent


def work_recover(*, now=None) -> dict[str, int]:
    """The whole sweep; counts of what it did."""
    now = now or timezone.now()
    counts = mediations_recover(now=now)
    counts["bot_groups"] = bots_recover(now=now)
    return counts
