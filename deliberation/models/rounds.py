"""Rounds, iterations and what members write in them."""

from django.conf import settings
from django.db import models

from deliberation.models.people import Group, Participant
from deliberation.models.studies import TEXT_MAX, Question


class Round(models.Model):
    """One question for one group."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        DONE = "done", "Done"

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="rounds")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="rounds")
    position = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    excluded = models.ManyToManyField(
        Participant,
        blank=True,
        related_name="excluded_from_rounds",
        help_text="Members left out of the mediation (exclusion condition); they still rate.",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["group", "position"]
        constraints = [
            models.UniqueConstraint(fields=["group", "position"], name="round_position_unique")
        ]


class Iteration(models.Model):
    """Opinion (index 0) or critique (1..k) phase of a round, with its state machine."""

    class State(models.TextChoices):
        COLLECTING = "collecting", "Collecting"
        MEDIATING = "mediating", "Mediating"
        RATING = "rating", "Rating"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="iterations")
    index = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.COLLECTING)
    deadline = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(blank=True)
    mediation_attempts = models.PositiveSmallIntegerField(default=0)
    # When the mediation was last sent to the queue; when a task took it (`started`); until when
    # the running task's claim holds unless renewed (`lease_until`: a live task renews it, a dead
    # one lets it lapse and the recovery sweep sends the mediation again).
    mediation_queued_at = models.DateTimeField(null=True, blank=True)
    # How many times the recovery sweep sent the mediation again after its worker was lost, since
    # a moderator last retried it (past MEDIATION_MAX_RESENDS the sweep fails the iteration).
    mediation_resends = models.PositiveSmallIntegerField(default=0)
    mediation_started_at = models.DateTimeField(null=True, blank=True)
    mediation_lease_until = models.DateTimeField(null=True, blank=True)
    mediation_finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["round", "index"]
        constraints = [
            models.UniqueConstraint(fields=["round", "index"], name="iteration_index_unique")
        ]

    @property
    def is_critique(self) -> bool:
        return self.index > 0


class MemberText(models.Model):
    """What a member wrote in an iteration, with its moderation state."""

    iteration = models.ForeignKey(Iteration, on_delete=models.CASCADE, related_name="+")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=TEXT_MAX)
    created_at = models.DateTimeField(auto_now_add=True)
    response_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    hidden = models.BooleanField(default=False)
    hidden_reason = models.CharField(max_length=500, blank=True)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        abstract = True


class Opinion(MemberText):
    iteration = models.ForeignKey(Iteration, on_delete=models.CASCADE, related_name="opinions")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="opinions")

    class Meta:
        ordering = ["participant__seat", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["iteration", "participant"], name="one_opinion_per_member"
            )
        ]


class Critique(MemberText):
    iteration = models.ForeignKey(Iteration, on_delete=models.CASCADE, related_name="critiques")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="critiques")
    statement = models.ForeignKey(
        "Statement",
        on_delete=models.PROTECT,
        related_name="critiques",
        help_text="The winning statement being critiqued.",
    )

    class Meta:
        ordering = ["participant__seat", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["iteration", "participant"], name="one_critique_per_member"
            )
        ]
