"""The domain of a deliberation study, as DESIGN.md and METHOD.md describe it.

The database itself makes double submissions harmless: one opinion or critique per member and
iteration, one rating per member, statement and iteration, one candidate set per iteration, one
winner per iteration. Business rules live in `deliberation.services`, not here.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

TEXT_MAX = 2000


class Provenance(models.TextChoices):
    """Who or what wrote a text; the values of the published [T24] dataset, plus our baseline."""

    HUMAN_CITIZEN = "human_citizen", "Human participant"
    BOT_CITIZEN = "bot_citizen", "Bot participant"
    HUMAN_MEDIATOR = "human_mediator", "Human mediator"
    MODEL_MEDIATOR = "model_mediator", "AI mediator"
    POSITION_STATEMENT = "position_statement", "Position statement"
    EXAMPLE = "example", "Example"
    MOCK = "mock", "Mock"


class Question(models.Model):
    class Split(models.TextChoices):
        NONE = "", "None"
        TRAIN = "train", "Train"
        IID_TEST = "iid_test", "IID test"
        OOD_TEST = "ood_test", "OOD test"

    external_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    text = models.CharField(max_length=TEXT_MAX)
    affirming_statement = models.CharField(max_length=TEXT_MAX, blank=True)
    negating_statement = models.CharField(max_length=TEXT_MAX, blank=True)
    topic = models.CharField(max_length=64, blank=True)
    split = models.CharField(max_length=16, choices=Split.choices, blank=True, default="")
    source = models.CharField(max_length=64, default="manual")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.text[:80]


class Deliberation(models.Model):
    """A moderator's study: which questions, how groups form, and how rounds are mediated."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    class Panel(models.TextChoices):
        NONE = "none", "None (invitation link)"
        PROLIFIC = "prolific", "Prolific"
        MTURK = "mturk", "MTurk"
        GENERIC = "generic", "Generic (?xid=)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=TEXT_MAX)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    questions = models.ManyToManyField(
        Question, through="DeliberationQuestion", related_name="deliberations"
    )
    group_size = models.PositiveSmallIntegerField(default=5)
    min_group_size = models.PositiveSmallIntegerField(default=3)
    critique_iterations = models.PositiveSmallIntegerField(
        default=0, help_text="0: opinion only; k: k critique iterations after the opinion one."
    )
    opinion_seconds = models.PositiveIntegerField(default=600)
    critique_seconds = models.PositiveIntegerField(default=600)
    rating_seconds = models.PositiveIntegerField(default=600)
    pool_wait_seconds = models.PositiveIntegerField(default=900)
    mediation_config = models.JSONField(
        default=dict, blank=True, help_text="Overrides of the server's mediation config."
    )
    consent_text = models.TextField(max_length=10_000)
    consent_version = models.CharField(max_length=32, default="1")
    panel = models.CharField(max_length=16, choices=Panel.choices, default=Panel.NONE)
    completion_code = models.CharField(max_length=64, blank=True)
    exclusion_count = models.PositiveSmallIntegerField(
        default=1, help_text="Members left out of the mediation in the exclusion condition."
    )
    fill_with_bots = models.BooleanField(
        default=False, help_text="Fill empty seats with bot participants (demos and pilots)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("moderate", "Can create and run deliberations")]
        constraints = [
            models.CheckConstraint(
                condition=Q(group_size__gte=1) & Q(group_size__lte=20), name="group_size_1_20"
            ),
            models.CheckConstraint(
                condition=Q(min_group_size__gte=1) & Q(min_group_size__lte=models.F("group_size")),
                name="min_group_size_le_group_size",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def iterations_per_round(self) -> int:
        return 1 + self.critique_iterations


class DeliberationQuestion(models.Model):
    deliberation = models.ForeignKey(
        Deliberation, on_delete=models.CASCADE, related_name="question_links"
    )
    question = models.ForeignKey(Question, on_delete=models.PROTECT)
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["deliberation", "position"], name="one_question_per_position"
            ),
            models.UniqueConstraint(
                fields=["deliberation", "question"], name="question_once_per_deliberation"
            ),
        ]


class Condition(models.Model):
    """An experimental arm. Groups are assigned to conditions randomised and balanced."""

    deliberation = models.ForeignKey(
        Deliberation, on_delete=models.CASCADE, related_name="conditions"
    )
    name = models.SlugField(max_length=64)
    description = models.CharField(max_length=500, blank=True)
    mediation_config = models.JSONField(default=dict, blank=True)
    comparisons = models.JSONField(
        default=list,
        blank=True,
        help_text='Statements shown beside the winner: "best_opinion", "baseline".',
    )
    baseline_config = models.JSONField(default=dict, blank=True)
    exclusion = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["deliberation", "name"], name="condition_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Group(models.Model):
    class Status(models.TextChoices):
        FORMING = "forming", "Forming"
        ACTIVE = "active", "Active"
        DONE = "done", "Done"
        ENDED = "ended", "Ended by a moderator"

    deliberation = models.ForeignKey(Deliberation, on_delete=models.CASCADE, related_name="groups")
    number = models.PositiveIntegerField()
    condition = models.ForeignKey(
        Condition, null=True, blank=True, on_delete=models.PROTECT, related_name="groups"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.FORMING)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["deliberation", "number"]
        constraints = [
            models.UniqueConstraint(fields=["deliberation", "number"], name="group_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.deliberation} · group {self.number}"


class Participant(models.Model):
    """A pseudonymous member. Panel ids live apart, in `PanelIdentity`."""

    class Status(models.TextChoices):
        JOINED = "joined", "Joined (not consented)"
        WAITING = "waiting", "Waiting for a group"
        ACTIVE = "active", "Active"
        DROPPED = "dropped", "Dropped out"
        COMPLETED = "completed", "Completed"
        RELEASED = "released", "Released from the pool"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    deliberation = models.ForeignKey(
        Deliberation, on_delete=models.CASCADE, related_name="participants"
    )
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    seat = models.PositiveSmallIntegerField(null=True, blank=True)
    provenance = models.CharField(
        max_length=32, choices=Provenance.choices, default=Provenance.HUMAN_CITIZEN
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.JOINED)
    joined_at = models.DateTimeField(auto_now_add=True)
    grouped_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "seat"],
                condition=Q(group__isnull=False),
                name="one_member_per_seat",
            )
        ]

    def __str__(self) -> str:
        return str(self.public_id)[:8]

    @property
    def is_bot(self) -> bool:
        return self.provenance == Provenance.BOT_CITIZEN


