"""A deliberation's life after set-up: cloned into a new draft, archived, restored.

Each change is one transaction and one audit-log entry with its actor.
"""

from django.db import transaction
from django.utils import timezone

from deliberation.errors import DomainError
from deliberation.models import AuditLog, Condition, Deliberation, DeliberationQuestion
from deliberation.services.deliberations import TITLE_MAX
from deliberation.services.versions import member_views_changed

# Everything that defines the study; not its identity, owner, status, consent history or dates.
COPIED_FIELDS = (
    "description",
    "group_size",
    "min_group_size",
    "critique_iterations",
    "opinion_seconds",
    "critique_seconds",
    "rating_seconds",
    "pool_wait_seconds",
    "mediation_config",
    "consent_text",
    "language",
    "panel",
    "completion_code",
    "exclusion_count",
    "fill_with_bots",
    "bot_behaviour",
    "position_ratings",
    "survey_items",
    "dropout_seconds",
    "completion_url",
    "release_code",
)
CONDITION_FIELDS = ("name", "description", "mediation_config", "comparisons", "baseline_config")


def deliberation_clone(*, deliberation: Deliberation, actor) -> Deliberation:
    """A new draft with the same questions (in order), settings, consent text and conditions,
    owned by `actor`; nobody can join it until it is opened. Participants and their data stay
    with the original."""
    title = f"Copy of {deliberation.title}"[:TITLE_MAX]
    with transaction.atomic():
        copy = Deliberation.objects.create(
            title=title,
            created_by=actor,
            status=Deliberation.Status.DRAFT,
            **{field: getattr(deliberation, field) for field in COPIED_FIELDS},
        )
        DeliberationQuestion.objects.bulk_create(
            DeliberationQuestion(deliberation=copy, question_id=link.question_id, position=i)
            for i, link in enumerate(deliberation.question_links.order_by("position"))
        )
        Condition.objects.bulk_create(
            Condition(
                deliberation=copy,
                exclusion=condition.exclusion,
                **{field: getattr(condition, field) for field in CONDITION_FIELDS},
            )
            for condition in deliberation.conditions.order_by("id")
        )
        AuditLog.objects.create(
            actor=actor,
            action="deliberation_clone",
            target_type="deliberation",
            target_id=copy.pk,
            data={"from": str(deliberation.public_id), "to": str(copy.public_id)},
        )
    return copy


def deliberation_archive(*, deliberation: Deliberation, actor) -> Deliberation:
    """Hide the deliberation from the lists and close it to new participants; every row of its
    data is kept (exports and results still read it). Archiving twice changes nothing."""
    with transaction.atomic():
        current = Deliberation.objects.select_for_update().get(pk=deliberation.pk)
        if current.archived_at is not None:
            return current
        before = current.status
        current.archived_at = timezone.now()
        if current.status == Deliberation.Status.OPEN:
            current.status = Deliberation.Status.CLOSED
        current.save(update_fields=["archived_at", "status"])
        member_views_changed(deliberation_id=current.pk)
        AuditLog.objects.create(
            actor=actor,
            action="deliberation_archive",
            target_type="deliberation",
            target_id=current.pk,
            data={"status_before": before, "status_after": current.status},
        )
    return current


def deliberation_restore(*, deliberation: Deliberation, actor) -> Deliberation:
    """Back in the lists (still closed: open it again on purpose)."""
    with transaction.atomic():
        current = Deliberation.objects.select_for_update().get(pk=deliberation.pk)
        if current.archived_at is None:
            raise DomainError("This deliberation is not archived.", code="not_archived")
        current.archived_at = None
        current.save(update_fields=["archived_at"])
        AuditLog.objects.create(
            actor=actor,
            action="deliberation_restore",
            target_type="deliberation",
            target_id=current.pk,
            data={},
        )
    return current
