"""Run the mediator for an iteration and store everything it produced.

`iteration_mediate` is what the Celery task calls. It is idempotent: the work is claimed with a
conditional update, and the one-candidate-set-per-iteration constraint makes a repeat harmless.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from deliberation import mediator
from deliberation.models import (
    CandidateSet,
    Critique,
    Iteration,
    ModelVersion,
    Opinion,
    Participant,
    Prediction,
    Provenance,
    Statement,
)
from deliberation.services.rounds import _enqueue_bots, iteration_fail, previous_winner
from inference.base import InferenceError
from inference.mediation import MediationResult, mediate_with_config

logger = logging.getLogger(__name__)

# A claim older than this is presumed dead (the worker was killed) and may be taken over.
CLAIM_LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class RoundInputs:
    question: str
    members: list[Participant]
    opinions: list[str]
    include: list[int]
    previous_winner: Statement | None
    critiques: list[str] | None


def mediation_inputs(iteration: Iteration) -> RoundInputs:
    """The round's text as the mediator sees it: visible opinions of members who wrote one, in
    seat order; in a critique iteration also the previous winner and each member's critique.
    Members excluded from the round (exclusion condition) are predicted for but not written from.
    """
    round_ = iteration.round
    opinion_iteration = round_.iterations.get(index=0)
    opinions = list(
        Opinion.objects.filter(iteration=opinion_iteration, hidden=False)
        .exclude(participant__status__in=[Participant.Status.DROPPED, Participant.Status.RELEASED])
        .select_related("participant")
        .order_by("participant__seat")
    )
    winner = previous_winner(iteration)
    critiques = None
    if iteration.is_critique:
        by_member = {
            c.participant_id: c.text
            for c in Critique.objects.filter(iteration=iteration, hidden=False)
        }
        opinions = [o for o in opinions if o.participant_id in by_member]
        critiques = [by_member[o.participant_id] for o in opinions]
    excluded = set(round_.excluded.values_list("pk", flat=True))
    members = [o.participant for o in opinions]
    include = [i for i, m in enumerate(members) if m.pk not in excluded]
    return RoundInputs(
        question=round_.question.text,
        members=members,
        opinions=[o.text for o in opinions],
        include=include,
        previous_winner=winner,
        critiques=critiques,
    )


def _claim(iteration_id: int) -> bool:
    now = timezone.now()
    claimed = (
        Iteration.objects.filter(pk=iteration_id, state=Iteration.State.MEDIATING)
        .filter(
            Q(mediation_started_at__isnull=True) | Q(mediation_started_at__lt=now - CLAIM_LEASE)
        )
        .filter(candidate_set__isnull=True)
        .update(
            mediation_started_at=now,
            mediation_attempts=F("mediation_attempts") + 1,
            updated_at=now,
        )
    )
    return claimed == 1


def iteration_mediate(*, iteration_id: int) -> CandidateSet | None:
    """Mediate one iteration that is in the `mediating` state.

    Returns the stored candidate set, or None when there was nothing to do (already mediated,
    claimed by another worker, not in the mediating state) or the mediation failed; a failure
    leaves the iteration `failed` with the reason, and every opinion and rating untouched.
    """
    if not _claim(iteration_id):
        return CandidateSet.objects.filter(iteration_id=iteration_id).first()
    iteration = Iteration.objects.select_related(
        "round__group__deliberation", "round__group__condition", "round__question"
    ).get(pk=iteration_id)
    try:
        inputs = mediation_inputs(iteration)
        if not inputs.include:
            raise ValueError("every member who wrote was left out of the mediation")
        config = mediator.iteration_config(iteration)
        generator, reward_model = mediator.backends(config)
        result = mediate_with_config(
            config=config,
            generator=generator,
            reward_model=reward_model,
            question=inputs.question,
            opinions=inputs.opinions,
            previous_winner=inputs.previous_winner.text if inputs.previous_winner else None,
            critiques=inputs.critiques,
            include=inputs.include,
        )
    except (InferenceError, ValueError) as exc:
        logger.warning("mediation of iteration %s failed: %s", iteration_id, exc)
        iteration_fail(iteration=iteration, reason=f"{type(exc).__name__}: {exc}")
        return None
    try:
        return _store(iteration, inputs, config.to_dict(), result)
    except IntegrityError:
        # Another worker stored this iteration's candidates first; theirs stand.
        return CandidateSet.objects.filter(iteration_id=iteration_id).first()


def _model_version(description: dict, role: str) -> ModelVersion:
    version, _ = ModelVersion.objects.get_or_create(
        role=role,
        backend=str(description.get("backend", "unknown"))[:32],
        name=str(description.get("model") or "unknown")[:200],
        revision=str(description.get("revision") or "")[:200],
        defaults={"details": description},
    )
    return version


@transaction.atomic
def _store(iteration: Iteration, inputs: RoundInputs, config: dict, result: MediationResult):
    iteration = Iteration.objects.select_for_update().get(pk=iteration.pk)
    if iteration.state != Iteration.State.MEDIATING:
        return None
    generator = _model_version(result.generator, ModelVersion.Role.GENERATOR)
    reward = _model_version(result.reward_model, ModelVersion.Role.REWARD)
    data = result.to_dict()
    aggregation = data.get("aggregation", {})
    alpha = aggregation.get("alpha")
    candidate_set = CandidateSet.objects.create(
        iteration=iteration,
        generator=generator,
        reward_model=reward,
        config=config,
        aggregation=aggregation.get("method", config.get("aggregation", "")),
        alpha=float("inf") if alpha == "inf" else alpha,
        seed=config.get("seed", 0),
        member_ids=[m.pk for m in inputs.members],
        included_ids=[inputs.members[i].pk for i in result.included],
        predictions=data["predictions"],
        scores=data["scores"],
        rankings={k: v for k, v in aggregation.items() if k not in ("method", "alpha")},
        timings=data.get("timings", {}),
    )
    order = sorted(range(len(result.candidates)), key=lambda c: -float(result.scores[c]))
    rank_of = {c: r for r, c in enumerate(order)}
    statements = Statement.objects.bulk_create(
        [
            Statement(
                iteration=iteration,
                candidate_set=candidate_set,
                index=c,
                role=Statement.Role.CANDIDATE,
                text=candidate.text,
                provenance=Provenance.MODEL_MEDIATOR,
                model_version=generator,
                template_version=str(candidate.provenance.get("template_version", ""))[:64],
                seed=candidate.provenance.get("seed"),
                sample_index=candidate.provenance.get("sample_index"),
                metadata=candidate.provenance,
                group_score=float(result.scores[c]),
                rank=rank_of[c],
                is_winner=c == result.winner,
                shown=c == result.winner,
            )
            for c, candidate in enumerate(result.candidates)
        ]
    )
    Prediction.objects.bulk_create(
        [
            Prediction(
                statement=statement, participant=member, value=float(result.predictions[m, c])
            )
            for c, statement in enumerate(statements)
            for m, member in enumerate(inputs.members)
        ]
    )
    if inputs.previous_winner is not None:
        Statement.parents.through.objects.bulk_create(
            [
                Statement.parents.through(
                    from_statement_id=statement.pk, to_statement_id=inputs.previous_winner.pk
                )
                for statement in statements
            ]
        )
    deliberation = iteration.round.group.deliberation
    now = timezone.now()
    iteration.state = Iteration.State.RATING
    iteration.failure_reason = ""
    iteration.mediation_finished_at = now
    iteration.deadline = now + timedelta(seconds=deliberation.rating_seconds)
    iteration.save(
        update_fields=["state", "failure_reason", "mediation_finished_at", "deadline", "updated_at"]
    )
    _enqueue_bots(iteration.round.group)
    return candidate_set
