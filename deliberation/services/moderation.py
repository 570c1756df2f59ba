"""What a moderator does to a running group: hide or show a member's text, retry a failed
mediation, extend a phase's deadline, end the group.

Every action runs in one transaction under a row lock, refuses with a clear `DomainError` when it
does not apply (changing nothing), and writes one `AuditLog` row with the reason and the state
before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from deliberation.errors import DomainError, WrongPhase
from deliberation.models import (
    AuditLog,
    CandidateSet,
    Critique,
    Group,
    Iteration,
    Opinion,
    Participant,
    Round,
)
from deliberation.selectors.iterations import MediationStanding, mediation_standing
from deliberation.services.enqueue import mediation_enqueue
from deliberation.services.mediation import mediation_inputs
from deliberation.services.versions import member_views_changed

REASON_MAX = 500
EXTEND_MIN_SECONDS = 60
EXTEND_MAX_SECONDS = 24 * 60 * 60

OPEN_STATES = (Iteration.State.COLLECTING, Iteration.State.MEDIATING, Iteration.State.RATING)
TEXT_MODELS = {"opinion": Opinion, "critique": Critique}

MemberTextRow = Opinion | Critique


def clean_reason(reason, *, required: bool = True) -> str:
    """A moderator's reason: trimmed, 1 to 500 characters (0 to 500 when not `required`)."""
    if reason is None and not required:
        return ""
    if not isinstance(reason, str):
        raise DomainError("The reason must be text.", code="reason_invalid")
    reason = reason.replace("\r\n", "\n").strip()
    if required and not reason:
        raise DomainError("Please give a reason; it is kept in the audit log.", code="reason_empty")
    if len(reason) > REASON_MAX:
        raise DomainError(
            f"The reason is {len(reason):,} characters long; please keep it to {REASON_MAX}.",
            code="reason_too_long",
        )
    if "\x00" in reason:
        raise DomainError(
            "The reason contains a character that cannot be stored.", code="reason_invalid"
        )
    return reason


def _user(actor):
    """The moderator to record, or None for an anonymous or missing actor (the system)."""
    return actor if actor is not None and actor.is_authenticated else None


def _audit(*, actor, action: str, target, reason: str = "", data: dict) -> AuditLog:
    return AuditLog.objects.create(
        actor=_user(actor),
        action=action,
        target_type=target._meta.model_name,
        target_id=target.pk,
        reason=reason,
        data=data,
    )


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _kind(text: MemberTextRow) -> str:
    for kind, model in TEXT_MODELS.items():
        if isinstance(text, model):
            return kind
    raise DomainError("Only opinions and critiques can be hidden.", code="not_a_member_text")


def _locked_text(text: MemberTextRow) -> tuple[str, MemberTextRow]:
    kind = _kind(text)
    locked = (
        TEXT_MODELS[kind]
        .objects.select_for_update(of=("self",))
        .select_related("iteration__round", "participant")
        .get(pk=text.pk)
    )
    return kind, locked


def _text_save_hidden(
    text: MemberTextRow, *, actor, action: str, reason: str, mediation: str, before, after
) -> None:
    """Save the text's hidden fields and write its audit row (hide and show alike)."""
    text.save(update_fields=["hidden", "hidden_reason", "hidden_at", "hidden_by"])
    member_views_changed(group_ids=[text.iteration.round.group_id])
    _audit(
        actor=actor,
        action=action,
        target=text,
        reason=reason,
        data={
            "group_id": text.iteration.round.group_id,
            "iteration_id": text.iteration_id,
            "participant_id": text.participant_id,
            "seat": text.participant.seat,
            "mediation": mediation,
            "before": before,
            "after": after,
        },
    )


@dataclass(frozen=True)
class HideOutcome:
    """The hidden text and how far its iteration's mediation had gone.

    `mediation` is "not_yet" (the mediation will leave the text out), "running" (it may already
    have read it) or "done" (the statements already made used it and are not redone; later
    mediations of the round leave it out).
    """

    text: MemberTextRow
    mediation: str


def _mediation_progress(iteration: Iteration) -> str:
    if CandidateSet.objects.filter(iteration_id=iteration.pk).exists():
        return "done"
    if iteration.state == Iteration.State.MEDIATING:
        return "running"
    return "not_yet"


