"""What the mediator produced: candidate sets, statements, predictions, model versions."""

from django.db import models
from django.db.models import Q

from deliberation.models.people import Participant
from deliberation.models.rounds import Iteration, Opinion
from deliberation.models.studies import Provenance


class ModelVersion(models.Model):
    """A generator or reward model: one that served a round (recorded by the mediation, so every
    statement can be traced), or one trained here (`manage.py train_reward_model`: its `path`,
    the backend `config` that serves it, and its held-out `metrics`). At most one reward model
    is `promoted`: the default for new mediations (`manage.py promote_model`)."""

    class Role(models.TextChoices):
        GENERATOR = "generator", "Generator"
        REWARD = "reward", "Reward model"

    class Status(models.TextChoices):
        RECORDED = "recorded", "Recorded when it served"
        TRAINED = "trained", "Trained here, not promoted"
        PROMOTED = "promoted", "Promoted: the default for new mediations"
        RETIRED = "retired", "Promoted once, since replaced"

    role = models.CharField(max_length=16, choices=Role.choices)
    backend = models.CharField(max_length=32)
    name = models.CharField(max_length=200)
    revision = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECORDED)
    path = models.CharField(
        max_length=500, blank=True, help_text="The model directory, for a model trained here."
    )
    config = models.JSONField(
        default=dict, blank=True, help_text="The backend config that serves it (trained here)."
    )
    promoted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["role", "backend", "name", "revision"], name="model_version_unique"
            ),
            models.UniqueConstraint(
                fields=["role"], condition=Q(status="promoted"), name="one_promoted_per_role"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role}:{self.backend}:{self.name}"


class CandidateSet(models.Model):
    """Everything one mediation produced for an iteration. One per iteration, by the database."""

    iteration = models.OneToOneField(
        Iteration, on_delete=models.CASCADE, related_name="candidate_set"
    )
    generator = models.ForeignKey(
        ModelVersion, null=True, on_delete=models.PROTECT, related_name="+"
    )
    reward_model = models.ForeignKey(
        ModelVersion, null=True, on_delete=models.PROTECT, related_name="+"
    )
    config = models.JSONField(default=dict)
    aggregation = models.CharField(max_length=16)
    alpha = models.FloatField(null=True, blank=True)
    seed = models.BigIntegerField()
    member_ids = models.JSONField(
        default=list, help_text="Participant ids, in the order of the prediction matrix rows."
    )
    included_ids = models.JSONField(default=list, help_text="Members the mediation wrote from.")
    predictions = models.JSONField(default=list, help_text="[members x candidates], 1-7.")
    scores = models.JSONField(default=list)
    rankings = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)


class Statement(models.Model):
    """Any text shown to be rated: a candidate, a human opinion as comparison, a baseline."""

    class Role(models.TextChoices):
        CANDIDATE = "candidate", "Mediator candidate"
        BEST_OPINION = "best_opinion", "Best human opinion (comparison)"
        BASELINE = "baseline", "Baseline model (comparison)"

    iteration = models.ForeignKey(Iteration, on_delete=models.CASCADE, related_name="statements")
    candidate_set = models.ForeignKey(
        CandidateSet, null=True, blank=True, on_delete=models.CASCADE, related_name="statements"
    )
    index = models.PositiveSmallIntegerField(null=True, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CANDIDATE)
    text = models.TextField()
    provenance = models.CharField(max_length=32, choices=Provenance.choices)
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="statements"
    )
    template_version = models.CharField(max_length=64, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    sample_index = models.PositiveSmallIntegerField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    parents = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="children")
    source_opinion = models.ForeignKey(
        Opinion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    group_score = models.FloatField(null=True, blank=True)
    rank = models.PositiveSmallIntegerField(null=True, blank=True)
    is_winner = models.BooleanField(default=False)
    shown = models.BooleanField(default=False, help_text="Shown to members to be rated.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["iteration", "index", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate_set", "index"],
                condition=Q(candidate_set__isnull=False),
                name="candidate_index_unique",
            ),
            models.UniqueConstraint(
                fields=["iteration"], condition=Q(is_winner=True), name="one_winner_per_iteration"
            ),
        ]


class Prediction(models.Model):
    """The reward model's predicted agreement of one member with one statement (1-7)."""

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="predictions")
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="predictions"
    )
    value = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["statement", "participant"], name="one_prediction_per_pair"
            )
        ]
