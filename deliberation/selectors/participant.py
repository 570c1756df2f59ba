"""What a participant should see now. One function decides the step, so that a reload, a second
tab or a participant coming back after losing a tab always lands where the group is."""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q
from django.utils import timezone

from deliberation.models import (
    Group,
    Iteration,
    Participant,
    PositionRating,
    Ranking,
    Rating,
    Round,
    Statement,
    SurveyResponse,
)
from deliberation.selectors.consent import consent_needed
from deliberation.selectors.iterations import members_done

# The steps a member owes after a round, in the order they are asked (METHOD.md §1.9).
FOLLOWUPS = ("final_ranking", "position_after", "survey")
# The steps that ask the member for something; every other step (waiting, mediating, done, ...)
# waits for the group. Bots act on these; their pages send a heartbeat instead of polling.
ANSWER_STEPS = (
    "position_before",
    "write_opinion",
    "write_critique",
    "rate",
    "rank",
    *FOLLOWUPS,
)
# The steps whose page waits for the group and polls the status endpoint.
WAITING_STEPS = ("waiting_group", "waiting", "mediating", "failed")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# A mediation usually takes seconds; past this the waiting page says it is taking longer.
SLOW_MEDIATION = timedelta(seconds=45)


@dataclass
class Step:
    kind: str
    participant: Participant
    group: Group | None = None
    round: Round | None = None
    iteration: Iteration | None = None
    statement: Statement | None = None
    statements: list[Statement] = field(default_factory=list)
    statements_total: int = 0
    statements_rated: int = 0
    members: list[dict] = field(default_factory=list)
    done_count: int = 0
    member_count: int = 0
    message: str = ""
    # The mediation has taken much longer than usual (the waiting page says so, honestly).
    slow: bool = False
    # When the step changes by time alone, with nobody doing anything (a deadline, the pool's
    # wait, a mediation turning slow); None when it does not. The poll's snapshot holds until then.
    changes_at: datetime | None = None

    @property
    def key(self) -> str:
        """Changes whenever the page a participant should see changes."""
        parts = [self.kind]
        if self.iteration is not None:
            parts += [str(self.iteration.pk), self.iteration.state]
        elif self.round is not None:
            parts.append(f"r{self.round.pk}")
        if self.statement is not None:
            parts.append(str(self.statement.pk))
        return ":".join(parts)

    @property
    def progress_key(self) -> str:
        """Changes whenever what the waiting block shows changes."""
        return f"{self.key}:{self.done_count}/{self.member_count}{':slow' if self.slow else ''}"

    @property
    def statement_letter(self) -> str:
        """The neutral label (A, B, ...) of the statement being rated, in this member's order."""
        for letter, statement in statement_letters(self.statements):
            if self.statement is not None and statement.pk == self.statement.pk:
                return letter
        return ""

    @property
    def progress_percent(self) -> int:
        if not self.member_count:
            return 0
        return round(100 * self.done_count / self.member_count)


def participant_step(participant: Participant) -> Step:
    """The step `participant` is on now. A handful of queries whatever the phase (pinned per
    phase in tests/deliberation/test_poll_version.py): the group's current iteration with its
    round and question in one; the end-of-round questions only once a round has finished."""
    if consent_needed(participant):  # not yet agreed, or agreed to an older consent text
        return Step("consent", participant)
    if participant.status == Participant.Status.DROPPED:
        return Step("dropped", participant)
    if participant.status == Participant.Status.RELEASED:
        return Step("released", participant)
    group = participant.group
    if group is None or group.status == Group.Status.FORMING:
        return _waiting_group(participant, group)
    if participant.status == Participant.Status.COMPLETED:
        return Step("ended" if group.status == Group.Status.ENDED else "done", participant, group)
    if group.status == Group.Status.ENDED:
        return Step("ended", participant, group=group)
    iteration = None if group.status == Group.Status.DONE else current_iteration(group)
    # Rounds run one after another: while the first is active, none has finished yet.
    if iteration is None or iteration.round.position > 0:
        owed = followups_pending(participant)
        if owed:
            round_, kind = owed[0]
            step = Step(kind, participant, group=group, round=round_)
            if kind == "final_ranking":
                step.statements = round_winners(participant, round_)
            return step
    if iteration is None:
        return Step("done", participant, group=group)
    round_ = iteration.round
    step = Step("waiting", participant, group=group, round=round_, iteration=iteration)
    if iteration.state == Iteration.State.MEDIATING:
        step.kind = "mediating"
        waiting_since = iteration.mediation_queued_at or iteration.updated_at
        slow_from = waiting_since + SLOW_MEDIATION
        step.slow = slow_from < timezone.now()
        step.changes_at = None if step.slow else slow_from
        return step
    if iteration.state == Iteration.State.FAILED:
        step.kind = "failed"
        return step
    step.changes_at = iteration.deadline  # passing it closes the phase
    members = list(group.members.filter(status=Participant.Status.ACTIVE).order_by("seat"))
    step.member_count = len(members)
    if iteration.state == Iteration.State.COLLECTING:
        written = members_done(iteration, [m.pk for m in members] + [participant.pk])
        step.done_count = sum(m.pk in written for m in members)
        step.members = [
            {"seat": m.seat, "done": m.pk in written, "you": m.pk == participant.pk}
            for m in members
        ]
        if participant.pk not in written:
            if not iteration.is_critique and position_owed(participant, round_, index=0):
                step.kind = "position_before"
                return step
            step.kind = "write_critique" if iteration.is_critique else "write_opinion"
            if iteration.is_critique:
                step.statement = Statement.objects.filter(
                    iteration__round=round_, iteration__index=iteration.index - 1, is_winner=True
                ).first()
        return step
    if iteration.state == Iteration.State.RATING:
        shown = statements_for(participant, iteration)
        iteration.shown_count = len(shown)  # so that `members_done` does not count them again
        rated = set(
            Rating.objects.filter(participant=participant, iteration=iteration).values_list(
                "statement_id", flat=True
            )
        )
        step.statements_total = len(shown)
        step.statements_rated = sum(s.pk in rated for s in shown)
        pending = [s for s in shown if s.pk not in rated]
        finished = members_done(iteration, [m.pk for m in members])
        step.done_count = len(finished)
        step.members = [
            {"seat": m.seat, "done": m.pk in finished, "you": m.pk == participant.pk}
            for m in members
        ]
        step.statements = shown
        if pending:
            step.kind = "rate"
            step.statement = pending[0]
        elif participant.pk not in finished and len(shown) > 1:
            step.kind = "rank"
        return step
    return step