def member_text_hide(*, text: MemberTextRow, actor, reason) -> HideOutcome:
    """Hide an opinion or critique with a reason (1-500 characters).

    A mediation that has not claimed the iteration yet leaves hidden text out
    (`mediation_inputs`); a hidden opinion also drops out of the round's later critique
    iterations. Hiding a text that has already been mediated is allowed and recorded; the
    statements made from it stay as they are. Hiding twice is refused.
    """
    reason = clean_reason(reason)
    with transaction.atomic():
        kind, text = _locked_text(text)
        if text.hidden:
            raise WrongPhase(f"This {kind} is already hidden.", code="already_hidden")
        mediation = _mediation_progress(text.iteration)
        text.hidden = True
        text.hidden_reason = reason
        text.hidden_at = timezone.now()
        text.hidden_by = _user(actor)
        _text_save_hidden(
            text,
            actor=actor,
            action="text_hide",
            reason=reason,
            mediation=mediation,
            before={"hidden": False},
            after={"hidden": True, "hidden_at": _iso(text.hidden_at)},
        )
    return HideOutcome(text=text, mediation=mediation)


def member_text_unhide(*, text: MemberTextRow, actor, reason="") -> MemberTextRow:
    """Show a hidden text again (the reason is optional). Mediations that ran while it was
    hidden are not redone; later ones include it again."""
    reason = clean_reason(reason, required=False)
    with transaction.atomic():
        kind, text = _locked_text(text)
        if not text.hidden:
            raise WrongPhase(f"This {kind} is not hidden.", code="not_hidden")
        before = {
            "hidden": True,
            "hidden_reason": text.hidden_reason,
            "hidden_at": _iso(text.hidden_at),
            "hidden_by_id": text.hidden_by_id,
        }
        text.hidden = False
        text.hidden_reason = ""
        text.hidden_at = None
        text.hidden_by = None
        _text_save_hidden(
            text,
            actor=actor,
            action="text_unhide",
            reason=reason,
            mediation=_mediation_progress(text.iteration),
            before=before,
            after={"hidden": False},
        )
    return text


def _locked_iteration(iteration: Iteration) -> Iteration:
    return (
        Iteration.objects.select_for_update(of=("self",))
        .select_related("round__group")
        .get(pk=iteration.pk)
    )


def _require_active(group: Group, what: str) -> None:
    if group.status != Group.Status.ACTIVE:
        raise WrongPhase(
            f"Group {group.number} is {group.get_status_display().lower()}; {what}.",
            code="group_not_active",
        )


def iteration_retry(*, iteration: Iteration, actor) -> Iteration:
    """Send a failed or stuck iteration back to mediation, with whoever's visible text is there.

    A `failed` iteration, or a `mediating` one whose mediation is stuck (its lease lapsed) or
    that no worker has taken within the grace time, of an active group with no stored
    candidates, is retried; a running mediation is not. The failure reason moves to the audit
    log, the sweep's count of resends starts again, and the mediation task is enqueued after the commit.
    An iteration that failed because too few members wrote before the deadline is retried too:
    the moderator decides, and the mediation writes from the members who did write (it is
    refused only when no visible text is left to mediate from).
    """
    with transaction.atomic():
        iteration = _locked_iteration(iteration)
        _require_active(iteration.round.group, "its mediations are not retried")
        standing = mediation_standing(iteration)
        if standing == MediationStanding.RUNNING or standing == MediationStanding.QUEUED:
            raise WrongPhase(
                "This mediation is running (or was just sent to a worker); it can be retried "
                "once it has failed or is stuck.",
                code="not_failed",
            )
        if iteration.state != Iteration.State.FAILED and standing is None:
            raise WrongPhase(
                f"Only a failed or stuck mediation can be retried; this iteration is "
                f"{iteration.get_state_display().lower()}.",
                code="not_failed",
            )
        if CandidateSet.objects.filter(iteration_id=iteration.pk).exists():
            raise WrongPhase(
                "This iteration already has its candidates; there is nothing to retry.",
                code="already_mediated",
            )
        inputs = mediation_inputs(iteration)
        if not inputs.include:
            raise DomainError(
                "No visible text is left to mediate from: nobody who is still taking part has "
                "a visible opinion (and critique) in this iteration.",
                code="nothing_to_mediate",
            )
        before = {
            "state": iteration.state,
            "failure_reason": iteration.failure_reason,
            "mediation_attempts": iteration.mediation_attempts,
            "mediation_started_at": _iso(iteration.mediation_started_at),
            "mediation_lease_until": _iso(iteration.mediation_lease_until),
            "mediation_finished_at": _iso(iteration.mediation_finished_at),
            "standing": standing,
        }
        iteration.state = Iteration.State.MEDIATING
        iteration.failure_reason = ""
        iteration.mediation_resends = 0
        iteration.mediation_queued_at = timezone.now()
        iteration.mediation_started_at = None
        iteration.mediation_lease_until = None
        iteration.mediation_finished_at = None
        iteration.save(
            update_fields=[
                "state",
                "failure_reason",
                "mediation_resends",
                "mediation_queued_at",
                "mediation_started_at",
                "mediation_lease_until",
                "mediation_finished_at",
                "updated_at",
            ]
        )
        _audit(
            actor=actor,
            action="iteration_retry",
            target=iteration,
            reason=before["failure_reason"][:REASON_MAX],
            data={
                "group_id": iteration.round.group_id,
                "writers": len(inputs.members),
                "before": before,
                "after": {"state": iteration.state},
            },
        )
        mediation_enqueue(iteration_id=iteration.pk)
        member_views_changed(group_ids=[iteration.round.group_id])
    return iteration


