"""Training data for reward models, built from the tables of a `tidy` export (`analysis.tidy`).

Two kinds of example:

- **ratings** ([B22], regression): one row per agreement rating, with what a reward model reads
  for that pair: the question, the member's opinion, the member's critique and the previous
  winner in a critique iteration, the other members' opinions, the statement, and the observed
  agreement (1-7);
- **preferences** ([T24], Bradley-Terry): one row per ordered pair of statements a member ranked
  in an iteration (kind `statements`), the preferred one first; ties give no pair.

Both are split **by question**, never by row (`split_questions`): a question keeps the bank's
`split` when it has one (`train` trains; `iid_test` and `ood_test` are held out), and questions
without one are split by a seeded draw of their ids. Bots (`bot_citizen`) and people
(`human_citizen`) are never pooled unless asked: `population` is "people" (the default), "bots"
or "all".

Plain Python over pandas: no Django.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

POPULATIONS = {
    "people": ("human_citizen",),
    "bots": ("bot_citizen",),
    "all": ("human_citizen", "bot_citizen"),
}
HELDOUT_SPLITS = ("iid_test", "ood_test")
DEFAULT_HELDOUT_FRACTION = 0.25

RATING_COLUMNS = [
    "rating_id",
    "question_id",
    "group_id",
    "round_id",
    "iteration_id",
    "iteration_index",
    "participant_id",
    "provenance",
    "statement_id",
    "question",
    "opinion",
    "critique",
    "previous_winner",
    "other_opinions",
    "affirming_statement",
    "negating_statement",
    "position_rating",
    "statement",
    "agreement",
    "quality",
]
PAIR_COLUMNS = [
    "question_id",
    "iteration_id",
    "participant_id",
    "question",
    "opinion",
    "critique",
    "previous_winner",
    "other_opinions",
    "affirming_statement",
    "negating_statement",
    "position_rating",
    "preferred_id",
    "preferred",
    "other_id",
    "other",
]


class DatasetError(ValueError):
    """The export cannot give a training set (empty, one question only, no held-out...)."""


@dataclass
class Dataset:
    """Examples split by question. `splits` maps each question id to "train" or "heldout";
    `split_rule` says, per question, whether the bank's split or the seeded draw decided."""

    train: pd.DataFrame
    heldout: pd.DataFrame
    train_pairs: pd.DataFrame
    heldout_pairs: pd.DataFrame
    splits: dict[int, str]
    split_rule: dict[int, str]
    population: str
    seed: int
    counts: dict[str, Any] = field(default_factory=dict)

    def questions(self, part: str) -> list[int]:
        return sorted(q for q, s in self.splits.items() if s == part)


def _need(tables: Mapping[str, pd.DataFrame], *names: str) -> None:
    missing = [n for n in names if n not in tables]
    if missing:
        raise DatasetError(f"the export lacks the table(s) {', '.join(missing)}")


