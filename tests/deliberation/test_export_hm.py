"""The `hm` export of a simulated study: one row per member per iteration, in the columns and
encodings of [T24]'s dataset (HM_SCHEMA.md), matching the database; and their notebook's
pre-processing runs on it unchanged."""

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from analysis.tidy import load_tidy
from deliberation.exports import export_write
from deliberation.exports.hm_columns import AGREEMENT, HM_NAMES, QUALITY
from deliberation.exports.pseudonyms import participant_pseudonym
from deliberation.models import (
    Group,
    Iteration,
    Opinion,
    Participant,
    Provenance,
    Ranking,
    Rating,
    Statement,
)
from deliberation.selectors.participant import member_order
from tests.deliberation.export_study import simulated_study  # noqa: F401 (the `study` fixture)

pytestmark = [pytest.mark.timeout(240), pytest.mark.django_db]

# HM_SCHEMA.md and the issue: the columns their analysis reads.
REQUIRED = [
    "launch_id", "round_id", "iteration_id", "iteration_index", "worker_id", "metadata.id",
    "metadata.participant_id", "metadata.provenance", "metadata.version", "metadata.created",
    "metadata.response_duration", "monotonic_timestamp", "question.id", "question.text",
    "question.split", "question.topic", "question.affirming_statement",
    "question.negating_statement", "own_opinion.text", "other_opinions.text", "critique.text",
    "candidates.text", "candidates.metadata.id", "candidates.metadata.provenance",
    "candidates.all_texts", "candidates.all_reward_predictions", "candidates.aggregation.method",
    "candidates.parent_statement_ids", "candidates.reward_data.reward_predictions",
    "top_candidate.text", "rankings.candidate_ids", "rankings.numerical_ranks",
    "ratings.agreement", "ratings.quality",
]  # fmt: skip
ALIGNED = [n for n in HM_NAMES if n.split(".")[0] in ("candidates", "ratings", "rankings")]


def _read(path, fmt: str) -> pd.DataFrame:
    if fmt == "parquet":  # lists as Python lists, to compare; their notebook uses read_parquet
        return pd.DataFrame(pq.read_table(path).to_pylist(), columns=HM_NAMES)
    if fmt == "jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    frame = pd.read_csv(path, keep_default_na=False)
    lists = [n for n in HM_NAMES if n.startswith(("candidates.", "ratings.", "rankings.",
                                                  "other_opinions."))]  # fmt: skip
    for name in lists + ["top_candidate.parent_statement_ids"]:
        frame[name] = frame[name].map(lambda v: json.loads(v) if v else None)
    return frame


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_hm_export_has_one_row_per_member_per_iteration_matching_the_database(study, tmp_path, fmt):
    result = export_write(
        schema="hm", fmt=fmt, out=tmp_path / f"hm.{fmt}", deliberations=[study],
        include_bots=True,
    )  # fmt: skip

    frame = _read(result.path, fmt)
    assert list(frame.columns) == HM_NAMES
    assert set(REQUIRED) <= set(frame.columns)
    iterations = Iteration.objects.filter(round__group__deliberation=study)
    members = {g.pk: list(g.members.all()) for g in Group.objects.filter(deliberation=study)}
    assert len(frame) == result.rows["hm"] == sum(
        len(members[it.round.group_id]) for it in iterations
    )  # fmt: skip
    assert frame["metadata.id"].is_unique
    assert set(frame["worker_id"]) == {
        participant_pseudonym(p.public_id) for group in members.values() for p in group
    }
    assert set(frame["metadata.provenance"]) == {"BOT_CITIZEN"}
    assert set(frame["question.split"]) <= {"TRAIN", "VALIDATION", "IID_TEST", "OOD_TEST", "MOCK"}
    conditions = {g.pk: g.condition.name for g in Group.objects.filter(deliberation=study)}
    assert {v.split("/")[1] for v in frame["metadata.version"]} == {"best_opinion", "baseline"}
    assert all(str(study.public_id) in v for v in frame["metadata.version"])

    ratings = {
        (r.participant_id, r.statement_id): r
        for r in Rating.objects.filter(iteration__in=iterations)
    }
    rankings = {
        (r.participant_id, r.iteration_id): r
        for r in Ranking.objects.filter(iteration__in=iterations, kind="statements")
    }
    by_worker = {participant_pseudonym(p.public_id): p for g in members.values() for p in g}
    seen_ratings = 0
    for row in frame.to_dict("records"):
        member = by_worker[row["worker_id"]]
        iteration = iterations.get(pk=row["iteration_id"])
        assert row["launch_id"] == iteration.round.group_id
        assert row["metadata.version"].endswith(conditions[row["launch_id"]])
        shown = list(iteration.statements.filter(shown=True).order_by("pk"))
        order = member_order(
            shown, participant_public_id=member.public_id, iteration_id=iteration.pk
        )
        assert row["candidates.metadata.id"] == [s.pk for s in order]
        assert {len(row[name]) for name in ALIGNED} == {len(shown)}
        candidates = iteration.statements.filter(role="candidate").order_by("index")
        assert all(texts == [c.text for c in candidates] for texts in row["candidates.all_texts"])
        assert all(len(p) == candidates.count() for p in row["candidates.all_reward_predictions"])
        winner = iteration.statements.get(is_winner=True)
        assert row["top_candidate.metadata.id"] == winner.pk
        assert row["top_candidate.text"] == winner.text
        for i, statement in enumerate(order):
            rating = ratings.get((member.pk, statement.pk))
            assert row["ratings.agreement"][i] == (
                AGREEMENT[rating.agreement] if rating else "MOCK"
            )
            assert row["ratings.quality"][i] == (QUALITY[rating.quality] if rating else "MOCK")
            seen_ratings += rating is not None
            assert row["candidates.metadata.provenance"][i] == statement.provenance.upper()
        ranking = rankings.get((member.pk, iteration.pk))
        if ranking is None:
            assert row["rankings.numerical_ranks"] == [-1] * len(shown)
        else:
            ranks = dict(zip(ranking.statement_ids, ranking.numerical_ranks, strict=True))
            assert row["rankings.numerical_ranks"] == [ranks[s.pk] for s in order]
            assert ranking.statement_ids == [s.pk for s in order]  # the order the member saw
        if iteration.index == 0:
            assert pd.isna(row["critique.text"]) or row["critique.text"] == ""
        else:
            assert row["critique.text"] == member.critiques.get(iteration=iteration).text
        own = member.opinions.get(iteration__round=iteration.round, iteration__index=0)
        assert row["own_opinion.text"] == own.text
        assert sorted(row["other_opinions.metadata.id"]) == sorted(
            o.pk for p in members[iteration.round.group_id] if p != member
            for o in p.opinions.filter(iteration__round=iteration.round)
        )  # fmt: skip
    assert seen_ratings == len(ratings)  # every rating exactly once
    assert any(len(row) > 1 for row in frame["candidates.metadata.id"])  # comparisons shown


