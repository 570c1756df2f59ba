"""The Django admin: for looking things up and fixing the odd record.

Panel ids (Prolific, MTurk, ...) appear only on the PanelIdentity pages; no other page lists,
searches or links them, so that browsing participants does not expose who they are.
"""

from django.contrib import admin

from deliberation import models


class DeliberationQuestionInline(admin.TabularInline):
    model = models.DeliberationQuestion
    extra = 0
    raw_id_fields = ["question"]
    ordering = ["position"]


class ConditionInline(admin.StackedInline):
    model = models.Condition
    extra = 0


class ShareInline(admin.TabularInline):
    model = models.DeliberationShare
    fk_name = "deliberation"
    extra = 0
    raw_id_fields = ["user", "created_by"]


@admin.register(models.Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ["id", "text", "topic", "split", "source", "external_id", "created_at"]
    list_filter = ["split", "source", "topic"]
    search_fields = ["text", "affirming_statement", "negating_statement", "external_id"]


@admin.register(models.Deliberation)
class DeliberationAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "status",
        "group_size",
        "min_group_size",
        "critique_iterations",
        "panel",
        "fill_with_bots",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "language", "panel", "fill_with_bots"]
    search_fields = ["title", "description", "=public_id"]
    raw_id_fields = ["created_by"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    inlines = [DeliberationQuestionInline, ConditionInline, ShareInline]


@admin.register(models.Condition)
class ConditionAdmin(admin.ModelAdmin):
    list_display = ["name", "deliberation", "exclusion"]
    list_filter = ["exclusion"]
    search_fields = ["name", "deliberation__title"]
    raw_id_fields = ["deliberation"]


@admin.register(models.Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ["__str__", "number", "status", "condition", "created_at", "started_at"]
    list_filter = ["status"]
    search_fields = ["deliberation__title"]
    raw_id_fields = ["deliberation", "condition"]
    list_select_related = ["deliberation", "condition"]


@admin.register(models.Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "deliberation",
        "group",
        "seat",
        "provenance",
        "status",
        "joined_at",
        "last_seen_at",
    ]
    list_filter = ["status", "provenance"]
    search_fields = ["=public_id", "deliberation__title"]
    raw_id_fields = ["deliberation", "group"]
    readonly_fields = ["public_id"]
    list_select_related = ["deliberation", "group__deliberation"]


@admin.register(models.ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    list_display = ["participant", "version", "text_sha256", "accepted_at"]
    list_filter = ["version"]
    search_fields = ["=participant__public_id"]
    raw_id_fields = ["participant"]


@admin.register(models.PanelIdentity)
class PanelIdentityAdmin(admin.ModelAdmin):
    list_display = ["participant", "panel", "external_id", "study_id", "session_id", "created_at"]
    list_filter = ["panel"]
    search_fields = ["external_id", "study_id", "session_id", "=participant__public_id"]
    raw_id_fields = ["participant"]


class IterationInline(admin.TabularInline):
    model = models.Iteration
    extra = 0
    fields = ["index", "state", "deadline", "failure_reason", "mediation_attempts"]
    show_change_link = True


@admin.register(models.Round)
class RoundAdmin(admin.ModelAdmin):
    list_display = ["id", "group", "position", "question", "status", "started_at", "ended_at"]
    list_filter = ["status"]
    search_fields = ["group__deliberation__title", "question__text"]
    raw_id_fields = ["group", "question", "excluded"]
    list_select_related = ["group__deliberation", "question"]
    inlines = [IterationInline]


@admin.register(models.Iteration)
class IterationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "round",
        "index",
        "state",
        "deadline",
        "mediation_attempts",
        "failure_reason",
        "updated_at",
    ]
    list_filter = ["state", "index"]
    search_fields = ["failure_reason", "round__group__deliberation__title"]
    raw_id_fields = ["round"]


class MemberTextAdmin(admin.ModelAdmin):
    list_display = ["id", "participant", "iteration", "short_text", "hidden", "created_at"]
    list_filter = ["hidden"]
    search_fields = ["text", "=participant__public_id"]
    raw_id_fields = ["iteration", "participant", "hidden_by"]

    @admin.display(description="text")
    def short_text(self, obj) -> str:
        return obj.text[:80]


@admin.register(models.Opinion)
class OpinionAdmin(MemberTextAdmin):
    pass


@admin.register(models.Critique)
class CritiqueAdmin(MemberTextAdmin):
    raw_id_fields = [*MemberTextAdmin.raw_id_fields, "statement"]


@admin.register(models.ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["id", "role", "backend", "name", "status", "promoted_at", "created_at"]
    list_filter = ["role", "backend", "status"]
    search_fields = ["name", "revision", "path"]
    # Promotion goes through `manage.py promote_model` (the gate, the audit log), not the form.
    readonly_fields = ["status", "promoted_at"]


@admin.register(models.CandidateSet)
class CandidateSetAdmin(admin.ModelAdmin):
    list_display = ["id", "iteration", "aggregation", "alpha", "seed", "generator", "created_at"]
    list_filter = ["aggregation"]
    raw_id_fields = ["iteration", "generator", "reward_model"]


@admin.register(models.Statement)
class StatementAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "iteration",
        "index",
        "role",
        "provenance",
        "group_score",
        "rank",
        "is_winner",
        "shown",
    ]
    list_filter = ["role", "provenance", "is_winner", "shown"]
    search_fields = ["text"]
    raw_id_fields = [
        "iteration",
        "candidate_set",
        "model_version",
        "parents",
        "source_opinion",
    ]


@admin.register(models.Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ["statement", "participant", "value"]
    raw_id_fields = ["statement", "participant"]


@admin.register(models.Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["id", "participant", "statement", "iteration", "agreement", "quality"]
    list_filter = ["agreement", "quality"]
    search_fields = ["=participant__public_id"]
    raw_id_fields = ["participant", "statement", "iteration"]


@admin.register(models.Ranking)
class RankingAdmin(admin.ModelAdmin):
    list_display = ["id", "participant", "round", "iteration", "kind", "created_at"]
    list_filter = ["kind"]
    search_fields = ["=participant__public_id"]
    raw_id_fields = ["participant", "round", "iteration"]


@admin.register(models.PositionRating)
class PositionRatingAdmin(admin.ModelAdmin):
    list_display = ["id", "participant", "round", "index", "agreement", "created_at"]
    list_filter = ["index", "agreement"]
    search_fields = ["=participant__public_id"]
    raw_id_fields = ["participant", "round"]


@admin.register(models.SurveyResponse)
class SurveyResponseAdmin(admin.ModelAdmin):
    list_display = ["id", "participant", "round", "item", "value", "created_at"]
    list_filter = ["item"]
    search_fields = ["item", "=participant__public_id"]
    raw_id_fields = ["participant", "round"]


@admin.register(models.AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor", "action", "target_type", "target_id", "reason"]
    list_filter = ["action", "target_type"]
    search_fields = ["reason", "actor__username"]
    raw_id_fields = ["actor"]


@admin.register(models.DeliberationShare)
class DeliberationShareAdmin(admin.ModelAdmin):
    list_display = ["deliberation", "user", "role", "created_by", "created_at"]
    list_filter = ["role"]
    search_fields = ["deliberation__title", "user__username"]
    raw_id_fields = ["deliberation", "user", "created_by"]


@admin.register(models.ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made by their owner on the API tokens page (the secret is shown only there);
    here an administrator can look them up and revoke one (set `revoked_at`)."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["user", "name", "key_sha256", "prefix", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False


@admin.register(models.ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ["public_id", "deliberation", "created_by", "schema", "fmt", "status"]
    list_filter = ["status", "schema", "fmt", "include_identifiers"]
    raw_id_fields = ["deliberation", "created_by"]
    readonly_fields = [field.name for field in models.ExportJob._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(models.WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    """Written by the workers themselves; read here (and on /healthz/), never edited."""

    list_display = ["name", "hostname", "pid", "started_at", "seen_at"]
    readonly_fields = ["name", "hostname", "pid", "started_at", "seen_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
