"""How long `analysis.report.report` takes on a synthetic study of G groups (no database):
every group of 5 with a position rating before and after, an opinion iteration (winner and
baseline rated, 16 candidates predicted) and a critique iteration (winner rated, critiques).

    python tests/bench/analysis_report.py [--groups 200] [--resamples 2000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from analysis.report import report

D = "bench"


def study(groups: int, size: int = 5, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {name: [] for name in (
        "groups", "participants", "rounds", "iterations", "statements", "ratings", "predictions",
        "position_ratings", "critiques", "round_exclusions")}  # fmt: skip
    words = "parks rivers schools taxes buses trains homes jobs care health".split()
    sid = 0
    for g in range(groups):
        condition = 1 + g % 2
        rows["groups"].append((g, D, g, condition))
        rows["rounds"].append((g, g, 1, 0))
        members = [f"p{g}-{m}" for m in range(size)]
        rows["participants"] += [(p, D, g, "human_citizen") for p in members]
        if condition == 2:
            rows["round_exclusions"].append((g, members[0]))
        for p in members:
            for index in (0, 1):
                rows["position_ratings"].append((len(rows["position_ratings"]), p, g, index,
                                                 int(rng.integers(1, 8))))  # fmt: skip
        winners = []
        for index in (0, 1):
            it = 2 * g + index
            rows["iterations"].append((it, g, index))
            shown = []
            for c in range(16):
                text = " ".join(rng.choice(words, 6))
                rows["statements"].append((sid, it, "candidate", text, c == 0, c == 0))
                rows["predictions"] += [(sid, p, float(rng.uniform(1, 7)), 1) for p in members]
                if c == 0:
                    shown.append(sid)
                    winners.append((sid, text))
                sid += 1
            if index == 0:
                rows["statements"].append((sid, it, "baseline", "a baseline", False, True))
                shown.append(sid)
                sid += 1
            for s in shown:
                rows["ratings"] += [(len(rows["ratings"]), p, s, it, int(rng.integers(1, 8)),
                                     int(rng.integers(1, 8))) for p in members]  # fmt: skip
            if index == 1:
                rows["critiques"] += [(len(rows["critiques"]), it, p, winners[0][0],
                                       " ".join(rng.choice(words, 5))) for p in members]  # fmt: skip
    columns = {
        "groups": ["group_id", "deliberation_id", "number", "condition_id"],
        "participants": ["participant_id", "deliberation_id", "group_id", "provenance"],
        "rounds": ["round_id", "group_id", "question_id", "position"],
        "iterations": ["iteration_id", "round_id", "index"],
        "statements": ["statement_id", "iteration_id", "role", "text", "is_winner", "shown"],
        "ratings": ["rating_id", "participant_id", "statement_id", "iteration_id", "agreement",
                    "quality"],
        "predictions": ["statement_id", "participant_id", "value", "model_version_id"],
        "position_ratings": ["position_rating_id", "participant_id", "round_id", "index",
                             "agreement"],
        "critiques": ["critique_id", "iteration_id", "participant_id", "statement_id", "text"],
        "round_exclusions": ["round_id", "participant_id"],
    }  # fmt: skip
    tables = {name: pd.DataFrame(rows[name], columns=columns[name]) for name in columns}
    tables["deliberations"] = pd.DataFrame([(D, "Bench")], columns=["deliberation_id", "title"])
    tables["questions"] = pd.DataFrame([(1, "Q?", "iid_test")],
                                       columns=["question_id", "text", "split"])  # fmt: skip
    tables["conditions"] = pd.DataFrame(
        [(1, D, "baseline", ["baseline"], False), (2, D, "exclusion", ["baseline"], True)],
        columns=["condition_id", "deliberation_id", "name", "comparisons", "exclusion"],
    )
    return tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    tables = study(args.groups)
    start = time.perf_counter()
    result = report(tables, resamples=args.resamples)
    seconds = time.perf_counter() - start
    print(f"report on {args.groups} groups ({len(tables['ratings'])} ratings, "
          f"{len(tables['predictions'])} predictions), {args.resamples} resamples: "
          f"{seconds:.2f} s; win rates {len(result['win_rates'])} rows")  # fmt: skip


if __name__ == "__main__":
    main()
