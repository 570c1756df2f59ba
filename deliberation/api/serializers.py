"""Shapes in and out of the API. Serializers check shape only; the rules are the services'.
Participants appear only as their export pseudonym (a salted hash), never their UUID."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from deliberation.exports.pseudonyms import participant_pseudonym
from deliberation.models import (
    Condition,
    Deliberation,
    ExportJob,
    Group,
    Iteration,
    Provenance,
    Question,
    Ranking,
    Rating,
    Round,
    Statement,
)


class ConditionOut(serializers.ModelSerializer):
    class Meta:
        model = Condition
        fields = ["name", "description", "comparisons", "exclusion", "mediation_config"]


class DeliberationOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    owner = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    conditions = ConditionOut(many=True)
    questions = serializers.SerializerMethodField()
    iterations_per_round = serializers.IntegerField()

    class Meta:
        model = Deliberation
        fields = [
            "id",
            "title",
            "description",
            "status",
            "owner",
            "created_at",
            "group_size",
            "min_group_size",
            "critique_iterations",
            "iterations_per_round",
            "language",
            "panel",
            "fill_with_bots",
            "mediation_config",
            "conditions",
            "questions",
        ]

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "text": {"type": "string"}},
                "required": ["id", "text"],
            },
        }
    )
    def get_questions(self, deliberation) -> list[dict]:
        return [
            {"id": link.question_id, "text": link.question.text}
            for link in deliberation.question_links.all()
        ]


class GroupOut(serializers.ModelSerializer):
    deliberation = serializers.UUIDField(source="deliberation.public_id")
    condition = serializers.CharField(source="condition.name", default=None, allow_null=True)
    member_count = serializers.IntegerField()

    class Meta:
        model = Group
        fields = [
            "id",
            "deliberation",
            "number",
            "condition",
            "status",
            "member_count",
            "created_at",
            "started_at",
            "ended_at",
            "ended_reason",
        ]


class RoundOut(serializers.ModelSerializer):
    deliberation = serializers.UUIDField(source="group.deliberation.public_id")
    condition = serializers.CharField(source="group.condition.name", default=None, allow_null=True)
    question_text = serializers.CharField(source="question.text")

    class Meta:
        model = Round
        fields = [
            "id",
            "deliberation",
            "group",
            "condition",
            "position",
            "question",
            "question_text",
            "status",
            "started_at",
            "ended_at",
        ]


class IterationOut(serializers.ModelSerializer):
    deliberation = serializers.UUIDField(source="round.group.deliberation.public_id")
    group = serializers.IntegerField(source="round.group_id")
    condition = serializers.CharField(
        source="round.group.condition.name", default=None, allow_null=True
    )

    class Meta:
        model = Iteration
        fields = [
            "id",
            "deliberation",
            "group",
            "condition",
            "round",
            "index",
            "state",
            "deadline",
            "failure_reason",
            "mediation_started_at",
            "mediation_finished_at",
        ]


class PredictionOut(serializers.Serializer):
    participant = serializers.SerializerMethodField()
    value = serializers.FloatField()

    def get_participant(self, prediction) -> str:
        return participant_pseudonym(prediction.participant.public_id)


class ModelVersionOut(serializers.Serializer):
    role = serializers.CharField()
    backend = serializers.CharField()
    name = serializers.CharField()
    revision = serializers.CharField()


class StatementOut(serializers.ModelSerializer):
    model_version = ModelVersionOut(allow_null=True)
    predictions = PredictionOut(many=True)

    class Meta:
        model = Statement
        fields = [
            "id",
            "index",
            "role",
            "text",
            "provenance",
            "model_version",
            "template_version",
            "seed",
            "group_score",
            "rank",
            "is_winner",
            "shown",
            "predictions",
        ]


class IterationDetailOut(IterationOut):
    statements = StatementOut(many=True)
    winner = serializers.SerializerMethodField()
    aggregation = serializers.SerializerMethodField()

    class Meta(IterationOut.Meta):
        fields = IterationOut.Meta.fields + ["statements", "winner", "aggregation"]

    def get_winner(self, iteration) -> int | None:
        return next((s.pk for s in iteration.statements.all() if s.is_winner), None)

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {
                "method": {"type": "string"},
                "alpha": {"type": "number", "nullable": True},
                "seed": {"type": "integer"},
                "scores": {"type": "array", "items": {"type": "number"}},
            },
        }
    )
    def get_aggregation(self, iteration) -> dict | None:
        candidate_set = getattr(iteration, "candidate_set", None)
        if candidate_set is None:
            return None
        return {
            "method": candidate_set.aggregation,
            "alpha": candidate_set.alpha,
            "seed": candidate_set.seed,
            "scores": candidate_set.scores,
        }


class _ResponseOut(serializers.ModelSerializer):
    participant = serializers.SerializerMethodField()
    bot = serializers.SerializerMethodField()

    def get_participant(self, row) -> str:
        return participant_pseudonym(row.participant.public_id)

    def get_bot(self, row) -> bool:
        return row.participant.provenance == Provenance.BOT_CITIZEN


class RatingOut(_ResponseOut):
    deliberation = serializers.UUIDField(source="iteration.round.group.deliberation.public_id")
    condition = serializers.CharField(
        source="iteration.round.group.condition.name", default=None, allow_null=True
    )
    group = serializers.IntegerField(source="iteration.round.group_id")
    round = serializers.IntegerField(source="iteration.round_id")

    class Meta:
        model = Rating
        fields = [
            "id",
            "participant",
            "bot",
            "deliberation",
            "condition",
            "group",
            "round",
            "iteration",
            "statement",
            "agreement",
            "quality",
            "response_duration_ms",
            "created_at",
        ]


class RankingOut(_ResponseOut):
    deliberation = serializers.UUIDField(source="round.group.deliberation.public_id")
    condition = serializers.CharField(
        source="round.group.condition.name", default=None, allow_null=True
    )
    group = serializers.IntegerField(source="round.group_id")
    statement_ids = serializers.ListField(child=serializers.IntegerField())
    numerical_ranks = serializers.ListField(child=serializers.IntegerField())

    class Meta:
        model = Ranking
        fields = [
            "id",
            "participant",
            "bot",
            "deliberation",
            "condition",
            "group",
            "round",
            "iteration",
            "kind",
            "statement_ids",
            "numerical_ranks",
            "created_at",
        ]


class QuestionOut(serializers.ModelSerializer):
    class Meta:
        model = Question
        fields = [
            "id",
            "external_id",
            "text",
            "affirming_statement",
            "negating_statement",
            "topic",
            "split",
            "source",
            "created_at",
        ]


# Filters (query parameters), checked for shape.


class ScopeFilter(serializers.Serializer):
    deliberation = serializers.UUIDField(required=False, help_text="A deliberation's id.")
    condition = serializers.SlugField(required=False, max_length=64, help_text="A condition.")


class GroupScopeFilter(ScopeFilter):
    group = serializers.IntegerField(required=False, min_value=1, max_value=2**62)


class RoundScopeFilter(ScopeFilter):
    round = serializers.IntegerField(required=False, min_value=1, max_value=2**62)


class ResponseFilter(ScopeFilter):
    iteration = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    since = serializers.DateTimeField(required=False, help_text="Created at or after (ISO 8601).")
    until = serializers.DateTimeField(required=False, help_text="Created before (ISO 8601).")
    include_bots = serializers.BooleanField(
        required=False, default=False, help_text="Bots' responses too (marked `bot`)."
    )


class QuestionFilter(serializers.Serializer):
    search = serializers.CharField(required=False, max_length=200, help_text="Text contains.")
    topic = serializers.CharField(required=False, max_length=64)
    split = serializers.ChoiceField(
        required=False, choices=["train", "iid_test", "ood_test", "none"]
    )


class QuestionImportIn(serializers.Serializer):
    file = serializers.FileField(help_text="CSV or JSON, as for `manage.py import_questions`.")
    format = serializers.ChoiceField(choices=["csv", "json"], required=False)
    source = serializers.CharField(required=False, max_length=64, allow_blank=True)
    dry_run = serializers.BooleanField(required=False, default=False)


class SkippedRowOut(serializers.Serializer):
    row = serializers.IntegerField()
    reason = serializers.CharField()


class QuestionImportOut(serializers.Serializer):
    format = serializers.CharField()
    source = serializers.CharField()
    dry_run = serializers.BooleanField()
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    already_present = serializers.IntegerField()
    skipped = SkippedRowOut(many=True)


class ExportIn(serializers.Serializer):
    deliberation = serializers.UUIDField()
    schema = serializers.ChoiceField(choices=ExportJob.Schema.choices)
    format = serializers.ChoiceField(choices=ExportJob.Format.choices)
    include_bots = serializers.BooleanField(required=False, default=False)
    include_identifiers = serializers.BooleanField(required=False, default=False)


class ExportOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    deliberation = serializers.UUIDField(source="deliberation.public_id")
    format = serializers.CharField(source="fmt")
    percent = serializers.IntegerField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "deliberation",
            "schema",
            "format",
            "include_bots",
            "include_identifiers",
            "status",
            "percent",
            "progress_done",
            "progress_total",
            "size_bytes",
            "rows",
            "error",
            "created_at",
            "finished_at",
            "expires_at",
            "download_url",
        ]

    def get_download_url(self, job) -> str | None:
        if job.status != ExportJob.Status.DONE or not job.file_name:
            return None
        request = self.context.get("request")
        path = reverse("api:export_download", args=[job.public_id])
        return request.build_absolute_uri(path) if request else path