class ConsentRecord(models.Model):
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="consents")
    version = models.CharField(max_length=32)
    text_sha256 = models.CharField(max_length=64)
    accepted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "version"], name="consent_once_per_version"
            )
        ]


class PanelIdentity(models.Model):
    """External panel ids (Prolific, MTurk, ?xid=), kept out of exports unless hashed."""

    participant = models.OneToOneField(
        Participant, on_delete=models.CASCADE, related_name="panel_identity"
    )
    panel = models.CharField(max_length=16, choices=Deliberation.Panel.choices)
    external_id = models.CharField(max_length=128)
    study_id = models.CharField(max_length=128, blank=True)
    session_id = models.CharField(max_length=128, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


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
    mediation_started_at = models.DateTimeField(null=True, blank=True)
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


class ModelVersion(models.Model):
    """A generator or reward model that served a round, so every statement can be traced."""

    class Role(models.TextChoices):
        GENERATOR = "generator", "Generator"
        REWARD = "reward", "Reward model"

    role = models.CharField(max_length=16, choices=Role.choices)
    backend = models.CharField(max_length=32)
    name = models.CharField(max_length=200)
    revision = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["role", "backend", "name", "revision"], name="model_version_unique"
            )
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


def likert(field: str) -> Q:
    return Q(**{f"{field}__gte": 1}) & Q(**{f"{field}__lte": 7})


class Rating(models.Model):
    """Agreement and quality, each 1-7. Never overwritten: a double submission is a no-op."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="ratings")
    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="ratings")
    iteration = models.ForeignKey(Iteration, on_delete=models.CASCADE, related_name="ratings")
    agreement = models.PositiveSmallIntegerField()
    quality = models.PositiveSmallIntegerField()
    response_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "statement", "iteration"], name="one_rating_per_member"
            ),
            models.CheckConstraint(condition=likert("agreement"), name="agreement_1_7"),
            models.CheckConstraint(condition=likert("quality"), name="quality_1_7"),
        ]


class Ranking(models.Model):
    """A member's order over the statements shown (best first), or the final round preference."""

    class Kind(models.TextChoices):
        STATEMENTS = "statements", "Statements of an iteration"
        FINAL = "final", "Final preference between the round's winners"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="rankings")
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="rankings")
    iteration = models.ForeignKey(
        Iteration, null=True, blank=True, on_delete=models.CASCADE, related_name="rankings"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    statement_ids = models.JSONField(help_text="Statement ids in the order shown.")
    numerical_ranks = models.JSONField(help_text="0 = best, per statement id in statement_ids.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "iteration", "kind"],
                condition=Q(iteration__isnull=False),
                name="one_ranking_per_iteration",
            ),
            models.UniqueConstraint(
                fields=["participant", "round", "kind"],
                condition=Q(iteration__isnull=True),
                name="one_final_ranking_per_round",
            ),
        ]


class PositionRating(models.Model):
    """Agreement with the question's position statement: index 0 before, 1 after the round."""

    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="position_ratings"
    )
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="position_ratings")
    index = models.PositiveSmallIntegerField()
    agreement = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "round", "index"], name="one_position_rating"
            ),
            models.CheckConstraint(condition=likert("agreement"), name="position_agreement_1_7"),
            models.CheckConstraint(condition=Q(index__lte=1), name="position_index_0_1"),
        ]


class SurveyResponse(models.Model):
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="survey_responses"
    )
    round = models.ForeignKey(
        Round, null=True, blank=True, on_delete=models.CASCADE, related_name="survey_responses"
    )
    item = models.CharField(max_length=64)
    value = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "round", "item"], name="one_survey_answer"
            )
        ]


class AuditLog(models.Model):
    """Moderator actions (hide, retry, extend, end), kept for the record."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.BigIntegerField()
    reason = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
