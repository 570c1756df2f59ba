"""Run the mediator for an iteration and store everything it produced.

`iteration_mediate` is what the Celery task calls. It is idempotent: the work is claimed with a
conditional update, and the one-candidate-set-per-iteration constraint makes a repeat harmless.

A group's condition may name comparison statements, shown beside the winner to be rated in the
same way, in an order shuffled per member and without saying where each came from:

- `best_opinion`, in the opinion iteration only (the best opinion cannot change in a critique
  iteration, and showing it again would ask for the same rating twice): the opinion with the
  highest predicted welfare for the whole group (every member who wrote, included or excluded),
  scored as a candidate by the iteration's reward model and aggregated as the mediator
  aggregates (`inference.comparisons.best_opinion`).
- `baseline`, in every iteration: the statement of a baseline mediator built from the
  condition's `baseline_config` over the iteration's config, by default the same generator with
  N = 1 (no reranking). It gets the mediator's inputs: the included members' opinions and, in a
  critique iteration, the previous winner and their critiques.

Comparisons are computed after the mediation and stored in the same transaction as the
candidates; when one fails, the iteration fails with the reason and nothing is stored.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from deliberation import mediator
from deliberation.models import (
    TEXT_MAX,
    CandidateSet,
    Condition,
    Critique,
    Iteration,
    ModelVersion,
    Opinion,
    Participant,
    PositionRating,
    Prediction,
    Provenance,
    Statement,
)
from deliberation.selectors.iterations import previous_winner
from deliberation.services.conditions import BASELINE, BEST_OPINION, COMPARISONS
from deliberation.services.enqueue import bots_enqueue
from deliberation.services.leases import LeaseKept, holds_claim, mediation_claim
from deliberation.services.rounds import iteration_fail
from deliberation.services.versions import member_views_changed
from deliberation.storable import storable_json, storable_text
from inference.base import InferenceError, RewardModel, RoundText
from inference.comparisons import BestOpinion, best_opinion
from inference.config import MediationConfig
from inference.mediation import MediationResult, mediate_with_config

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundInputs:
    question: str
    members: list[Participant]
    opinion_ids: list[int]
    opinions: list[str]
    include: list[int]
    previous_winner: Statement | None
    critiques: list[str] | None
    affirming_statement: str = ""
    negating_statement: str = ""
    # Each member's agreement with the affirming statement before the round (None: not given).
    position_ratings: list[float | None] | None = None

    def round_text(self) -> RoundText:
        """The round's text as the backends read it, checked once here (`ValueError` when no
        backend could work with it)."""
        return RoundText(
            question=self.question,
            opinions=self.opinions,
            previous_winner=self.previous_winner.text if self.previous_winner else None,
            critiques=self.critiques,
            affirming_statement=self.affirming_statement,
            negating_statement=self.negating_statement,
            position_ratings=self.position_ratings,
        )


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
    before = dict(
        PositionRating.objects.filter(round=round_, index=0).values_list(
            "participant_id", "agreement"
        )
    )
    return RoundInputs(
        question=round_.question.text,
        members=members,
        opinion_ids=[o.pk for o in opinions],
        opinions=[o.text for o in opinions],
        include=include,
        previous_winner=winner,
        critiques=critiques,
        affirming_statement=round_.question.affirming_statement.strip(),
        negating_statement=round_.question.negating_statement.strip(),
        position_ratings=[before.get(m.pk) for m in members] if before else None,
    )


def iteration_mediate(*, iteration_id: int) -> CandidateSet | None:
    """Mediate one iteration that is in the `mediating` state.

    Returns the stored candidate set, or None when there was nothing to do (already mediated,
    held by a live task, not in the mediating state) or the mediation failed. The work is
    claimed with a lease that is renewed while it runs (`services.leases`). Whatever goes wrong
    (the model, a bug, the soft time limit) leaves the iteration `failed` with the reason, never
    `mediating`; every opinion and rating is untouched.
    """
    claimed_at = mediation_claim(iteration_id=iteration_id)
    if claimed_at is None:
        return CandidateSet.objects.filter(iteration_id=iteration_id).first()
    with LeaseKept(iteration_id=iteration_id, claimed_at=claimed_at):
        return _mediate_claimed(iteration_id, claimed_at)


def _mediate_claimed(iteration_id: int, claimed_at) -> CandidateSet | None:
    iteration = Iteration.objects.select_related(
        "round__group__deliberation", "round__group__condition", "round__question"
    ).get(pk=iteration_id)
    try:
        inputs = mediation_inputs(iteration)
        if not inputs.include:
            raise ValueError("every member who wrote was left out of the mediation")
        round_text = inputs.round_text()
        config, reward_version = mediator.iteration_setup(iteration)
        generator, reward_model = mediator.backends(config)
        result = mediate_with_config(
            round_text,
            config=config,
            generator=generator,
            reward_model=reward_model,
            include=inputs.include,
        )
        comparisons = comparisons_compute(
            iteration=iteration,
            inputs=inputs,
            round_text=round_text,
            config=config,
            reward_model=reward_model,
        )
        return _store(
            iteration, claimed_at, inputs, config.to_dict(), result, comparisons, reward_version
        )
    except IntegrityError:
        # Another worker stored this iteration's candidates first; theirs stand.
        return CandidateSet.objects.filter(iteration_id=iteration_id).first()
    except ComparisonFailed as exc:
        logger.warning("a comparison of iteration %s failed: %s", iteration_id, exc)
        reason = str(exc)
    except (InferenceError, ValueError) as exc:
        logger.warning("mediation of iteration %s failed: %s", iteration_id, exc)
        reason = f"{type(exc).__name__}: {exc}"
    except SoftTimeLimitExceeded:
        logger.warning("mediation of iteration %s ran past its time limit", iteration_id)
        reason = (
            f"The mediation took longer than its limit of {settings.MEDIATION_SOFT_TIME_LIMIT} s "
            "(MEDIATION_SOFT_TIME_LIMIT) and was stopped."
        )
    except Exception as exc:
        logger.exception("mediation of iteration %s crashed", iteration_id)
        reason = f"The mediation stopped on an unexpected error: {type(exc).__name__}: {exc}"
    _fail_if_held(iteration_id, claimed_at, reason)
    return None


def _fail_if_held(iteration_id: int, claimed_at, reason: str) -> None:
    """`iteration_fail`, unless the claim passed to another task meanwhile (theirs decides)."""
    iteration = Iteration.objects.filter(pk=iteration_id, mediation_started_at=claimed_at).first()
    if iteration is not None:
        iteration_fail(iteration=iteration, reason=reason)


class ComparisonFailed(Exception):
    """A comparison statement could not be made; the message is the iteration's failure reason."""


