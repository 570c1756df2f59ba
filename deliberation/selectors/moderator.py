"""What a moderator reads: the list of deliberations, where every group stands and who in it is
done, and the audit log of a group.

Every read takes a constant number of queries, however many groups, members or deliberations
there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from deliberation.models import (
    AuditLog,
    Critique,
    Deliberation,
    DeliberationQuestion,
    Group,
    Iteration,
    Opinion,
    Participant,
    Round,
)
from deliberation.selectors.iterations import (
    MediationStanding,
    mediation_standing,
    members_done_by_iteration,
    with_shown_count,
)

ABSENT = (Participant.Status.DROPPED, Participant.Status.RELEASED)
ACTION_LABELS = {
    "text_hide": "Hid a text",
    "text_unhide": "Showed a text again",
    "iteration_retry": "Retried a failed mediation",
    "iteration_extend_deadline": "Extended a deadline",
    "group_end": "Ended the group",
}


@dataclass(frozen=True)
class MemberNow:
    """One member of a group, for the moderator. `done` says whether they have finished what the
    current phase asks of them (written while collecting; rated, and ranked when several
    statements were shown, while rating); None when the phase asks nothing of them or they are
    no longer taking part."""

    pk: int
    seat: int | None
    status: str
    status_label: str
    is_bot: bool
    last_seen_at: datetime | None
    done: bool | None

    @property
    def present(self) -> bool:
        return self.status not in ABSENT

    @property
    def seat_label(self) -> str:
        return "—" if self.seat is None else str(self.seat + 1)

    @property
    def state_text(self) -> str:
        """What the moderator's seat dot says: done, not done yet, or the member's status."""
        if not self.present or self.done is None:
            return self.status_label.lower()
        return "done" if self.done else "not done yet"


@dataclass(frozen=True)
class GroupOverview:
    """One group's row on the moderator's page, and the top of its group page.

    `round_position`, `question`, `iteration_index` and `state` are None before the group's
    first round starts. `done_count` is how many present members have finished the current
    phase (see `MemberNow.done`). `now` is when the row was read, for relative deadlines.
    """

    pk: int
    number: int
    status: str
    status_label: str
    ended_reason: str
    ended_at: datetime | None
    condition: str
    member_count: int
    present_count: int
    round_position: int | None
    round_count: int
    question: str | None
    iteration_id: int | None
    iteration_index: int | None
    state: str | None
    state_label: str | None
    failure_reason: str
    deadline: datetime | None
    mediation_attempts: int
    mediation_started_at: datetime | None
    mediation_finished_at: datetime | None
    members: tuple[MemberNow, ...]
    now: datetime
    # Where a `mediating` iteration's mediation stands (selectors.iterations.MediationStanding),
    # since when (queued or lease lapsed); None in other states.
    mediation_standing: str | None = None
    mediation_since: datetime | None = None

    @property
    def done_count(self) -> int:
        return sum(1 for m in self.members if m.present and m.done)

    @property
    def asks_members(self) -> bool:
        """The current phase waits for the members (collecting texts or ratings)."""
        return self.state in (Iteration.State.COLLECTING, Iteration.State.RATING)

    @property
    def phase(self) -> str:
        if self.iteration_index is None:
            return ""
        return "critique" if self.iteration_index > 0 else "opinion"

    @property
    def phase_label(self) -> str:
        """ "opinion", "critique 2"; empty before the first round."""
        if self.iteration_index:
            return f"{self.phase} {self.iteration_index}"
        return self.phase

    @property
    def done_text(self) -> str:
        """ "3 of 5 written", "2 of 5 rated"; empty when the phase waits for nobody."""
        if not self.asks_members:
            return ""
        verb = "rated" if self.state == Iteration.State.RATING else "written"
        return f"{self.done_count} of {self.present_count} {verb}"

    @property
    def finished(self) -> bool:
        return self.status in (Group.Status.ENDED, Group.Status.DONE)

    @property
    def overdue(self) -> bool:
        return self.deadline is not None and self.deadline < self.now

    @property
    def deadline_text(self) -> str:
        """ "in 4 min", "overdue by 30 s"; empty when the phase waits for nobody."""
        if self.deadline is None or not self.asks_members:
            return ""
        seconds = int((self.deadline - self.now).total_seconds())
        if seconds < 0:
            return f"overdue by {_duration(-seconds)}"
        return f"in {_duration(seconds)}"

    @property
    def mediation_running_seconds(self) -> int | None:
        if self.state != Iteration.State.MEDIATING or self.mediation_started_at is None:
            return None
        return max(0, int((self.now - self.mediation_started_at).total_seconds()))

    @property
    def mediation_waiting_seconds(self) -> int | None:
        """Seconds since the mediation was queued, or since its lease lapsed (stuck)."""
        if self.mediation_since is None:
            return None
        return max(0, int((self.now - self.mediation_since).total_seconds()))

    @property
    def can_retry(self) -> bool:
        """Failed, or stuck (lease lapsed), or queued with no worker taking it: the moderator's
        Retry sends it again (`services.moderation.iteration_retry`)."""
        if self.status != Group.Status.ACTIVE:
            return False
        return self.state == Iteration.State.FAILED or self.mediation_standing in (
            MediationStanding.STUCK,
            MediationStanding.UNCLAIMED,
        )

    @property
    def can_extend(self) -> bool:
        return self.status == Group.Status.ACTIVE and self.asks_members

    @property
    def can_end(self) -> bool:
        return self.status in (Group.Status.FORMING, Group.Status.ACTIVE)


@dataclass(frozen=True)
class AuditEntry:
    created_at: datetime
    actor: str
    action: str
    label: str
    target: str
    reason: str
    details: str


def _duration(seconds: int) -> str:
    """Seconds under a minute, else to the nearest minute: "40 s", "5 min", "1 h 5 min"."""
    if seconds < 60:
        return f"{seconds} s"
    minutes = (seconds + 30) // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def join_path(deliberation: Deliberation) -> str:
    """The path of the participants' invitation link."""
    try:
        return reverse("deliberation:join", args=[deliberation.public_id])
    except NoReverseMatch:
        # The participant pages define the route; until they do, its documented shape.
        return f"/j/{deliberation.public_id}/"


