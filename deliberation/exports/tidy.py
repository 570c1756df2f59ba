"""The `tidy` schema's tables (analysis.tidy.TABLES), each read from the database in chunks.

Every source is a `values_list` query ordered by id and a function that turns one chunk of its
tuples into rows in the table's column order; nothing larger than a chunk is held. Participants
become their pseudonym here, and bots' rows are left out unless asked for.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from analysis.tidy import IDENTITIES, TABLES, Table
from deliberation.models import (
    CandidateSet,
    Condition,
    Critique,
    Deliberation,
    DeliberationQuestion,
    Group,
    Iteration,
    ModelVersion,
    Opinion,
    PanelIdentity,
    Participant,
    PositionRating,
    Prediction,
    Provenance,
    Question,
    Ranking,
    Rating,
    Round,
    Statement,
    SurveyResponse,
)

Convert = Callable[[list[tuple]], list[tuple]]


@dataclass(frozen=True)
class Scope:
    """What an export covers: the deliberations (a queryset of them) and whether bots count."""

    deliberations: QuerySet
    include_bots: bool
    pseudonym: Callable[[object], str]  # a participant's UUID -> their pseudonym

    def people(self, prefix: str = "participant__") -> Q:
        """Rows of the people exported: everyone, or everyone but bots."""
        if self.include_bots:
            return Q()
        return ~Q(**{f"{prefix}provenance": Provenance.BOT_CITIZEN})


@dataclass(frozen=True)
class Source:
    table: Table
    query: QuerySet  # values_list, ordered
    convert: Convert


def chunked(query: QuerySet, size: int) -> Iterator[list[tuple]]:
    """The query's rows in lists of `size`, read through a server-side cursor."""
    chunk: list[tuple] = []
    for row in query.iterator(chunk_size=size):
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _same(rows: list[tuple]) -> list[tuple]:
    return rows


def _pseudonym_at(scope: Scope, index: int) -> Convert:
    """Replace the participant UUID at `index` with its pseudonym."""
    pseudonym = scope.pseudonym

    def convert(rows: list[tuple]) -> list[tuple]:
        return [(*row[:index], pseudonym(row[index]), *row[index + 1 :]) for row in rows]

    return convert


def _statements(scope: Scope) -> Convert:
    def convert(rows: list[tuple]) -> list[tuple]:
        parents: dict[int, list[int]] = {}
        links = Statement.parents.through.objects.filter(
            from_statement_id__in=[row[0] for row in rows]
        ).order_by("from_statement_id", "to_statement_id")
        for child, parent in links.values_list("from_statement_id", "to_statement_id"):
            parents.setdefault(child, []).append(parent)
        out = []
        for row in rows:
            *head, source_opinion, source_provenance, created = row
            if source_provenance == Provenance.BOT_CITIZEN and not scope.include_bots:
                source_opinion = None  # the bot's opinion is not in this export
            out.append((*head, source_opinion, parents.get(row[0], []), created))
        return out

    return convert


def _rankings(scope: Scope) -> Convert:
    return lambda rows: _explode_rankings(rows, scope.pseudonym)


def _explode_rankings(rows: list[tuple], pseudonym) -> list[tuple]:
    """One row per ranked statement."""
    out = []
    for pk, public_id, round_id, iteration_id, kind, statement_ids, ranks, created in rows:
        pid = pseudonym(public_id)
        for position, (statement_id, rank) in enumerate(zip(statement_ids, ranks, strict=True)):
            out.append(
                (pk, pid, round_id, iteration_id, kind, statement_id, position, rank, created)
            )
    return out


def _surveys(scope: Scope) -> Convert:
    def convert(rows: list[tuple]) -> list[tuple]:
        return [
            (pk, scope.pseudonym(public_id), round_id, item, json.dumps(value), created)
            for pk, public_id, round_id, item, value, created in rows
        ]

    return convert


