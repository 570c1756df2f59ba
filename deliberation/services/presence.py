"""Who is still here: members who drop out and come back, members who leave on purpose, and the
waiting pool that groups form from.

The rules:

- A member is *absent* when they have not been seen (a page view or poll, `participant_touch`)
  for the deliberation's `dropout_seconds`; a member never seen counts from when they were seated.
- An absent member who has not done what the current phase asks of them (written their opinion
  or critique while collecting; finished rating while rating; `selectors.iterations.members_done`) is marked DROPPED with `left_at`, and the phase is checked again at once, so the others
  go on as soon as every remaining member is done, without waiting for the deadline. Bots never
  drop. The sweep does this mid-phase; a passing deadline does it too, just before the phase is
  forced closed (`iteration_advance_if_overdue` calls `iteration_drop_absent`).
- A dropped member who opens any page while their group is still active becomes ACTIVE again and
  lands where the group is now; what they wrote before stays. A member who *left* on purpose
  (`participant_leave`) does not come back by themselves. The difference lives in AuditLog
  (action "participant_left"), not in the model.
- A group forming in the pool starts when it is full. Once its first waiter has waited
  `pool_wait_seconds`, it starts with whoever is there if that is at least `min_group_size`;
  otherwise everyone who has waited that long is RELEASED (seat given up, `left_at` set) and is
  shown the deliberation's `release_code`.

Every change is a conditional update or runs under the row locks rounds.py and participants.py
already take, in the same order: the iteration before its members (dropping), the deliberation
before its groups and members (the pool). So the beat's sweep, members' polls and workers can
race harmlessly, and each change is recorded once in AuditLog (actor None: the system).
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from deliberation.errors import WrongPhase
from deliberation.models import (
    AuditLog,
    Deliberation,
    Group,
    Iteration,
    Participant,
    Provenance,
    Round,
)
from deliberation.selectors.iterations import members_done, present_members
from deliberation.services.rounds import (
    group_start,
    iteration_close_if_complete,
    iteration_finish_if_rated,
)
from deliberation.services.versions import member_views_changed

logger = logging.getLogger(__name__)

DROPPED = "participant_dropped"
RETURNED = "participant_returned"
LEFT = "participant_left"
RELEASED = "participant_released"
STARTED_SHORT = "group_started_from_pool"

# The phases that ask something of every member; mediating and failed ask nothing.
ASKING = (Iteration.State.COLLECTING, Iteration.State.RATING)


def _unseen_since(cutoff) -> Q:
    return Q(last_seen_at__lt=cutoff) | Q(last_seen_at__isnull=True, grouped_at__lt=cutoff)


def _audit(action: str, target_type: str, target_ids, **data) -> None:
    AuditLog.objects.bulk_create(
        AuditLog(action=action, target_type=target_type, target_id=pk, data=data)
        for pk in target_ids
    )


def _groups_past(now, *, setting: str, group_status: str, members) -> set[int]:
    """The ids of the groups in `group_status` with a member that `members(cutoff)` finds, the
    cutoff being `now` less their deliberation's `setting` (a number of seconds). One query per
    value of the setting in use, so the database compares plain timestamps."""
    group_ids: set[int] = set()
    seconds_in_use = (
        Deliberation.objects.filter(groups__status=group_status)
        .order_by()
        .values_list(setting, flat=True)
        .distinct()
    )
    for seconds in seconds_in_use:
        group_ids.update(
            members(now - timedelta(seconds=seconds))
            .filter(group__status=group_status, **{f"deliberation__{setting}": seconds})
            .order_by()
            .values_list("group_id", flat=True)
            .distinct()
        )
    return group_ids


def current_phase(group_id: int) -> Iteration | None:
    """The group's iteration that is collecting or rating now, if any."""
    return (
        Iteration.objects.filter(
            round__group_id=group_id, round__status=Round.Status.ACTIVE, state__in=ASKING
        )
        .order_by("-round__position", "-index")
        .first()
    )


def _phase_recheck(iteration: Iteration) -> None:
    """Move the phase on if every member still present is now done (never forced)."""
    if iteration.state == Iteration.State.COLLECTING:
        iteration_close_if_complete(iteration=iteration)
    elif iteration.state == Iteration.State.RATING:
        iteration_finish_if_rated(iteration=iteration)


