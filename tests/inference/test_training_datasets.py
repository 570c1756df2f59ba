"""Reward-model datasets from a tidy export: split by question, populations kept apart, pairs
from rankings, and clear errors for data that cannot train."""

import pandas as pd
import pytest

from analysis.tidy import load_tidy
from inference.training.datasets import (
    DatasetError,
    build_dataset,
    preference_pairs,
    rating_examples,
    split_questions,
    tables_digest,
)
from tests.inference.tidy_builder import TOPICS, build_tables, write_export


@pytest.fixture(scope="module")
def tables():
    return build_tables(groups_per_question=2, members=3, candidates=3)


def test_no_question_is_in_two_splits_and_bank_splits_are_kept(tables):
    dataset = build_dataset(tables, population="bots", seed=3)
    train_q = set(dataset.train["question_id"]) | set(dataset.train_pairs["question_id"])
    heldout_q = set(dataset.heldout["question_id"]) | set(dataset.heldout_pairs["question_id"])
    assert train_q and heldout_q
    assert not train_q & heldout_q
    bank = {q: split for q, (_, split) in enumerate(TOPICS, start=1)}
    for question, part in dataset.splits.items():
        assert part == ("train" if bank[question] == "train" else "heldout")
        assert dataset.split_rule[question] == "bank"
    # Every rating landed in exactly one part.
    assert len(dataset.train) + len(dataset.heldout) == len(tables["ratings"])


def test_questions_without_a_split_are_drawn_by_seed_never_by_row():
    tables = build_tables(groups_per_question=3, members=3, candidates=2, splits=False)
    first = build_dataset(tables, population="bots", seed=1)
    again = build_dataset(tables, population="bots", seed=1)
    assert first.splits == again.splits
    assert set(first.split_rule.values()) == {"seeded"}
    # Three groups answered each question: all their rows follow the question.
    for frame, part in ((first.train, "train"), (first.heldout, "heldout")):
        assert {first.splits[q] for q in frame["question_id"]} == {part}
    assert not set(first.train["question_id"]) & set(first.heldout["question_id"])
    assert first.counts["questions"]["heldout"] == 2  # round(0.25 * 8)
    seeds = {tuple(sorted(build_dataset(tables, population="bots", seed=s).questions("heldout")))
             for s in range(6)}  # fmt: skip
    assert len(seeds) > 1


def test_split_questions_mixes_bank_splits_and_the_draw():
    questions = pd.DataFrame(
        {"question_id": [1, 2, 3, 4, 5], "split": ["train", "ood_test", "", "", ""]}
    )
    splits, rule = split_questions(questions, [1, 2, 3, 4, 5], seed=0, heldout_fraction=0.34)
    assert splits[1] == "train" and splits[2] == "heldout"
    assert rule == {1: "bank", 2: "bank", 3: "seeded", 4: "seeded", 5: "seeded"}
    assert sorted(splits[q] for q in (3, 4, 5)) == ["heldout", "train", "train"]


def test_examples_carry_what_the_reward_model_reads(tables):
    ratings = rating_examples(tables, population="bots")
    row = ratings.iloc[0]
    opinions = tables["opinions"]
    assert row["opinion"] == opinions.loc[opinions["participant_id"] == row["participant_id"],
                                          "text"].iloc[0]  # fmt: skip
    assert len(row["other_opinions"]) == 2 and row["opinion"] not in row["other_opinions"]
    assert row["critique"] is None and row["previous_winner"] is None
    pairs = preference_pairs(tables, population="bots")
    # Three statements ranked apart by each of 3 members in 16 iterations: 3 pairs each.
    assert len(pairs) == 3 * 3 * 16
    ranks = tables["rankings"].set_index(["participant_id", "statement_id"])["rank"]
    for p in pairs.head(20).itertuples():
        assert ranks[(p.participant_id, p.preferred_id)] < ranks[(p.participant_id, p.other_id)]


def test_bots_and_people_are_not_pooled_unless_asked():
    bots = build_tables(questions=TOPICS[:4], provenance="bot_citizen", seed=1)
    people = build_tables(questions=TOPICS[:4], provenance="human_citizen", seed=2, first_id=1000)
    both = {name: pd.concat([bots[name], people[name]], ignore_index=True) for name in bots}
    assert set(rating_examples(both)["provenance"]) == {"human_citizen"}
    assert set(rating_examples(both, population="bots")["provenance"]) == {"bot_citizen"}
    assert set(rating_examples(both, population="all")["provenance"]) == {
        "bot_citizen",
        "human_citizen",
    }
    with pytest.raises(DatasetError, match="no agreement ratings by people.*ratings by bots"):
        build_dataset(bots)
    with pytest.raises(DatasetError, match="unknown population"):
        rating_examples(both, population="everyone")


def test_bad_input_gets_a_clear_error(tables):
    empty = {name: frame.iloc[0:0] for name, frame in tables.items()}
    with pytest.raises(DatasetError, match="no agreement ratings"):
        build_dataset(empty, population="bots")
    one = build_tables(questions=TOPICS[:1])
    with pytest.raises(DatasetError, match="1 question; .*at least two"):
        build_dataset(one, population="bots")
    only_train = build_tables(questions=TOPICS[:3])
    with pytest.raises(DatasetError, match="no question falls in the heldout part"):
        build_dataset(only_train, population="bots")
    with pytest.raises(DatasetError, match="lacks the table"):
        build_dataset({"questions": tables["questions"]}, population="bots")


def test_an_export_read_back_gives_the_same_examples_and_digest(tables, tmp_path):
    loaded = load_tidy(write_export(tables, tmp_path / "export"))
    assert tables_digest(loaded) == tables_digest(load_tidy(tmp_path / "export"))
    a = build_dataset(tables, population="bots")
    b = build_dataset(loaded, population="bots")
    assert a.splits == b.splits
    pd.testing.assert_series_equal(a.train["agreement"], b.train["agreement"])
    assert list(a.train["statement"]) == list(b.train["statement"])