def deliberation_list(deliberations: QuerySet[Deliberation]) -> QuerySet[Deliberation]:
    """The given deliberations (those the reader may see, from `access`) that are not archived,
    newest first, with their group and participant counts."""
    groups = Group.objects.filter(deliberation=OuterRef("pk")).values("deliberation")
    participants = Participant.objects.filter(deliberation=OuterRef("pk")).values("deliberation")
    return (
        deliberations.filter(archived_at__isnull=True)
        .annotate(
            group_count=_count_of(groups),
            participant_count=_count_of(participants),
        )
        .order_by("-created_at", "-id")
    )


def deliberation_questions(deliberation: Deliberation) -> list[str]:
    """The texts of the deliberation's questions, in the order groups get them."""
    return list(
        deliberation.question_links.order_by("position").values_list("question__text", flat=True)
    )


def deliberation_overview(deliberation: Deliberation) -> list[GroupOverview]:
    """Where each group of `deliberation` stands, by group number, in a constant number of
    queries however many groups there are."""
    return _overviews(
        list(
            Group.objects.filter(deliberation=deliberation)
            .select_related("condition")
            .order_by("number")
        )
    )


def group_overview(group: Group) -> GroupOverview:
    """Where one group stands now: the live panel of its page (the same reads as above, for a
    group already loaded)."""
    return _overviews([group])[0]


def _overviews(groups: list[Group]) -> list[GroupOverview]:
    group_ids = [g.pk for g in groups]
    rounds_by_group: dict[int, list[Round]] = {}
    for round_ in (
        Round.objects.filter(group_id__in=group_ids)
        .select_related("question")
        # Rounds are made one at a time, so "round k of n" counts the questions set up, not the
        # rounds made so far (read in the same query).
        .annotate(
            question_count=Subquery(
                DeliberationQuestion.objects.filter(deliberation_id=OuterRef("group__deliberation"))
                .values("deliberation_id")
                .annotate(n=Count("pk"))
                .values("n")
            )
        )
        .order_by("group_id", "position")
    ):
        rounds_by_group.setdefault(round_.group_id, []).append(round_)
    current = {group_id: _current_round(rounds) for group_id, rounds in rounds_by_group.items()}

    latest_iteration: dict[int, Iteration] = {}
    for iteration in with_shown_count(
        Iteration.objects.filter(round_id__in=[r.pk for r in current.values()])
    ).order_by("round_id", "index"):
        latest_iteration[iteration.round_id] = iteration
    done = members_done_by_iteration(list(latest_iteration.values()))

    members_by_group: dict[int, list[Participant]] = {}
    for member in Participant.objects.filter(group_id__in=group_ids).order_by("group_id", "seat"):
        members_by_group.setdefault(member.group_id, []).append(member)

    now = timezone.now()
    rows = []
    for group in groups:
        round_ = current.get(group.pk)
        iteration = latest_iteration.get(round_.pk) if round_ else None
        finished = done.get(iteration.pk) if iteration is not None else None
        members = members_by_group.get(group.pk, [])
        rows.append(
            GroupOverview(
                pk=group.pk,
                number=group.number,
                status=group.status,
                status_label=group.get_status_display(),
                ended_reason=group.ended_reason,
                ended_at=group.ended_at,
                condition=group.condition.name if group.condition else "",
                member_count=len(members),
                present_count=sum(m.status not in ABSENT for m in members),
                round_position=round_.position if round_ else None,
                round_count=round_.question_count if round_ else 0,
                question=round_.question.text if round_ else None,
                iteration_id=iteration.pk if iteration else None,
                iteration_index=iteration.index if iteration else None,
                state=iteration.state if iteration else None,
                state_label=iteration.get_state_display() if iteration else None,
                failure_reason=iteration.failure_reason if iteration else "",
                deadline=iteration.deadline if iteration else None,
                mediation_attempts=iteration.mediation_attempts if iteration else 0,
                mediation_started_at=iteration.mediation_started_at if iteration else None,
                mediation_finished_at=iteration.mediation_finished_at if iteration else None,
                mediation_standing=mediation_standing(iteration, now) if iteration else None,
                mediation_since=_mediation_since(iteration),
                members=tuple(
                    MemberNow(
                        pk=m.pk,
                        seat=m.seat,
                        status=m.status,
                        status_label=m.get_status_display(),
                        is_bot=m.is_bot,
                        last_seen_at=m.last_seen_at,
                        done=(
                            m.pk in finished
                            if finished is not None and m.status not in ABSENT
                            else None
                        ),
                    )
                    for m in members
                ),
                now=now,
            )
        )
    return rows