def iteration_extend_deadline(*, iteration: Iteration, actor, seconds) -> Iteration:
    """Push a collecting or rating phase's deadline back by 1 minute to 24 hours, counted from
    the old deadline or from now, whichever is later (an overdue phase gets the full time)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise DomainError("The extension must be a whole number of seconds.", code="extend_invalid")
    if not EXTEND_MIN_SECONDS <= seconds <= EXTEND_MAX_SECONDS:
        raise DomainError(
            "A deadline can be extended by 1 minute to 24 hours at a time.",
            code="extend_out_of_range",
        )
    with transaction.atomic():
        iteration = _locked_iteration(iteration)
        _require_active(iteration.round.group, "its deadlines are not extended")
        if iteration.state not in (Iteration.State.COLLECTING, Iteration.State.RATING):
            raise WrongPhase(
                f"Only a phase that is collecting texts or ratings has a deadline to extend; "
                f"this iteration is {iteration.get_state_display().lower()}.",
                code="wrong_phase",
            )
        now = timezone.now()
        old = iteration.deadline
        iteration.deadline = max(now, old or now) + timedelta(seconds=seconds)
        iteration.save(update_fields=["deadline", "updated_at"])
        _audit(
            actor=actor,
            action="iteration_extend_deadline",
            target=iteration,
            data={
                "group_id": iteration.round.group_id,
                "seconds": seconds,
                "state": iteration.state,
                "before": {"deadline": _iso(old)},
                "after": {"deadline": _iso(iteration.deadline)},
            },
        )
        member_views_changed(group_ids=[iteration.round.group_id])  # the poll's time limit
    return iteration


def group_end(*, group: Group, actor, reason) -> Group:
    """End a forming or active group now, with a reason (1-500 characters).

    Members still taking part (active, or waiting in a forming group) are completed, so that
    panel members can be paid; dropped and released members stay as they are. The group's open
    iteration is closed as `done` and its round as done, so nothing moves on: no mediation is
    stored (`_store` wants `mediating`), no deadline closes a phase and no round starts.

    Locks are taken in the order the round services take them (the open iterations, then the
    group), so that a phase closing at the same moment finishes first or waits.
    """
    reason = clean_reason(reason)
    with transaction.atomic():
        list(
            Iteration.objects.select_for_update(of=("self",))
            .filter(round__group_id=group.pk, state__in=OPEN_STATES)
            .order_by("pk")
        )
        group = Group.objects.select_for_update().get(pk=group.pk)
        if group.status not in (Group.Status.FORMING, Group.Status.ACTIVE):
            raise WrongPhase(
                f"Group {group.number} is already {group.get_status_display().lower()}.",
                code="group_not_active",
            )
        now = timezone.now()
        before_status = group.status
        # Read again under the group lock: a round started while we waited is closed as well.
        stopped = list(
            Iteration.objects.select_for_update(of=("self",))
            .filter(round__group_id=group.pk, state__in=OPEN_STATES)
            .values_list("pk", "state")
        )
        Iteration.objects.filter(pk__in=[pk for pk, _ in stopped]).update(
            state=Iteration.State.DONE, updated_at=now
        )
        rounds = list(
            Round.objects.filter(group=group, status=Round.Status.ACTIVE).values_list(
                "pk", flat=True
            )
        )
        Round.objects.filter(pk__in=rounds).update(status=Round.Status.DONE, ended_at=now)
        completed = list(
            group.members.filter(
                status__in=[Participant.Status.ACTIVE, Participant.Status.WAITING]
            ).values_list("pk", "status")
        )
        Participant.objects.filter(pk__in=[pk for pk, _ in completed]).update(
            status=Participant.Status.COMPLETED, completed_at=now
        )
        group.status = Group.Status.ENDED
        group.ended_reason = reason
        group.ended_at = now
        group.save(update_fields=["status", "ended_reason", "ended_at"])
        _audit(
            actor=actor,
            action="group_end",
            target=group,
            reason=reason,
            data={
                "group_id": group.pk,
                "before": {
                    "status": before_status,
                    "iterations": {str(pk): state for pk, state in stopped},
                    "rounds": rounds,
                    "members": {str(pk): status for pk, status in completed},
                },
                "after": {
                    "status": group.status,
                    "ended_at": _iso(now),
                    "iteration_state": Iteration.State.DONE,
                    "member_status": Participant.Status.COMPLETED,
                },
            },
        )
        member_views_changed(group_ids=[group.pk])
    return group
