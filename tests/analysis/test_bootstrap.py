"""The group bootstrap: seeded, and the same interval as scipy.stats.bootstrap resampling
groups (paired over each group's sums)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.report import report
from analysis.stats import group_bootstrap, interval, ratio

from .conftest import D


def pooled(wins, counts, axis=-1):
    return wins.sum(axis=axis) / counts.sum(axis=axis)


def test_same_interval_as_scipy_on_groups():
    rng = np.random.default_rng(1)
    counts = rng.integers(1, 6, 12).astype(float)
    wins = np.round(rng.uniform(0, 1, 12) * counts * 2) / 2
    data = np.column_stack([wins, counts])
    ours = group_bootstrap(data, ratio, resamples=999, seed=42)
    theirs = stats.bootstrap(
        (wins, counts), pooled, paired=True, vectorized=True, method="percentile",
        n_resamples=999, rng=np.random.default_rng(42),
    ).confidence_interval  # fmt: skip
    assert ours == pytest.approx((theirs.low, theirs.high), abs=1e-12)


def test_seed_decides():
    data = np.column_stack([np.arange(8.0), np.full(8, 8.0)])
    assert group_bootstrap(data, ratio, resamples=500, seed=3) == group_bootstrap(
        data, ratio, resamples=500, seed=3
    )
    assert group_bootstrap(data, ratio, resamples=500, seed=3) != group_bootstrap(
        data, ratio, resamples=500, seed=4
    )


def test_interval_needs_enough_groups():
    data = np.ones((4, 2))
    assert interval(data, ratio, resamples=10, seed=0)[0] is None
    assert interval(data, ratio, resamples=10, seed=0, min_groups=4)[0] == [1.0, 1.0]
    with pytest.raises(ValueError):
        group_bootstrap(np.ones((0, 2)), ratio, resamples=10, seed=0)


def many_groups(n_groups: int, seed: int) -> dict[str, pd.DataFrame]:
    """n_groups of 3 people, each rating a winner and a baseline."""
    rng = np.random.default_rng(seed)
    rows, statements, participants, groups, rounds, iterations = [], [], [], [], [], []
    for g in range(n_groups):
        groups.append((g, D, g, 1))
        rounds.append((g, g, 1, 0))
        iterations.append((g, g, 0))
        statements += [(2 * g, g, "candidate", True), (2 * g + 1, g, "baseline", False)]
        for m in range(3):
            pid = f"p{g}-{m}"
            participants.append((pid, D, g, "human_citizen"))
            rows += [
                (pid, 2 * g, int(rng.integers(1, 8))),
                (pid, 2 * g + 1, int(rng.integers(1, 8))),
            ]
    return {
        "deliberations": pd.DataFrame([(D, "Many")], columns=["deliberation_id", "title"]),
        "conditions": pd.DataFrame(
            [(1, D, "baseline", ["baseline"], False)],
            columns=["condition_id", "deliberation_id", "name", "comparisons", "exclusion"],
        ),
        "groups": pd.DataFrame(groups, columns=["group_id", "deliberation_id", "number",
                                                "condition_id"]),
        "participants": pd.DataFrame(participants, columns=["participant_id", "deliberation_id",
                                                            "group_id", "provenance"]),
        "rounds": pd.DataFrame(rounds, columns=["round_id", "group_id", "question_id", "position"]),
        "iterations": pd.DataFrame(iterations, columns=["iteration_id", "round_id", "index"]),
        "statements": pd.DataFrame(statements, columns=["statement_id", "iteration_id", "role",
                                                        "is_winner"]),
        "ratings": pd.DataFrame(
            [(i, p, s, s // 2, a, 4) for i, (p, s, a) in enumerate(rows)],
            columns=["rating_id", "participant_id", "statement_id", "iteration_id", "agreement",
                     "quality"],
        ),
    }  # fmt: skip


def test_report_win_rate_interval_is_scipys_over_groups():
    tables = many_groups(9, seed=2)
    (row,) = report(tables, resamples=700, seed=11)["win_rates"]
    ratings = tables["ratings"].assign(group=lambda r: r["statement_id"] // 2)
    wide = ratings.assign(role=np.where(ratings["statement_id"] % 2, "b", "a")).pivot_table(
        index=["group", "participant_id"], columns="role", values="agreement"
    )
    score = np.where(wide["a"] > wide["b"], 1.0, np.where(wide["a"] == wide["b"], 0.5, 0.0))
    per_group = pd.Series(score, index=wide.index).groupby(level="group").agg(["sum", "count"])
    theirs = stats.bootstrap(
        (per_group["sum"].to_numpy(float), per_group["count"].to_numpy(float)), pooled,
        paired=True, vectorized=True, method="percentile", n_resamples=700,
        rng=np.random.default_rng(11),
    ).confidence_interval  # fmt: skip
    assert row["rate"] == pytest.approx(score.mean(), abs=1e-4)
    assert row["ci"] == pytest.approx([theirs.low, theirs.high], abs=1e-4)
    assert row["groups"] == 9 and row["note"] is None
