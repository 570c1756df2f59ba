"""What a participant should see now. One function decides the step, so that a reload, a second
tab or a participant coming back after losing a tab always lands where the group is."""

import random
from dataclasses import dataclass, field

from deliberation.models import (
    Critique,
    Group,
    Iteration,
    Opinion,
    Participant,
    Rating,
    Round,
    Statement,
)


@dataclass
class Step:
    kind: str
    participant: Participant
    group: Group | None = None
    round: Round | None = None
    iteration: Iteration | None = None
    statement: Statement | None = None
    statements_total: int = 0
    statements_rated: int = 0
    members: list[dict] = field(default_factory=list)
    done_count: int = 0
    member_count: int = 0
    message: str = ""

    @property
    def key(self) -> str:
        """Changes whenever the page a participant should see changes."""
        parts = [self.kind]
        if self.iteration is not None:
            parts += [str(self.iteration.pk), self.iteration.state]
        if self.statement is not None:
            parts.append(str(self.statement.pk))
        return ":".join(parts)

    @property
    def progress_key(self) -> str:
        """Changes whenever what the waiting block shows changes."""
        return f"{self.key}:{self.done_count}/{self.member_count}"

    @property
    def progress_percent(self) -> int:
        if not self.member_count:
            return 0
        return round(100 * self.done_count / self.member_count)


def participant_step(participant: Participant) -> Step:
    if participant.status == Participant.Status.JOINED:
        return Step("consent", participant)
    if participant.status == Participant.Status.DROPPED:
        return Step("dropped", participant)
    if participant.status == Participant.Status.RELEASED:
        return Step("released", participant)
    group = participant.group
    if group is None or group.status == Group.Status.FORMING:
        step = Step("waiting_group", participant, group=group)
        if group is not None:
            step.done_count = group.members.count()
            step.member_count = group.deliberation.group_size
        return step
    if participant.status == Participant.Status.COMPLETED or group.status in (
        Group.Status.DONE,
        Group.Status.ENDED,
    ):
        return Step("done", participant, group=group)
    round_ = (
        group.rounds.filter(status=Round.Status.ACTIVE)
        .select_related("question")
        .order_by("-position")
        .first()
    )
    if round_ is None:
        return Step("done", participant, group=group)
    iteration = round_.iterations.order_by("-index").first()
    step = Step("waiting", participant, group=group, round=round_, iteration=iteration)
    members = list(group.members.filter(status=Participant.Status.ACTIVE).order_by("seat"))
    step.member_count = len(members)

    if iteration.state == Iteration.State.COLLECTING:
        model = Critique if iteration.is_critique else Opinion
        written = set(
            model.objects.filter(iteration=iteration).values_list("participant_id", flat=True)
        )
        step.done_count = sum(m.pk in written for m in members)
        step.members = [
            {"seat": m.seat, "done": m.pk in written, "you": m.pk == participant.pk}
            for m in members
        ]
        if participant.pk not in written:
            step.kind = "write_critique" if iteration.is_critique else "write_opinion"
            if iteration.is_critique:
                step.statement = Statement.objects.filter(
                    iteration__round=round_, iteration__index=iteration.index - 1, is_winner=True
                ).first()
        return step
    if iteration.state == Iteration.State.MEDIATING:
        step.kind = "mediating"
        return step
    if iteration.state == Iteration.State.FAILED:
        step.kind = "failed"
        return step
    if iteration.state == Iteration.State.RATING:
        shown = statements_for(participant, iteration)
        rated = set(
            Rating.objects.filter(participant=participant, iteration=iteration).values_list(
                "statement_id", flat=True
            )
        )
        step.statements_total = len(shown)
        step.statements_rated = sum(s.pk in rated for s in shown)
        pending = [s for s in shown if s.pk not in rated]
        finished = _members_done_rating(iteration, members, len(shown))
        step.done_count = len(finished)
        step.members = [
            {"seat": m.seat, "done": m.pk in finished, "you": m.pk == participant.pk}
            for m in members
        ]
        if pending:
            step.kind = "rate"
            step.statement = pending[0]
        return step
    return step


def _members_done_rating(iteration: Iteration, members: list[Participant], shown: int) -> set[int]:
    counts: dict[int, int] = {}
    for participant_id in Rating.objects.filter(
        iteration=iteration, participant__in=members
    ).values_list("participant_id", flat=True):
        counts[participant_id] = counts.get(participant_id, 0) + 1
    return {pk for pk, n in counts.items() if n >= shown}


def statements_for(participant: Participant, iteration: Iteration) -> list[Statement]:
    """The statements shown to this member, in an order shuffled for them (stable per member)."""
    shown = list(Statement.objects.filter(iteration=iteration, shown=True).order_by("pk"))
    random.Random(f"{participant.public_id}-{iteration.pk}").shuffle(shown)
    return shown