@dataclass(frozen=True)
class Comparisons:
    """What `comparisons_compute` produced; `None` for a comparison the iteration does not show."""

    best_opinion: BestOpinion | None = None
    baseline: MediationResult | None = None
    baseline_config: MediationConfig | None = None


def condition_comparisons(condition: Condition | None) -> list[str]:
    """The comparisons a condition names, each once, in the order given; `ValueError` for a
    name that is not one of `COMPARISONS` or a value that is not a list."""
    if condition is None:
        return []
    names = condition.comparisons or []
    if not isinstance(names, list):
        raise ValueError(f"condition {condition.name!r}: comparisons must be a list")
    unknown = [n for n in names if n not in COMPARISONS]
    if unknown:
        raise ValueError(
            f"condition {condition.name!r} names unknown comparisons {unknown!r}; "
            f"choose from {', '.join(COMPARISONS)}"
        )
    return list(dict.fromkeys(names))


def comparisons_compute(
    *,
    iteration: Iteration,
    inputs: RoundInputs,
    round_text: RoundText,
    config: MediationConfig,
    reward_model: RewardModel,
) -> Comparisons:
    """Run the comparisons the group's condition shows in this iteration (module docstring).

    Nothing is stored. Raises `ComparisonFailed`, naming the comparison and the backend's
    error, when one cannot be made; `ValueError` for a condition naming unknown comparisons.
    """
    names = condition_comparisons(iteration.round.group.condition)
    found = {}
    if BEST_OPINION in names and not iteration.is_critique:
        try:
            found["best_opinion"] = best_opinion(
                round_text,
                reward_model=reward_model,
                aggregation=config.aggregation,
                alpha=config.alpha,
                seed=config.seed,
            )
        except (InferenceError, ValueError) as exc:
            raise ComparisonFailed(_failure(BEST_OPINION, exc)) from exc
    if BASELINE in names:
        try:
            baseline_config = mediator.baseline_iteration_config(iteration, config)
            generator, baseline_reward = mediator.backends(baseline_config)
            found["baseline"] = mediate_with_config(
                round_text,
                config=baseline_config,
                generator=generator,
                reward_model=baseline_reward,
                include=inputs.include,
            )
        except (InferenceError, ValueError) as exc:
            raise ComparisonFailed(_failure(BASELINE, exc)) from exc
        found["baseline_config"] = baseline_config
    return Comparisons(**found)


def _failure(name: str, exc: Exception) -> str:
    return f"The {name} comparison failed: {type(exc).__name__}: {exc}"


def _model_version(description: dict, role: str) -> ModelVersion:
    version, _ = ModelVersion.objects.get_or_create(
        role=role,
        backend=storable_text(description.get("backend", "unknown"), limit=32),
        name=storable_text(description.get("model") or "unknown", limit=200),
        revision=storable_text(description.get("revision") or "", limit=200),
        defaults={"details": storable_json(description)},
    )
    return version