def test_their_preprocessing_runs_on_the_export_unchanged(study, tmp_path):
    """HM_SCHEMA.md's steps, with pandas as their notebook would: keep people's rows and the
    mediator's statements, drop MOCK ratings and -1 ranks, explode the lists, nest back."""
    group = Group.objects.filter(deliberation=study).order_by("number").first()
    group.members.update(provenance=Provenance.HUMAN_CITIZEN)  # one group of people
    humans = list(group.members.all())

    result = export_write(schema="hm", fmt="parquet", out=tmp_path / "hm.parquet",
                          deliberations=[study])  # fmt: skip

    df = pd.read_parquet(result.path)
    assert set(df["launch_id"]) == {group.pk}  # the bots' group is left out
    df = df[df["own_opinion.metadata.provenance"] == "HUMAN_CITIZEN"]
    exploded = df.explode(ALIGNED)  # raises if the lists are not of equal length
    exploded = exploded[exploded["candidates.metadata.provenance"] == "MODEL_MEDIATOR"]
    rated = exploded[exploded["ratings.agreement"] != "MOCK"]
    ranked = exploded[exploded["rankings.numerical_ranks"] != -1]
    # Their de-duplication: no worker twice in a group's iteration (one row per comparison).
    assert not df.duplicated(["launch_id", "iteration_id", "worker_id"]).any()
    nested = rated.groupby("metadata.id").agg({"ratings.agreement": list, "worker_id": "first"})
    stored = Rating.objects.filter(
        participant__in=humans, statement__provenance=Provenance.MODEL_MEDIATOR
    )
    assert len(rated) == stored.count() > 0
    assert sorted(rated["ratings.metadata.id"].astype(int)) == sorted(
        stored.values_list("pk", flat=True)
    )
    assert set(nested["worker_id"]) == {participant_pseudonym(p.public_id) for p in humans}
    stored_ranks = sum(
        1 for r in Ranking.objects.filter(participant__in=humans, kind="statements")
        for s in r.statement_ids if Statement.objects.get(pk=s).provenance == "model_mediator"
    )  # fmt: skip
    assert len(ranked) == stored_ranks > 0
    assert pd.api.types.is_integer_dtype(ranked["rankings.numerical_ranks"].astype(int))
    assert Participant.objects.filter(deliberation=study, provenance="bot_citizen").exists()


def test_hidden_texts_carry_their_moderation_state_in_both_schemas(study, tmp_path):
    opinion = Opinion.objects.filter(iteration__round__group__deliberation=study).first()
    Opinion.objects.filter(pk=opinion.pk).update(hidden=True, hidden_reason="personal attack")

    hm = export_write(schema="hm", fmt="jsonl", out=tmp_path / "hm.jsonl",
                      deliberations=[study], include_bots=True)  # fmt: skip
    tidy = export_write(schema="tidy", fmt="csv", out=tmp_path / "tidy",
                        deliberations=[study], include_bots=True)  # fmt: skip

    frame = pd.read_json(hm.path, lines=True, dtype=False)
    own = frame[frame["own_opinion.metadata.id"] == opinion.pk]
    assert len(own) and set(own["own_opinion.metadata.status"]) == {"HIDDEN"}
    assert set(own["own_opinion.metadata.hidden_reason"]) == {"personal attack"}
    assert set(
        frame[frame["own_opinion.metadata.id"] != opinion.pk]["own_opinion.metadata.status"]
    ) == {"VISIBLE"}
    shown_to_others = [
        (status[ids.index(opinion.pk)], reason[ids.index(opinion.pk)])
        for ids, status, reason in zip(
            frame["other_opinions.metadata.id"], frame["other_opinions.metadata.status"],
            frame["other_opinions.metadata.hidden_reason"], strict=True,
        )
        if opinion.pk in ids
    ]  # fmt: skip
    assert shown_to_others and set(shown_to_others) == {("HIDDEN", "personal attack")}
    opinions = load_tidy(tidy.path)["opinions"].set_index("opinion_id")
    assert bool(opinions.loc[opinion.pk, "hidden"]) is True
    assert opinions.loc[opinion.pk, "hidden_reason"] == "personal attack"
    assert opinions["hidden"].sum() == 1
