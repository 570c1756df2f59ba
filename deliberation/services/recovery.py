"""The recovery sweep (the worker's beat runs it every `RECOVERY_SWEEP_SECONDS`): work a group
waits on that no live task is doing is sent again.

- A mediation whose lease lapsed (its worker died mid-way) or that no worker took within
  `MEDIATION_QUEUE_GRACE_SECONDS` (its message was lost with a restarted Redis, or could not be
  sent) is sent again. A mediation whose worker was lost `MEDIATION_MAX_RESENDS` times fails
  with the reason instead, so one that kills its worker every time does not go round for ever (a
  moderator's Retry starts the count again). An unclaimed one is sent again as often as it takes:
  a second message is harmless (the claim lets one task do the work).
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
from deliberation.services.versions import member_views_changed

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
            was_running = locked.mediation_lease_until is not None
            if was_running and locked.mediation_resends >= settings.MEDIATION_MAX_RESENDS:
                iteration_fail(
                    iteration=locked,
                    reason=(
                        f"The mediation was sent again {locked.mediation_resends} times after "
                        "the worker running it was lost (killed, or past its time limit), and "
                        "never finished. Retry it once the cause is fixed."
                    ),
                )
                counts["failed"] += 1
                continue
            locked.mediation_queued_at = now
            locked.mediation_lease_until = None
            locked.mediation_resends += int(was_running)
            locked.save(
                update_fields=["mediation_queued_at", "mediation_lease_until", "mediation_resends"]
            )
            mediation_enqueue(iteration_id=locked.pk)
            # The waiting page's "taking longer than usual" counts from the new queueing.
            member_views_changed(group_ids=[locked.round.group_id])
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