def _context(tables: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """Lookups shared by both kinds of example: per iteration its round, question, index and
    previous winner; per round each member's opinion; per iteration each member's critique."""
    iterations = tables["iterations"].set_index("iteration_id")
    rounds = tables["rounds"].set_index("round_id")
    questions = tables["questions"].set_index("question_id")
    statements = tables["statements"]
    opinions = tables["opinions"].merge(
        tables["iterations"][["iteration_id", "round_id"]], on="iteration_id"
    )
    opinions = opinions[~opinions["hidden"].fillna(False).astype(bool)]
    opinion_of = {
        (int(r.round_id), r.participant_id): str(r.text) for r in opinions.itertuples(index=False)
    }
    opinions_by_round: dict[int, dict[str, str]] = {}
    for (round_id, pid), text in opinion_of.items():
        opinions_by_round.setdefault(round_id, {})[pid] = text
    critiques = tables["critiques"]
    critique_of = {
        (int(r.iteration_id), r.participant_id): str(r.text)
        for r in critiques.itertuples(index=False)
        if not bool(r.hidden)
    }
    winners = statements[statements["is_winner"].fillna(False).astype(bool)]
    winner_of = {int(r.iteration_id): str(r.text) for r in winners.itertuples(index=False)}
    positions = tables.get("position_ratings")
    position_of = {}
    if positions is not None and len(positions):
        before = positions[positions["index"] == 0]
        position_of = {
            (int(r.round_id), r.participant_id): float(r.agreement)
            for r in before.itertuples(index=False)
        }
    iteration_key = {
        (int(r["round_id"]), int(r["index"])): int(iid) for iid, r in iterations.iterrows()
    }
    return {
        "iterations": iterations,
        "rounds": rounds,
        "questions": questions,
        "statement_text": dict(
            zip(statements["statement_id"].astype(int), statements["text"], strict=False)
        ),
        "opinion_of": opinion_of,
        "opinions_by_round": opinions_by_round,
        "critique_of": critique_of,
        "winner_of": winner_of,
        "iteration_key": iteration_key,
        "position_of": position_of,
    }


def _member(ctx: dict[str, Any], iteration_id: int, pid: str) -> dict[str, Any] | None:
    """What a reward model reads about member `pid` in `iteration_id`, or None when the member
    wrote no opinion in that round (nothing to condition on)."""
    iteration = ctx["iterations"].loc[iteration_id]
    round_id = int(iteration["round_id"])
    opinion = ctx["opinion_of"].get((round_id, pid))
    if opinion is None:
        return None
    round_ = ctx["rounds"].loc[round_id]
    question_id = int(round_["question_id"])
    index = int(iteration["index"])
    previous = None
    critique = None
    if index > 0:
        previous_id = ctx["iteration_key"].get((round_id, index - 1))
        previous = ctx["winner_of"].get(previous_id)
        critique = ctx["critique_of"].get((iteration_id, pid), "") if previous else None
    others = tuple(
        text for other, text in sorted(ctx["opinions_by_round"][round_id].items()) if other != pid
    )
    question = ctx["questions"].loc[question_id]
    return {
        "question_id": question_id,
        "group_id": int(round_["group_id"]),
        "round_id": round_id,
        "iteration_index": index,
        "question": str(question["text"]),
        "opinion": opinion,
        "critique": critique,
        "previous_winner": previous,
        "other_opinions": others,
        "affirming_statement": _text_or_none(question.get("affirming_statement")),
        "negating_statement": _text_or_none(question.get("negating_statement")),
        "position_rating": ctx["position_of"].get((round_id, pid)),
    }


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _provenance(tables: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    participants = tables["participants"]
    return dict(zip(participants["participant_id"], participants["provenance"], strict=False))


def _check_population(population: str) -> tuple[str, ...]:
    try:
        return POPULATIONS[population]
    except KeyError:
        raise DatasetError(
            f"unknown population {population!r}; choose one of {', '.join(POPULATIONS)}"
        ) from None


_TABLES = ("questions", "rounds", "iterations", "opinions", "critiques", "statements")


def rating_examples(
    tables: Mapping[str, pd.DataFrame], *, population: str = "people"
) -> pd.DataFrame:
    """One row per agreement rating of the population (columns `RATING_COLUMNS`)."""
    kinds = _check_population(population)
    _need(tables, *_TABLES, "ratings", "participants")
    provenance = _provenance(tables)
    ratings = tables["ratings"]
    if ratings.empty:
        return pd.DataFrame(columns=RATING_COLUMNS)
    ctx = _context(tables)
    rows = []
    for r in ratings.itertuples(index=False):
        kind = provenance.get(r.participant_id)
        if kind not in kinds:
            continue
        member = _member(ctx, int(r.iteration_id), r.participant_id)
        statement = ctx["statement_text"].get(int(r.statement_id))
        if member is None or statement is None:
            continue
        rows.append(
            {
                "rating_id": int(r.rating_id),
                "iteration_id": int(r.iteration_id),
                "participant_id": r.participant_id,
                "provenance": kind,
                "statement_id": int(r.statement_id),
                "statement": str(statement),
                "agreement": float(r.agreement),
                "quality": float(r.quality),
                **member,
            }
        )
    return pd.DataFrame(rows, columns=RATING_COLUMNS)


def preference_pairs(
    tables: Mapping[str, pd.DataFrame], *, population: str = "people"
) -> pd.DataFrame:
    """Ordered pairs (preferred first) from each member's ranking of the statements shown in an
    iteration (`rankings` of kind `statements`; rank 0 = best, equal ranks are ties and give no
    pair). Columns `PAIR_COLUMNS`."""
    kinds = _check_population(population)
    _need(tables, *_TABLES, "rankings", "participants")
    provenance = _provenance(tables)
    rankings = tables["rankings"]
    rankings = rankings[rankings["kind"] == "statements"]
    if rankings.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    ctx = _context(tables)
    rows = []
    for (_, pid, iteration_id), ranked in rankings.groupby(
        ["ranking_id", "participant_id", "iteration_id"]
    ):
        if provenance.get(pid) not in kinds:
            continue
        member = _member(ctx, int(iteration_id), pid)
        if member is None:
            continue
        items = [(int(r.rank), int(r.statement_id)) for r in ranked.itertuples(index=False)]
        for rank_a, a in items:
            for rank_b, b in items:
                if rank_a < rank_b and a in ctx["statement_text"] and b in ctx["statement_text"]:
                    rows.append(
                        {
                            "iteration_id": int(iteration_id),
                            "participant_id": pid,
                            "preferred_id": a,
                            "preferred": str(ctx["statement_text"][a]),
                            "other_id": b,
                            "other": str(ctx["statement_text"][b]),
                            **{k: member[k] for k in PAIR_COLUMNS if k in member},
                        }
                    )
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def split_questions(
    questions: pd.DataFrame,
    question_ids: list[int],
    *,
    seed: int,
    heldout_fraction: float = DEFAULT_HELDOUT_FRACTION,
) -> tuple[dict[int, str], dict[int, str]]:
    """`({question_id: "train" | "heldout"}, {question_id: "bank" | "seeded"})` for the given
    questions. A question with a `split` keeps it (`train`, or held out for `iid_test` and
    `ood_test`); the others are drawn: sorted by id, shuffled with `seed`, and the first
    `round(heldout_fraction * n)` (at least one when there are two or more) held out."""
    if not 0 < heldout_fraction < 1:
        raise DatasetError("the held-out fraction must lie between 0 and 1")
    split_of = dict(
        zip(questions["question_id"].astype(int), questions["split"].fillna(""), strict=False)
    )
    splits: dict[int, str] = {}
    rule: dict[int, str] = {}
    unsplit = []
    for qid in sorted(set(question_ids)):
        given = split_of.get(qid, "")
        if given == "train":
            splits[qid], rule[qid] = "train", "bank"
        elif given in HELDOUT_SPLITS:
            splits[qid], rule[qid] = "heldout", "bank"
        else:
            unsplit.append(qid)
    random.Random(seed).shuffle(unsplit)
    cut = round(heldout_fraction * len(unsplit))
    if len(unsplit) >= 2:
        cut = min(max(cut, 1), len(unsplit) - 1)
    for i, qid in enumerate(unsplit):
        splits[qid], rule[qid] = ("heldout" if i < cut else "train"), "seeded"
    return splits, rule


def build_dataset(
    tables: Mapping[str, pd.DataFrame],
    *,
    population: str = "people",
    seed: int = 0,
    heldout_fraction: float = DEFAULT_HELDOUT_FRACTION,
) -> Dataset:
    """Rating examples and preference pairs, split by question. Raises `DatasetError` when there
    is nothing to learn from or nothing to evaluate on."""
    ratings = rating_examples(tables, population=population)
    if ratings.empty:
        others = {k: v for k, v in POPULATIONS.items() if k != population and k != "all"}
        hint = ""
        if others:
            other = next(iter(others))
            if not rating_examples(tables, population=other).empty:
                hint = f" (it has ratings by {other}; ask for them explicitly)"
        raise DatasetError(f"the export has no agreement ratings by {population}{hint}")
    pairs = preference_pairs(tables, population=population)
    question_ids = sorted(set(ratings["question_id"].astype(int)))
    if len(question_ids) < 2:
        raise DatasetError(
            f"the ratings cover {len(question_ids)} question; evaluation on held-out questions "
            "needs at least two (one to train on, one to hold out)"
        )
    splits, rule = split_questions(
        tables["questions"], question_ids, seed=seed, heldout_fraction=heldout_fraction
    )
    parts = set(splits.values())
    if parts != {"train", "heldout"}:
        missing = ({"train", "heldout"} - parts).pop()
        raise DatasetError(
            f"no question falls in the {missing} part: every question rated has the bank split "
            f"{'train' if missing == 'heldout' else 'iid_test/ood_test'}; rate questions of "
            "both kinds"
        )

    def part(frame: pd.DataFrame, name: str) -> pd.DataFrame:
        keep = frame["question_id"].astype(int).map(splits) == name
        return frame[keep].reset_index(drop=True)

    dataset = Dataset(
        train=part(ratings, "train"),
        heldout=part(ratings, "heldout"),
        train_pairs=part(pairs, "train") if not pairs.empty else pairs,
        heldout_pairs=part(pairs, "heldout") if not pairs.empty else pairs,
        splits=splits,
        split_rule=rule,
        population=population,
        seed=seed,
    )
    dataset.counts = {
        "ratings": {"train": len(dataset.train), "heldout": len(dataset.heldout)},
        "pairs": {"train": len(dataset.train_pairs), "heldout": len(dataset.heldout_pairs)},
        "questions": {
            "train": len(dataset.questions("train")),
            "heldout": len(dataset.questions("heldout")),
        },
        "by_provenance": {
            str(k): int(v) for k, v in ratings["provenance"].value_counts().sort_index().items()
        },
    }
    return dataset


def tables_digest(tables: Mapping[str, pd.DataFrame]) -> str:
    """A content hash of the tables (sha256 over each table's rows in key order), so a model
    directory says exactly which data it was trained on, whatever format the export used."""
    digest = hashlib.sha256()
    for name in sorted(tables):
        frame = tables[name]
        digest.update(name.encode())
        if frame.empty:
            continue
        ordered = frame.reindex(sorted(frame.columns), axis=1)
        rows = pd.util.hash_pandas_object(ordered.astype(str), index=False).to_numpy()
        digest.update(rows.tobytes())
    return digest.hexdigest()