def iteration_drop_absent(*, iteration: Iteration, now=None) -> list[int]:
    """Mark DROPPED the members of the iteration's group who are absent and have not done what
    its phase asks, then let the phase move on if everyone left is done. Returns their ids.

    Idempotent and safe to race: it holds the iteration's row lock (as rounds.py does for every
    transition), and a member seen or done meanwhile is not touched.
    """
    now = now or timezone.now()
    with transaction.atomic():
        iteration = (
            Iteration.objects.select_for_update()
            .select_related("round__group__deliberation")
            .get(pk=iteration.pk)
        )
        group = iteration.round.group
        if iteration.state not in ASKING or group.status != Group.Status.ACTIVE:
            return []
        cutoff = now - timedelta(seconds=group.deliberation.dropout_seconds)
        present = list(present_members(group).values_list("pk", flat=True))
        done = members_done(iteration, present)
        dropped = list(
            Participant.objects.select_for_update(no_key=True)
            .filter(
                pk__in=[pk for pk in present if pk not in done], status=Participant.Status.ACTIVE
            )
            .exclude(provenance=Provenance.BOT_CITIZEN)
            .filter(_unseen_since(cutoff))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not dropped:
            return []
        Participant.objects.filter(pk__in=dropped).update(
            status=Participant.Status.DROPPED, left_at=now
        )
        _audit(
            DROPPED,
            "participant",
            dropped,
            group=group.pk,
            iteration=iteration.pk,
            state=iteration.state,
            dropout_seconds=group.deliberation.dropout_seconds,
        )
        logger.info("group %s: %d member(s) dropped out", group.pk, len(dropped))
        member_views_changed(group_ids=[group.pk])
        _phase_recheck(iteration)
        return dropped


def participants_drop_absent(*, now=None) -> int:
    """The sweep's dropout pass over every active group; returns how many members it dropped."""
    now = now or timezone.now()
    group_ids = _groups_past(
        now,
        setting="dropout_seconds",
        group_status=Group.Status.ACTIVE,
        members=lambda cutoff: (
            Participant.objects.filter(status=Participant.Status.ACTIVE)
            .exclude(provenance=Provenance.BOT_CITIZEN)
            .filter(_unseen_since(cutoff))
        ),
    )
    dropped = 0
    for group_id in sorted(group_ids):
        iteration = current_phase(group_id)
        if iteration is not None:
            dropped += len(iteration_drop_absent(iteration=iteration, now=now))
    return dropped


def participant_has_left(participant: Participant) -> bool:
    """Whether the participant left on purpose (as opposed to dropping out by going silent)."""
    return AuditLog.objects.filter(
        action=LEFT, target_type="participant", target_id=participant.pk
    ).exists()


def participant_return(*, participant: Participant, now=None) -> bool:
    """A dropped member is back (any page view or poll): make them ACTIVE again if their group is
    still active and they did not leave on purpose. Returns True when they came back.

    `participant` is updated in place, so the step computed next is the group's current one. The
    update is conditional on the row still being as read (DROPPED, the same `left_at`), so a
    `participant_leave` that wins a race is never undone.
    """
    if participant.status != Participant.Status.DROPPED or participant.group_id is None:
        return False
    if not Group.objects.filter(pk=participant.group_id, status=Group.Status.ACTIVE).exists():
        return False
    if participant_has_left(participant):
        return False
    now = now or timezone.now()
    with transaction.atomic():
        returned = Participant.objects.filter(
            pk=participant.pk, status=Participant.Status.DROPPED, left_at=participant.left_at
        ).update(status=Participant.Status.ACTIVE, left_at=None, last_seen_at=now)
        if not returned:
            return False
        iteration = current_phase(participant.group_id)
        _audit(
            RETURNED,
            "participant",
            [participant.pk],
            group=participant.group_id,
            iteration=iteration.pk if iteration else None,
            away_seconds=round((now - participant.left_at).total_seconds())
            if participant.left_at
            else None,
        )
        member_views_changed(group_ids=[participant.group_id], participant_ids=[participant.pk])
    participant.status = Participant.Status.ACTIVE
    participant.left_at = None
    participant.last_seen_at = now
    return True


def participant_leave(*, participant: Participant, now=None) -> Participant:
    """The participant leaves the study on purpose. Their answers stay; they are DROPPED with
    `left_at`, recorded as "participant_left", and never come back by themselves. A member of a
    running group frees the group to go on; someone waiting in the pool gives up their seat.

    Leaving twice returns the participant unchanged (one record). Leaving after finishing or
    after being released from the pool is refused: there is nothing left to leave.
    """
    now = now or timezone.now()
    waiting_in = (
        Participant.objects.filter(pk=participant.pk, status=Participant.Status.WAITING)
        .values_list("group_id", flat=True)
        .first()
    )
    with transaction.atomic():
        if waiting_in is not None:
            # Seats are handed out under the forming group's lock (participant_assign_group).
            Group.objects.select_for_update().filter(pk=waiting_in).first()
        locked = Participant.objects.select_for_update(no_key=True).get(pk=participant.pk)
        if participant_has_left(locked):
            participant.refresh_from_db()
            return participant
        if locked.status == Participant.Status.COMPLETED:
            raise WrongPhase(
                gettext("You have already finished this study; there is nothing to leave."),
                code="already_completed",
            )
        if locked.status == Participant.Status.RELEASED:
            raise WrongPhase(
                gettext(
                    "You were already released from the waiting pool; there is nothing to leave."
                ),
                code="released",
            )
        was, group_id = locked.status, locked.group_id
        locked.status = Participant.Status.DROPPED
        locked.left_at = now
        fields = ["status", "left_at"]
        if was in (Participant.Status.JOINED, Participant.Status.WAITING):
            locked.group, locked.seat = None, None
            fields += ["group", "seat"]
        locked.save(update_fields=fields)
        _audit(LEFT, "participant", [locked.pk], previous_status=was, group=group_id)
        member_views_changed(group_ids=[group_id], participant_ids=[locked.pk])
    if was == Participant.Status.ACTIVE and group_id is not None:
        iteration = current_phase(group_id)
        if iteration is not None:
            _phase_recheck(iteration)
    participant.refresh_from_db()
    return participant


def group_form_if_waited(*, group: Group, now=None) -> str:
    """Resolve a forming group whose first waiter has waited the deliberation's
    `pool_wait_seconds`: start it with who is there when that is at least `min_group_size`
    ("started"), else release everyone who waited that long ("released"). "" when it is not time
    yet or the group is no longer forming. Runs under the group's lock, as seating does."""
    now = now or timezone.now()
    with transaction.atomic():
        deliberation = Deliberation.objects.select_for_update().get(pk=group.deliberation_id)
        # Seating holds the group's lock (participant_assign_group); wait for it.
        group = Group.objects.select_for_update().get(pk=group.pk)
        if group.status != Group.Status.FORMING:
            return ""
        cutoff = now - timedelta(seconds=deliberation.pool_wait_seconds)
        waiting = list(
            group.members.filter(status=Participant.Status.WAITING).order_by("grouped_at", "pk")
        )
        overdue = [p.pk for p in waiting if p.grouped_at is not None and p.grouped_at <= cutoff]
        if not overdue:
            return ""
        # Waiters whose page has not polled for `dropout_seconds` have closed it: they do not
        # count towards the minimum, and a group that starts without them releases them.
        seen_after = now - timedelta(seconds=deliberation.dropout_seconds)
        gone = [
            p.pk
            for p in waiting
            if not p.is_bot and p.last_seen_at is not None and p.last_seen_at < seen_after
        ]
        if len(waiting) - len(gone) >= deliberation.min_group_size:
            if gone:
                Participant.objects.filter(pk__in=gone).update(
                    status=Participant.Status.RELEASED, left_at=now, group=None, seat=None
                )
                _audit(RELEASED, "participant", gone, group=group.pk, reason="not seen")
            waiting = [p for p in waiting if p.pk not in gone]
            group_start(group=group)
            _audit(
                STARTED_SHORT,
                "group",
                [group.pk],
                members=len(waiting),
                group_size=deliberation.group_size,
                pool_wait_seconds=deliberation.pool_wait_seconds,
            )
            logger.info("group %s started from the pool with %d member(s)", group.pk, len(waiting))
            return "started"
        Participant.objects.filter(
            pk__in=overdue, status=Participant.Status.WAITING, group_id=group.pk
        ).update(status=Participant.Status.RELEASED, left_at=now, group=None, seat=None)
        _audit(
            RELEASED,
            "participant",
            overdue,
            group=group.pk,
            waiting=len(waiting),
            min_group_size=deliberation.min_group_size,
            pool_wait_seconds=deliberation.pool_wait_seconds,
        )
        member_views_changed(group_ids=[group.pk], participant_ids=overdue)
        logger.info("group %s: %d waiter(s) released from the pool", group.pk, len(overdue))
        return "released"


def pools_resolve_overdue(*, now=None) -> dict[str, int]:
    """The sweep's pool pass: every forming group with a waiter who has waited too long.
    Returns how many such groups started and how many released their waiters (groups, not
    people; the audit log has a row per person released)."""
    now = now or timezone.now()
    counts = {"started": 0, "released": 0}
    group_ids = _groups_past(
        now,
        setting="pool_wait_seconds",
        group_status=Group.Status.FORMING,
        members=lambda cutoff: Participant.objects.filter(
            status=Participant.Status.WAITING, grouped_at__lte=cutoff
        ),
    )
    for group in Group.objects.filter(pk__in=group_ids).order_by("pk"):
        outcome = group_form_if_waited(group=group, now=now)
        if outcome:
            counts[outcome] += 1
    return counts


def participant_presence_check(*, participant: Participant, now=None) -> None:
    """The page-view hook, before the step is computed: a dropped member comes back, and a
    waiter's forming group is resolved if its first waiter has waited too long (so the pool works
    without a beat, in the embedded default). `participant` is updated in place. No query for an
    active member; one cheap one for a waiter."""
    if participant.status == Participant.Status.DROPPED:
        participant_return(participant=participant, now=now)
        return
    if participant.status != Participant.Status.WAITING or participant.group_id is None:
        return
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=participant.deliberation.pool_wait_seconds)
    overdue = Participant.objects.filter(
        group_id=participant.group_id, status=Participant.Status.WAITING, grouped_at__lte=cutoff
    ).exists()
    if overdue and group_form_if_waited(group=participant.group, now=now):
        participant.refresh_from_db(fields=["status", "group", "seat", "left_at"])


def presence_sweep(*, now=None) -> dict[str, int]:
    """The periodic pass: drop absent members (their groups go on), resolve overdue pools.
    Returns the members dropped, and the groups started or released (`pools_resolve_overdue`)."""
    now = now or timezone.now()
    return {"dropped": participants_drop_absent(now=now), **pools_resolve_overdue(now=now)}
