"""Members' responses (ratings, rankings, position ratings, surveys) and the audit log."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from deliberation.models.mediation import Statement
from deliberation.models.people import Participant
from deliberation.models.rounds import Iteration, Round


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
