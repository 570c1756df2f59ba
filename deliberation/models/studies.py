"""Questions and the studies (deliberations, conditions) that ask them."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

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


SURVEY_KINDS = ("likert", "text")


# The default survey's questions, in English; `default_survey_items(language)` translates them.
DEFAULT_SURVEY_TEXTS = {
    "helpful": gettext_noop(
        "How much did the group statements help you see the other members' views?"
    ),
    "represented": gettext_noop("How well did the final group statement represent your own view?"),
    "comment": gettext_noop("Anything else you would like to tell us about this round? (optional)"),
}


def default_survey_items(language: str | None = None) -> list[dict]:
    """The end-of-round survey of [T24]'s kind: short, optional free text last. Its questions
    are in `language` (one of settings.LANGUAGES), English when None."""
    items = [
        {"key": "helpful", "kind": "likert", "required": True},
        {"key": "represented", "kind": "likert", "required": True},
        {"key": "comment", "kind": "text", "required": False},
    ]
    with translation.override(language or "en"):
        return [
            {"key": item["key"], "text": gettext(DEFAULT_SURVEY_TEXTS[item["key"]]), **item}
            for item in items
        ]


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
    language = models.CharField(
        max_length=8,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        help_text="The language of the participants' pages, whatever their browser asks for. "
        "The moderator's own texts (questions, consent text, survey) are shown as written.",
    )
    panel = models.CharField(max_length=16, choices=Panel.choices, default=Panel.NONE)
    completion_code = models.CharField(max_length=64, blank=True)
    exclusion_count = models.PositiveSmallIntegerField(
        default=1, help_text="Members left out of the mediation in the exclusion condition."
    )
    fill_with_bots = models.BooleanField(
        default=False, help_text="Fill empty seats with bot participants (demos and pilots)."
    )
    bot_behaviour = models.JSONField(
        default=dict,
        blank=True,
        help_text='Planted effects for bot participants (simulate): {"bias": {role: delta}, '
        '"exclusion_penalty": d}. Bots only; people are never affected.',
    )
    position_ratings = models.BooleanField(
        default=True,
        help_text="Ask for agreement with the question's position statement before and after "
        "each round (when the question has one).",
    )
    survey_items = models.JSONField(
        default=default_survey_items,
        blank=True,
        help_text='End-of-round survey: [{"key", "text", "kind": "likert"|"text", '
        '"required"}]; an empty list asks nothing.',
    )
    dropout_seconds = models.PositiveIntegerField(
        default=120,
        help_text="A member who has not been seen for this long when a phase's deadline passes, "
        "and has not answered, is marked as dropped out; the group goes on without them.",
    )
    completion_url = models.CharField(
        max_length=500,
        blank=True,
        help_text="Where a member goes after the last step; {code} is replaced by the completion "
        "code. Empty: the panel's default (Prolific), or a thank-you page.",
    )
    release_code = models.CharField(
        max_length=64,
        blank=True,
        help_text="Code given to people released from the waiting pool (paid for their time).",
    )
    archived_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when a moderator archives it: hidden from the lists, closed, data kept.",
    )
    # The create page's submission id: the page posted twice (a double click, a resent form)
    # still creates one deliberation (`deliberation_create_once`).
    submission = models.CharField(max_length=32, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("moderate", "Can create and run deliberations"),
            ("research", "Can read results and export data of deliberations shared with them"),
            ("view_all", "Can read results and export data of every deliberation"),
            ("export_identifiers", "Can export panel identifiers (Prolific, MTurk, xid)"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(group_size__gte=1) & Q(group_size__lte=20), name="group_size_1_20"
            ),
            models.CheckConstraint(
                condition=Q(min_group_size__gte=1) & Q(min_group_size__lte=models.F("group_size")),
                name="min_group_size_le_group_size",
            ),
            models.UniqueConstraint(
                fields=["created_by", "submission"],
                condition=~Q(submission=""),
                name="deliberation_submission_once",
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