def sources(scope: Scope, *, include_identifiers: bool = False) -> list[Source]:
    """One source per table of `analysis.tidy.TABLES`, in that order (plus the panel identities
    when asked for)."""
    ds = scope.deliberations
    in_scope = Q(deliberation__in=ds)
    by_group = Q(group__deliberation__in=ds)
    by_round = Q(round__group__deliberation__in=ds)
    by_iteration = Q(iteration__round__group__deliberation__in=ds)
    queries: dict[str, tuple[QuerySet, Convert]] = {
        "questions": (
            Question.objects.filter(
                Q(pk__in=DeliberationQuestion.objects.filter(in_scope).values("question_id"))
                | Q(pk__in=Round.objects.filter(by_group).values("question_id"))
            ).values_list(
                "pk",
                "external_id",
                "text",
                "affirming_statement",
                "negating_statement",
                "topic",
                "split",
                "source",
            ),  # fmt: skip
            _same,
        ),
        "deliberations": (
            Deliberation.objects.filter(pk__in=ds).values_list(
                "public_id",
                "title",
                "group_size",
                "min_group_size",
                "critique_iterations",
                "mediation_config",
                "consent_version",
                "language",
                "created_at",
            ),  # fmt: skip
            lambda rows: [(str(row[0]), *row[1:]) for row in rows],
        ),
        "conditions": (
            Condition.objects.filter(in_scope).values_list(
                "pk",
                "deliberation__public_id",
                "name",
                "mediation_config",
                "comparisons",
                "exclusion",
            ),  # fmt: skip
            lambda rows: [(row[0], str(row[1]), *row[2:]) for row in rows],
        ),
        "groups": (
            Group.objects.filter(in_scope).values_list(
                "pk",
                "deliberation__public_id",
                "number",
                "condition_id",
                "status",
                "started_at",
                "ended_at",
            ),  # fmt: skip
            lambda rows: [(row[0], str(row[1]), *row[2:]) for row in rows],
        ),
        "participants": (
            Participant.objects.filter(in_scope, scope.people("")).values_list(
                "public_id",
                "deliberation__public_id",
                "group_id",
                "seat",
                "provenance",
                "status",
                "joined_at",
                "completed_at",
                "left_at",
            ),  # fmt: skip
            lambda rows: [(scope.pseudonym(row[0]), str(row[1]), *row[2:]) for row in rows],
        ),
        "rounds": (
            Round.objects.filter(by_group).values_list(
                "pk", "group_id", "question_id", "position", "status", "started_at", "ended_at"
            ),
            _same,
        ),
        "round_exclusions": (
            Round.excluded.through.objects.filter(by_round, scope.people()).values_list(
                "round_id", "participant__public_id"
            ),
            _pseudonym_at(scope, 1),
        ),
        "iterations": (
            Iteration.objects.filter(by_round).values_list(
                "pk",
                "round_id",
                "index",
                "state",
                "failure_reason",
                "mediation_started_at",
                "mediation_finished_at",
            ),  # fmt: skip
            _same,
        ),
        "opinions": (
            Opinion.objects.filter(by_iteration, scope.people()).values_list(
                "pk",
                "iteration_id",
                "participant__public_id",
                "text",
                "created_at",
                "response_duration_ms",
                "hidden",
                "hidden_reason",
            ),  # fmt: skip
            _pseudonym_at(scope, 2),
        ),
        "critiques": (
            Critique.objects.filter(by_iteration, scope.people()).values_list(
                "pk",
                "iteration_id",
                "participant__public_id",
                "statement_id",
                "text",
                "created_at",
                "response_duration_ms",
                "hidden",
                "hidden_reason",
            ),  # fmt: skip
            _pseudonym_at(scope, 2),
        ),
        "statements": (
            Statement.objects.filter(by_iteration).values_list(
                "pk",
                "iteration_id",
                "role",
                "text",
                "provenance",
                "model_version_id",
                "template_version",
                "seed",
                "sample_index",
                "group_score",
                "rank",
                "is_winner",
                "shown",
                "source_opinion_id",
                "source_opinion__participant__provenance",
                "created_at",
            ),  # fmt: skip
            _statements(scope),
        ),
        "predictions": (
            Prediction.objects.filter(
                Q(statement__iteration__round__group__deliberation__in=ds), scope.people()
            ).values_list(
                "statement_id",
                "participant__public_id",
                "value",
                "statement__candidate_set__reward_model_id",
            ),  # fmt: skip
            _pseudonym_at(scope, 1),
        ),
        "ratings": (
            Rating.objects.filter(by_iteration, scope.people()).values_list(
                "pk",
                "participant__public_id",
                "statement_id",
                "iteration_id",
                "agreement",
                "quality",
                "response_duration_ms",
                "created_at",
            ),  # fmt: skip
            _pseudonym_at(scope, 1),
        ),
        "rankings": (
            Ranking.objects.filter(by_round, scope.people()).values_list(
                "pk",
                "participant__public_id",
                "round_id",
                "iteration_id",
                "kind",
                "statement_ids",
                "numerical_ranks",
                "created_at",
            ),  # fmt: skip
            _rankings(scope),
        ),
        "position_ratings": (
            PositionRating.objects.filter(by_round, scope.people()).values_list(
                "pk", "participant__public_id", "round_id", "index", "agreement", "created_at"
            ),
            _pseudonym_at(scope, 1),
        ),
        "survey_responses": (
            SurveyResponse.objects.filter(
                Q(participant__deliberation__in=ds), scope.people()
            ).values_list(
                "pk", "participant__public_id", "round_id", "item", "value", "created_at"
            ),
            _surveys(scope),
        ),
        "model_versions": (
            ModelVersion.objects.filter(
                Q(pk__in=Statement.objects.filter(by_iteration).values("model_version_id"))
                | Q(pk__in=CandidateSet.objects.filter(by_iteration).values("reward_model_id"))
                | Q(pk__in=CandidateSet.objects.filter(by_iteration).values("generator_id"))
            ).values_list(
                "pk", "role", "backend", "name", "revision", "details", "metrics", "created_at"
            ),
            _same,
        ),
    }
    out = [Source(t, queries[t.name][0].order_by("pk"), queries[t.name][1]) for t in TABLES]
    if include_identifiers:
        identities = PanelIdentity.objects.filter(
            Q(participant__deliberation__in=ds), scope.people()
        ).values_list(
            "participant__public_id", "participant__public_id", "panel", "external_id",
            "study_id", "session_id",
        )  # fmt: skip
        out.append(
            Source(
                IDENTITIES,
                identities.order_by("pk"),
                lambda rows: [(scope.pseudonym(r[0]), str(r[1]), *r[2:]) for r in rows],
            )
        )
    return out