def _mediation_since(iteration: Iteration | None) -> datetime | None:
    if iteration is None or iteration.state != Iteration.State.MEDIATING:
        return None
    if iteration.mediation_lease_until is not None:
        return iteration.mediation_lease_until  # running: until; stuck: since
    return iteration.mediation_queued_at or iteration.updated_at


def group_audit_log(group: Group) -> list[AuditEntry]:
    """The moderators' actions on `group`, its iterations and its members' texts, newest first.
    One query."""
    entries = (
        AuditLog.objects.filter(
            Q(target_type="group", target_id=group.pk)
            | Q(
                target_type="iteration",
                target_id__in=Iteration.objects.filter(round__group=group).values("pk"),
            )
            | Q(
                target_type="opinion",
                target_id__in=Opinion.objects.filter(iteration__round__group=group).values("pk"),
            )
            | Q(
                target_type="critique",
                target_id__in=Critique.objects.filter(iteration__round__group=group).values("pk"),
            )
        )
        .select_related("actor")
        .order_by("-created_at", "-pk")
    )
    return [_audit_entry(entry) for entry in entries]


def _audit_entry(entry: AuditLog) -> AuditEntry:
    data = entry.data or {}
    before, after = data.get("before") or {}, data.get("after") or {}
    if entry.target_type in ("opinion", "critique"):
        seat = data.get("seat")
        target = f"{entry.target_type} of seat {seat + 1 if isinstance(seat, int) else '?'}"
    elif entry.target_type == "iteration":
        target = f"iteration {entry.target_id}"
    else:
        target = entry.target_type
    details = ""
    if entry.action == "text_hide":
        details = {
            "not_yet": "before its mediation: left out",
            "running": "while its mediation was running",
            "done": "after its mediation: the statements made stay",
        }.get(data.get("mediation"), "")
    elif entry.action == "iteration_extend_deadline":
        details = (
            f"by {int(data.get('seconds', 0)) // 60} min: "
            f"{_short_time(before.get('deadline'))} → {_short_time(after.get('deadline'))}"
        )
    elif entry.action == "iteration_retry":
        details = f"after {before.get('mediation_attempts', 0)} attempt(s)"
    elif entry.action == "group_end":
        details = (
            f"{len(before.get('members') or {})} member(s) completed, "
            f"{len(before.get('iterations') or {})} open phase(s) closed"
        )
    return AuditEntry(
        created_at=entry.created_at,
        actor=entry.actor.get_username() if entry.actor else "—",
        action=entry.action,
        label=ACTION_LABELS.get(entry.action, entry.action),
        target=target,
        reason=entry.reason,
        details=details,
    )


def _short_time(value: str | None) -> str:
    if not value:
        return "none"
    return datetime.fromisoformat(value).strftime("%H:%M:%S UTC")


def _current_round(rounds: list[Round]) -> Round:
    """The active round; else the last finished one; else the first still to come."""
    for round_ in rounds:
        if round_.status == Round.Status.ACTIVE:
            return round_
    done = [r for r in rounds if r.status == Round.Status.DONE]
    return done[-1] if done else rounds[0]


def _count_of(queryset: QuerySet, field: str = "pk") -> Coalesce:
    """A correlated COUNT(DISTINCT field) of `queryset`, already `.values()`-grouped; 0 if none."""
    return Coalesce(
        Subquery(
            queryset.order_by().annotate(n=Count(field, distinct=True)).values("n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )
