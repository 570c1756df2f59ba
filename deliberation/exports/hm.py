"""The `hm` schema (HM_SCHEMA.md): one row per participant per iteration, a "candidate
comparison" in the columns and encodings of [T24]'s released dataset.

The members of an iteration are those the mediation ran for, and anyone who rated, ranked or
wrote in it. Iterations are read in chunks, with one query per kind of row per chunk, so memory
stays flat however large the study.
"""

import string
from collections import defaultdict
from pathlib import Path

from deliberation.exports.hm_columns import (
    AGREEMENT,
    HM_COLUMNS,
    HM_NAMES,
    MOCK,
    NO_RANK,
    QUALITY,
    SPLIT,
)
from deliberation.exports.tidy import Scope, chunked
from deliberation.exports.writers import open_writer
from deliberation.models import (
    CandidateSet,
    Critique,
    Iteration,
    Opinion,
    Participant,
    Prediction,
    Provenance,
    Ranking,
    Rating,
    Statement,
)
from deliberation.selectors.participant import member_order

ITERATIONS_PER_CHUNK = 200
QUESTION_PROVENANCE = MOCK  # where a question came from is not one of [T24]'s provenances

ITERATION_FIELDS = (
    "pk", "index", "round_id", "round__group_id", "round__group__deliberation__public_id",
    "round__group__condition__name", "round__question_id", "round__question__external_id",
    "round__question__text", "round__question__split", "round__question__topic",
    "round__question__affirming_statement", "round__question__negating_statement",
    "mediation_finished_at",
)  # fmt: skip
STATEMENT_FIELDS = (
    "pk", "iteration_id", "role", "text", "provenance", "model_version__name",
    "model_version__revision", "template_version", "candidate_set__aggregation", "created_at",
    "shown", "is_winner", "candidate_set_id", "index",
)  # fmt: skip
TEXT_FIELDS = (
    "pk", "iteration_id", "participant_id", "text", "created_at", "response_duration_ms",
    "hidden", "hidden_reason",
)  # fmt: skip


def write(scope: Scope, *, fmt: str, path: Path, progress, chunk_size: int) -> dict[str, int]:
    iterations = (
        Iteration.objects.filter(round__group__deliberation__in=scope.deliberations)
        .order_by("pk")
        .values_list(*ITERATION_FIELDS)
    )
    total = iterations.count() if progress else 0
    if progress:
        progress(0, total)
    done = 0
    writer = open_writer(fmt, path, HM_COLUMNS)
    try:
        per_chunk = max(1, min(ITERATIONS_PER_CHUNK, chunk_size))
        for chunk in chunked(iterations, per_chunk):
            writer.write(_Chunk(chunk, scope).rows())
            done += len(chunk)
            if progress:
                progress(done, total)
    finally:
        writer.close()
    return {"hm": writer.rows}


def _version(name: str | None, revision: str | None) -> str | None:
    if name is None:
        return None
    return f"{name}@{revision}" if revision else name


def _status(hidden: bool) -> str:
    return "HIDDEN" if hidden else "VISIBLE"


class _Chunk:
    """The rows of one chunk of iterations, from one query per kind of row."""

    def __init__(self, iterations: list[tuple], scope: Scope):
        self.scope = scope
        self.iterations = [dict(zip(ITERATION_FIELDS, it, strict=True)) for it in iterations]
        ids = [it["pk"] for it in self.iterations]
        round_ids = {it["round_id"] for it in self.iterations}
        people = scope.people()

        self.statements: dict[int, list[dict]] = defaultdict(list)
        statement_ids = []
        for row in (
            Statement.objects.filter(iteration_id__in=ids)
            .order_by("pk")
            .values_list(*STATEMENT_FIELDS)
        ):
            statement = dict(zip(STATEMENT_FIELDS, row, strict=True))
            statement["parents"] = []
            self.statements[statement["iteration_id"]].append(statement)
            statement_ids.append(statement["pk"])
        by_pk = {s["pk"]: s for group in self.statements.values() for s in group}
        for child, parent in (
            Statement.parents.through.objects.filter(from_statement_id__in=statement_ids)
            .order_by("from_statement_id", "to_statement_id")
            .values_list("from_statement_id", "to_statement_id")
        ):
            by_pk[child]["parents"].append(parent)

        self.sets = {
            iteration_id: (members, _version(name, revision))
            for iteration_id, members, name, revision in CandidateSet.objects.filter(
                iteration_id__in=ids
            ).values_list(
                "iteration_id", "member_ids", "reward_model__name", "reward_model__revision"
            )
        }
        self.predictions: dict[tuple[int, int], float] = {
            (statement_id, participant_id): value
            for statement_id, participant_id, value in Prediction.objects.filter(
                statement__iteration_id__in=ids
            ).values_list("statement_id", "participant_id", "value")
        }
        self.ratings: dict[tuple[int, int], dict[int, tuple]] = defaultdict(dict)
        for pk, iteration_id, participant_id, statement_id, *rest in (
            Rating.objects.filter(people, iteration_id__in=ids)
            .order_by("pk")
            .values_list(
                "pk",
                "iteration_id",
                "participant_id",
                "statement_id",
                "agreement",
                "quality",
                "response_duration_ms",
                "created_at",
            )  # fmt: skip
        ):
            self.ratings[iteration_id, participant_id][statement_id] = (pk, *rest)
        self.rankings: dict[tuple[int, int], tuple] = {
            (iteration_id, participant_id): (pk, statement_ids, ranks, created)
            for pk, iteration_id, participant_id, statement_ids, ranks, created in (
                Ranking.objects.filter(
                    people, iteration_id__in=ids, kind=Ranking.Kind.STATEMENTS
                ).values_list(
                    "pk",
                    "iteration_id",
                    "participant_id",
                    "statement_ids",
                    "numerical_ranks",
                    "created_at",
                )  # fmt: skip
            )
        }
        self.opinions: dict[int, list[dict]] = defaultdict(list)  # by round
        for row in (
            Opinion.objects.filter(people, iteration__round_id__in=round_ids, iteration__index=0)
            .order_by("pk")
            .values_list(*TEXT_FIELDS, "iteration__round_id")
        ):
            opinion = dict(zip((*TEXT_FIELDS, "round_id"), row, strict=True))
            self.opinions[opinion["round_id"]].append(opinion)
        self.critiques: dict[tuple[int, int], dict] = {}
        for row in Critique.objects.filter(people, iteration_id__in=ids).values_list(*TEXT_FIELDS):
            critique = dict(zip(TEXT_FIELDS, row, strict=True))
            self.critiques[critique["iteration_id"], critique["participant_id"]] = critique

        # The members of each iteration: those mediated for, and whoever answered or wrote.
        self.present: dict[int, set[int]] = defaultdict(set)
        for iteration_id, (members, _) in self.sets.items():
            self.present[iteration_id].update(members)
        for answers in (self.ratings, self.rankings, self.critiques):
            for iteration_id, member in answers:
                self.present[iteration_id].add(member)
        for it in self.iterations:
            if it["index"] == 0:
                self.present[it["pk"]].update(
                    o["participant_id"] for o in self.opinions[it["round_id"]]
                )
        member_ids = set().union(*self.present.values())
        self.people = {
            pk: {"public_id": public_id, "provenance": provenance, "seat": seat}
            for pk, public_id, provenance, seat in Participant.objects.filter(
                pk__in=member_ids
            ).values_list("pk", "public_id", "provenance", "seat")
        }
        if not scope.include_bots:
            self.people = {
                pk: p for pk, p in self.people.items() if p["provenance"] != Provenance.BOT_CITIZEN
            }

    def pseudonym(self, pk: int) -> str:
        return self.scope.pseudonym(self.people[pk]["public_id"])

    def provenance(self, pk: int) -> str:
        return self.people[pk]["provenance"].upper()

    def members(self, iteration: dict) -> list[int]:
        found = self.present[iteration["pk"]] & self.people.keys()
        return sorted(found, key=lambda m: (self.people[m]["seat"] is None,
                                            self.people[m]["seat"] or 0, m))  # fmt: skip

    def rows(self) -> list[tuple]:
        out = []
        for iteration in self.iterations:
            for member in self.members(iteration):
                row = self.row(iteration, member)
                out.append(tuple(row[name] for name in HM_NAMES))
        return out

    def text(self, prefix: str, text: dict | None) -> dict:
        text = text or {}
        author = text.get("participant_id")
        return {
            f"{prefix}.text": text.get("text"),
            f"{prefix}.metadata.id": text.get("pk"),
            f"{prefix}.metadata.provenance": self.provenance(author) if text else None,
            f"{prefix}.metadata.participant_id": self.pseudonym(author) if text else None,
            f"{prefix}.metadata.created": text.get("created_at"),
            f"{prefix}.metadata.response_duration": text.get("response_duration_ms"),
            f"{prefix}.metadata.status": _status(text["hidden"]) if text else None,
            f"{prefix}.metadata.hidden_reason": text.get("hidden_reason") or None if text else None,
        }

    def other_opinion(self, opinion: dict) -> dict:
        """An opinion as other members saw it (the same for each of them: built once)."""
        if "as_other" not in opinion:
            opinion["as_other"] = self.text("other_opinions", opinion)
        return opinion["as_other"]

    def statement(self, prefix: str, statement: dict, *, member: int, label, reward_model) -> dict:
        return {
            f"{prefix}.text": statement["text"],
            f"{prefix}.metadata.id": statement["pk"],
            f"{prefix}.metadata.provenance": statement["provenance"].upper(),
            f"{prefix}.metadata.role": statement["role"],
            f"{prefix}.display_label": label,
            f"{prefix}.aggregation.method": statement["candidate_set__aggregation"],
            f"{prefix}.reward_data.reward_predictions": self.predictions.get(
                (statement["pk"], member)
            ),
            f"{prefix}.parent_statement_ids": statement["parents"],
            f"{prefix}.metadata.generative_model.api_version": _version(
                statement["model_version__name"], statement["model_version__revision"]
            ),
            f"{prefix}.metadata.generative_model.template_name": statement["template_version"]
            or None,
            f"{prefix}.metadata.reward_model.api_version": reward_model,
            f"{prefix}.metadata.created": statement["created_at"],
        }

    def row(self, iteration: dict, member: int) -> dict:
        pk, person = iteration["pk"], self.people[member]
        worker = self.pseudonym(member)
        statements = self.statements[pk]
        reward_model = self.sets.get(pk, ((), None))[1]
        ranking = self.rankings.get((pk, member))
        shown = [s for s in statements if s["shown"]]
        if ranking and sorted(ranking[1]) == [s["pk"] for s in shown]:
            by_pk = {s["pk"]: s for s in shown}
            shown = [by_pk[i] for i in ranking[1]]  # the order the member saw them in
        else:
            shown = member_order(shown, participant_public_id=person["public_id"], iteration_id=pk)
        candidates = sorted(
            (s for s in statements if s["candidate_set_id"] is not None), key=lambda s: s["index"]
        )
        all_texts = [s["text"] for s in candidates]
        all_predictions = [self.predictions.get((s["pk"], member)) for s in candidates]
        labels = list(string.ascii_uppercase)
        shown_fields = [
            self.statement(
                "candidates", s, member=member, label=labels[i % 26], reward_model=reward_model
            )  # fmt: skip
            for i, s in enumerate(shown)
        ]
        winner = next((s for s in statements if s["is_winner"]), None)
        top = (
            self.statement("top_candidate", winner, member=member, reward_model=reward_model,
                           label=next((f["candidates.display_label"] for f in shown_fields
                                       if f["candidates.metadata.id"] == winner["pk"]), None))
            if winner else self.statement_none("top_candidate")
        )  # fmt: skip
        rated = self.ratings.get((pk, member), {})
        answers = [rated.get(s["pk"]) for s in shown]
        ranks = dict(zip(ranking[1], ranking[2], strict=True)) if ranking else {}
        opinions = self.opinions[iteration["round_id"]]
        own = next((o for o in opinions if o["participant_id"] == member), None)
        others = [self.other_opinion(o) for o in opinions if o["participant_id"] != member]
        critique = self.critiques.get((pk, member))
        times = [a[-1] for a in answers if a] + ([ranking[3]] if ranking else [])
        times += [
            t["created_at"] for t in (critique, own if iteration["index"] == 0 else None) if t
        ]
        created = max(times) if times else iteration["mediation_finished_at"]
        question = iteration["round__question__external_id"] or str(iteration["round__question_id"])
        row = {
            "launch_id": iteration["round__group_id"],
            "round_id": iteration["round_id"],
            "iteration_id": pk,
            "iteration_index": iteration["index"],
            "worker_id": worker,
            "metadata.id": f"{pk}-{worker}",
            "metadata.participant_id": worker,
            "metadata.provenance": self.provenance(member),
            "metadata.version": f"{iteration['round__group__deliberation__public_id']}/"
            f"{iteration['round__group__condition__name'] or 'no_condition'}",
            "metadata.created": created,
            "metadata.updated": created,
            "metadata.status": "COMPLETED" if shown and all(answers) else "INCOMPLETE",
            "metadata.response_duration": sum(a[3] or 0 for a in answers if a)
            if any(answers)
            else None,
            "metadata.task_duration": int((max(times) - min(times)).total_seconds() * 1000)
            if times
            else None,
            "monotonic_timestamp": created.timestamp() if created else None,
            "question.id": question,
            "question.text": iteration["round__question__text"],
            "question.split": SPLIT.get(iteration["round__question__split"], MOCK),
            "question.provenance": QUESTION_PROVENANCE,
            "question.topic": iteration["round__question__topic"] or None,
            "question.affirming_statement": iteration["round__question__affirming_statement"]
            or None,
            "question.negating_statement": iteration["round__question__negating_statement"] or None,
            **self.text("own_opinion", own),
            "own_opinion.display_label": None,
            **{key: [o[key] for o in others] for key in self.text("other_opinions", None)},
            **self.text("critique", critique),
            **{key: [f[key] for f in shown_fields] for key in self.statement_none("candidates")},
            "candidates.all_texts": [all_texts] * len(shown),
            "candidates.all_reward_predictions": [all_predictions] * len(shown),
            **top,
            "ratings.agreement": [AGREEMENT[a[1]] if a else MOCK for a in answers],
            "ratings.quality": [QUALITY[a[2]] if a else MOCK for a in answers],
            "ratings.metadata.id": [a[0] if a else None for a in answers],
            "ratings.metadata.created": [a[4] if a else None for a in answers],
            "ratings.metadata.response_duration": [a[3] if a else None for a in answers],
            "rankings.candidate_ids": [s["pk"] for s in shown],
            "rankings.numerical_ranks": [ranks.get(s["pk"], NO_RANK) for s in shown],
            "rankings.metadata.id": [ranking[0] if ranking else None for _ in shown],
        }
        return row

    def statement_none(self, prefix: str) -> dict:
        empty = {key: None for key in STATEMENT_FIELDS}
        empty.update(pk=None, text=None, provenance="", role=None, parents=None)
        fields = self.statement(prefix, empty, member=0, label=None, reward_model=None)
        return {key: None for key in fields}
