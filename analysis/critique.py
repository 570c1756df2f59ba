"""Critique uptake (ours, beyond the papers' code): did the revision move towards a critique?

For each critique of a winner in critique iteration k, compare the similarity of the critique
to the revision (iteration k's winner) with its similarity to the critiqued winner. The
similarity is pluggable: any `(texts_a, texts_b) -> array` of pairwise-aligned scores, e.g. an
embedding cosine; the default is a bag-of-words cosine in plain numpy, so it runs everywhere."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.definitions import MIN_GROUPS_FOR_INTERVAL
from analysis.frames import Frames
from analysis.stats import interval, preference, ratio, rounded

Similarity = Callable[[Sequence[str], Sequence[str]], np.ndarray]
SIDES = ("all", "minority", "majority")

_WORD = re.compile(r"[a-z0-9']+")


def bow_cosine(texts_a: Sequence[str], texts_b: Sequence[str]) -> np.ndarray:
    """Cosine of word-count vectors (lower-cased words), pair by pair: `[len(texts_a)]` in
    [0, 1]; 0 when either text has no word."""
    if len(texts_a) != len(texts_b):
        raise ValueError("texts_a and texts_b must have the same length")
    out = np.zeros(len(texts_a), dtype=float)
    for i, (a, b) in enumerate(zip(texts_a, texts_b, strict=True)):
        ca, cb = Counter(_WORD.findall(a.lower())), Counter(_WORD.findall(b.lower()))
        dot = sum(count * cb[word] for word, count in ca.items())
        norm = np.sqrt(sum(v * v for v in ca.values())) * np.sqrt(sum(v * v for v in cb.values()))
        out[i] = dot / norm if norm else 0.0
    return out


def sides(frames: Frames) -> dict[tuple[Any, str], str]:
    """`minority` (DEFINITIONS["minority"]) of each (round, participant) by the position rating
    before the round: "majority", "minority", or absent (neutral, or an evenly split group)."""
    before = frames.positions[frames.positions["index"] == 0]
    out: dict[tuple[Any, str], str] = {}
    for round_id, part in before.groupby("round_id"):
        lean = {pid: np.sign(a - 4) for pid, a in zip(part["participant_id"], part["agreement"],
                                                      strict=True)}  # fmt: skip
        agree = sum(1 for s in lean.values() if s > 0)
        disagree = sum(1 for s in lean.values() if s < 0)
        if agree == disagree:
            continue
        majority = 1 if agree > disagree else -1
        for pid, s in lean.items():
            if s != 0:
                out[(round_id, pid)] = "majority" if s == majority else "minority"
    return out


def critique_uptake(
    frames: Frames,
    *,
    resamples: int,
    seed: int,
    similarity: Similarity | None = None,
    min_groups: int = MIN_GROUPS_FOR_INTERVAL,
) -> list[dict[str, Any]]:
    """`critique_uptake` per condition and critique iteration index, for all critics and split
    into the group's minority and majority (`minority`)."""
    similarity = similarity or bow_cosine
    winners = frames.statements[frames.statements["label"] == "candidate"]
    revision = {(r.round_id, int(r.index)): r.text for r in winners.itertuples()
                if not pd.isna(r.index)}  # fmt: skip
    texts = dict(zip(frames.statements["statement_id"], frames.statements["text"], strict=True))
    rows = []
    for c in frames.critiques.itertuples():
        new = revision.get((c.round_id, int(c.index))) if not pd.isna(c.index) else None
        old = texts.get(c.statement_id)
        if new is None or old is None:
            continue
        rows.append((c.condition, int(c.index), c.group_id, c.round_id, c.participant_id,
                     c.text, new, old))  # fmt: skip
    if not rows:
        return []
    table = pd.DataFrame(
        rows, columns=["condition", "index", "group_id", "round_id", "pid", "text", "new", "old"]
    )
    to_new = np.asarray(similarity(list(table["text"]), list(table["new"])), dtype=float)
    to_old = np.asarray(similarity(list(table["text"]), list(table["old"])), dtype=float)
    table["gain"] = to_new - to_old
    table["moved"] = [preference(a, b) for a, b in zip(to_new, to_old, strict=True)]
    side_of = sides(frames)
    table["side"] = [side_of.get((r, p)) for r, p in zip(table["round_id"], table["pid"],
                                                          strict=True)]  # fmt: skip
    out = []
    for condition in frames.conditions:
        mine = table[table["condition"] == condition["name"]]
        for index, part in mine.groupby("index", sort=True):
            for side in SIDES:
                chosen = part if side == "all" else part[part["side"] == side]
                if chosen.empty:
                    out.append({"condition": condition["name"], "iteration_index": int(index),
                                "side": side, "critiques": 0, "uptake": None, "mean_gain": None,
                                "ci": None, "groups": 0,
                                "note": f"no critique from the {side}"})  # fmt: skip
                    continue
                per_group = chosen.groupby("group_id")["moved"].agg(["sum", "count"])
                data = per_group.to_numpy(dtype=float)
                ci, note = interval(data, ratio, resamples=resamples, seed=seed,
                                    min_groups=min_groups)  # fmt: skip
                out.append(
                    {
                        "condition": condition["name"],
                        "iteration_index": int(index),
                        "side": side,
                        "critiques": len(chosen),
                        "uptake": rounded(chosen["moved"].mean()),
                        "mean_gain": rounded(chosen["gain"].mean()),
                        "ci": None if ci is None else [rounded(ci[0]), rounded(ci[1])],
                        "groups": len(data),
                        "note": note,
                    }
                )
    return out