def _waiting_group(participant: Participant, group: Group | None) -> Step:
    """Waiting in the pool: how many have joined the forming group, and when its first waiter
    will have waited the deliberation's `pool_wait_seconds` (the group then forms or releases)."""
    step = Step("waiting_group", participant, group=group)
    if group is None:
        return step
    deliberation = participant.deliberation
    pool = group.members.aggregate(
        joined=Count("pk"),
        first=Min("grouped_at", filter=Q(status=Participant.Status.WAITING)),
    )
    step.done_count = pool["joined"]
    step.member_count = deliberation.group_size
    if pool["first"] is not None:
        step.changes_at = pool["first"] + timedelta(seconds=deliberation.pool_wait_seconds)
    return step


def current_iteration(group: Group) -> Iteration | None:
    """The latest iteration of the group's active round, with its round (and the round's
    question and group) loaded; None when no round is active."""
    iteration = (
        Iteration.objects.filter(round__group_id=group.pk, round__status=Round.Status.ACTIVE)
        .select_related("round__question")
        .order_by("-round__position", "-index")
        .first()
    )
    if iteration is not None:
        iteration.round.group = group
    return iteration


def position_statement(round_: Round) -> str:
    """The statement whose agreement is asked before and after a round ("" when none)."""
    if not round_.group.deliberation.position_ratings:
        return ""
    return round_.question.affirming_statement.strip()


def position_owed(participant: Participant, round_: Round, *, index: int) -> bool:
    return (
        bool(position_statement(round_))
        and not PositionRating.objects.filter(
            participant=participant, round=round_, index=index
        ).exists()
    )


def round_winners(participant: Participant, round_: Round) -> list[Statement]:
    """The winners of a round's iterations, in an order shuffled for this member."""
    winners = list(
        Statement.objects.filter(iteration__round=round_, is_winner=True).order_by(
            "iteration__index"
        )
    )
    random.Random(f"{participant.public_id}-final-{round_.pk}").shuffle(winners)
    return winners


def followups_pending(participant: Participant) -> list[tuple[Round, str]]:
    """What the member still owes for the group's finished rounds, oldest round first: the final
    ranking between the round's winners (when there were two or more), the position rating
    after the round, and the survey. Four queries however many rounds there are."""
    if participant.group_id is None:
        return []
    rounds = list(
        Round.objects.filter(group_id=participant.group_id, status=Round.Status.DONE)
        .select_related("question", "group__deliberation")
        .order_by("position")
    )
    if not rounds:
        return []
    ids = [r.pk for r in rounds]
    winners: dict[int, int] = {}
    for round_id in Statement.objects.filter(
        iteration__round_id__in=ids, is_winner=True
    ).values_list("iteration__round_id", flat=True):
        winners[round_id] = winners.get(round_id, 0) + 1
    ranked = set(
        Ranking.objects.filter(
            participant=participant, round_id__in=ids, kind=Ranking.Kind.FINAL
        ).values_list("round_id", flat=True)
    )
    positioned = set(
        PositionRating.objects.filter(
            participant=participant, round_id__in=ids, index=1
        ).values_list("round_id", flat=True)
    )
    surveyed = set(
        SurveyResponse.objects.filter(participant=participant, round_id__in=ids).values_list(
            "round_id", flat=True
        )
    )
    owed = []
    for round_ in rounds:
        if winners.get(round_.pk, 0) > 1 and round_.pk not in ranked:
            owed.append((round_, "final_ranking"))
        if position_statement(round_) and round_.pk not in positioned:
            owed.append((round_, "position_after"))
        if round_.group.deliberation.survey_items and round_.pk not in surveyed:
            owed.append((round_, "survey"))
    return owed


def statement_letters(statements: list[Statement]) -> list[tuple[str, Statement]]:
    """Neutral labels (A, B, C, ...) in the member's order; they say nothing about provenance."""
    return [(LETTERS[i % len(LETTERS)], s) for i, s in enumerate(statements)]


def statements_for(participant: Participant, iteration: Iteration) -> list[Statement]:
    """The statements shown to this member, in an order shuffled for them (stable per member)."""
    shown = list(Statement.objects.filter(iteration=iteration, shown=True).order_by("pk"))
    return member_order(
        shown, participant_public_id=participant.public_id, iteration_id=iteration.pk
    )


def member_order(items: list, *, participant_public_id, iteration_id: int) -> list:
    """`items` (the statements shown, by ascending id) in the order this member saw them: the one
    definition of the per-member shuffle, used by the pages and by the exports."""
    ordered = list(items)
    random.Random(f"{participant_public_id}-{iteration_id}").shuffle(ordered)
    return ordered