@transaction.atomic
def _store(
    iteration: Iteration,
    claimed_at,
    inputs: RoundInputs,
    config: dict,
    result: MediationResult,
    comparisons: Comparisons,
    reward_version: ModelVersion | None = None,
):
    iteration = Iteration.objects.select_for_update().get(pk=iteration.pk)
    if not holds_claim(iteration, claimed_at):
        return None  # failed, retried or taken over meanwhile
    generator = _model_version(result.generator, ModelVersion.Role.GENERATOR)
    # A registered version (promoted or pinned) is recorded as itself, so its statements trace
    # to the trained model and its metrics.
    reward = reward_version or _model_version(result.reward_model, ModelVersion.Role.REWARD)
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
                text=storable_text(candidate.text, limit=TEXT_MAX),
                provenance=Provenance.MODEL_MEDIATOR,
                model_version=generator,
                template_version=storable_text(
                    candidate.provenance.get("template_version", ""), limit=64
                ),
                seed=candidate.provenance.get("seed"),
                sample_index=candidate.provenance.get("sample_index"),
                metadata=storable_json(candidate.provenance),
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
    revisions = list(statements)
    if comparisons.best_opinion is not None:
        _store_best_opinion(iteration, inputs, comparisons.best_opinion)
    if comparisons.baseline is not None:
        revisions.append(
            _store_baseline(iteration, inputs, comparisons.baseline, comparisons.baseline_config)
        )
    if inputs.previous_winner is not None:
        Statement.parents.through.objects.bulk_create(
            [
                Statement.parents.through(
                    from_statement_id=statement.pk, to_statement_id=inputs.previous_winner.pk
                )
                for statement in revisions
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
    bots_enqueue(group=iteration.round.group)
    member_views_changed(group_ids=[iteration.round.group_id])
    return candidate_set


def _store_predictions(statement: Statement, members: list[Participant], values) -> None:
    Prediction.objects.bulk_create(
        [
            Prediction(statement=statement, participant=member, value=float(values[m]))
            for m, member in enumerate(members)
        ]
    )


def _store_best_opinion(iteration: Iteration, inputs: RoundInputs, found: BestOpinion) -> Statement:
    """The best opinion, shown; its metadata keeps every opinion's predictions and score."""
    data = found.to_dict()
    author = inputs.members[found.index]
    statement = Statement.objects.create(
        iteration=iteration,
        role=Statement.Role.BEST_OPINION,
        text=inputs.opinions[found.index],
        # The author's provenance: human_citizen, or bot_citizen in a pilot with bots.
        provenance=author.provenance,
        source_opinion_id=inputs.opinion_ids[found.index],
        group_score=float(found.scores[found.index]),
        shown=True,
        metadata={
            "comparison": BEST_OPINION,
            "opinion_ids": inputs.opinion_ids,
            "member_ids": [m.pk for m in inputs.members],
            "included_ids": [inputs.members[i].pk for i in found.included],
            "scores": data["scores"],
            "predictions": data["predictions"],
            "aggregation": data["aggregation"],
            "reward_model": data["reward_model"],
        },
    )
    _store_predictions(statement, inputs.members, found.predictions[:, found.index])
    return statement


def _store_baseline(
    iteration: Iteration, inputs: RoundInputs, result: MediationResult, config: MediationConfig
) -> Statement:
    """The baseline mediator's winner (its only sample when N = 1), shown."""
    data = result.to_dict()
    winner = result.winning_candidate
    statement = Statement.objects.create(
        iteration=iteration,
        role=Statement.Role.BASELINE,
        text=storable_text(winner.text, limit=TEXT_MAX),
        provenance=Provenance.MODEL_MEDIATOR,
        model_version=_model_version(result.generator, ModelVersion.Role.GENERATOR),
        template_version=storable_text(winner.provenance.get("template_version", ""), limit=64),
        seed=winner.provenance.get("seed"),
        sample_index=winner.provenance.get("sample_index"),
        group_score=float(result.scores[result.winner]),
        shown=True,
        metadata=storable_json(
            {
                "comparison": BASELINE,
                "config": config.to_dict(),
                "candidate": winner.provenance,
                "candidates": data["candidates"],
                "member_ids": [m.pk for m in inputs.members],
                "included_ids": [inputs.members[i].pk for i in result.included],
                "predictions": data["predictions"],
                "scores": data["scores"],
                "winner": data["winner"],
                "aggregation": data["aggregation"],
                "reward_model": data["reward_model"],
                "timings": data["timings"],
            }
        ),
    )
    _store_predictions(statement, inputs.members, result.predictions[:, result.winner])
    return statement
