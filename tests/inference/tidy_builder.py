"""Small `tidy` exports built by hand, in the exact shape `analysis.tidy` describes, for the
training tests that need no database. Members' agreement follows the share of their opinion's
words a statement uses (as the simulation's bots do), plus noise, so a model has something to
learn; rankings follow agreement."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pandas as pd

from analysis.tidy import TABLES, table

REASONS = [
    "The people most affected by this should have the biggest say in it.",
    "Cost matters here, and we should be honest about who ends up paying.",
    "I have seen something like this work locally, but only with clear rules.",
    "We should look carefully at the evidence before making a big change.",
    "Any decision should protect those who are most vulnerable.",
    "I worry about unintended consequences that would be hard to reverse.",
    "Phasing it in gradually would give everyone time to adjust.",
    "Personal freedom is important, but it is not the only thing that matters.",
    "Trust in public institutions depends on getting this kind of question right.",
    "Young people and future generations will live with the result longest.",
    "Local communities differ, so one rule for everyone may not fit.",
    "Fairness should come first, even if it makes things slower.",
]
TOPICS = [
    ("Should cities ban cars from their centres?", "train"),
    ("Should voting be compulsory?", "train"),
    ("Should the school day start later?", "train"),
    ("Should plastic bags be taxed?", "train"),
    ("Should museums be free to enter?", "iid_test"),
    ("Should public transport be free?", "ood_test"),
    ("Should homework be abolished?", "train"),
    ("Should the voting age be lowered to sixteen?", "iid_test"),
]
_WORD = re.compile(r"[a-z']+")


def overlap_agreement(opinion: str, statement: str, rng: random.Random) -> int:
    own = set(_WORD.findall(opinion.lower()))
    theirs = set(_WORD.findall(statement.lower()))
    share = len(own & theirs) / max(1, len(own))
    return min(7, max(1, round(2 + 5 * share + rng.gauss(0, 0.6))))


def build_tables(
    *,
    questions=TOPICS,
    groups_per_question: int = 1,
    members: int = 4,
    candidates: int = 4,
    seed: int = 0,
    provenance: str = "bot_citizen",
    splits: bool = True,
    first_id: int = 0,
) -> dict[str, pd.DataFrame]:
    """`first_id` offsets every id, so two builds can be concatenated into one export."""
    rng = random.Random(seed)
    rows: dict[str, list[dict]] = {t.name: [] for t in TABLES}
    rows["deliberations"].append(
        {
            "deliberation_id": "d-1",
            "title": "Hand-built",
            "group_size": members,
            "created_at": "2026-01-01T00:00:00Z",
        }  # fmt: skip
    )
    kinds = ("group", "round", "iteration", "opinion", "statement", "rating", "ranking")
    ids = dict.fromkeys(kinds, first_id)

    def next_id(kind: str) -> int:
        ids[kind] += 1
        return ids[kind]

    for q, (text, split) in enumerate(questions, start=first_id + 1):
        rows["questions"].append(
            {"question_id": q, "text": text, "split": split if splits else "", "source": "test"}
        )
        for _ in range(groups_per_question):
            group = next_id("group")
            rows["groups"].append(
                {"group_id": group, "deliberation_id": "d-1", "number": group, "status": "done"}
            )
            round_id = next_id("round")
            rows["rounds"].append(
                {
                    "round_id": round_id,
                    "group_id": group,
                    "question_id": q,
                    "position": 0,
                    "status": "done",
                }  # fmt: skip
            )
            iteration = next_id("iteration")
            rows["iterations"].append(
                {"iteration_id": iteration, "round_id": round_id, "index": 0, "state": "done"}
            )
            pids = [f"{provenance[:3]}-{group}-{m}" for m in range(members)]
            opinions = {}
            for pid in pids:
                rows["participants"].append(
                    {
                        "participant_id": pid,
                        "deliberation_id": "d-1",
                        "group_id": group,
                        "provenance": provenance,
                        "status": "completed",
                        "joined_at": "2026-01-01T00:00:00Z",
                    }  # fmt: skip
                )
                opinions[pid] = " ".join(rng.sample(REASONS, 3))
                rows["opinions"].append(
                    {
                        "opinion_id": next_id("opinion"),
                        "iteration_id": iteration,
                        "participant_id": pid,
                        "text": opinions[pid],
                        "hidden": False,
                        "created_at": "2026-01-01T00:00:00Z",
                    }  # fmt: skip
                )
            statements = []
            for c in range(candidates):
                sid = next_id("statement")
                body = " ".join(rng.sample(REASONS, rng.randint(1, 4)))
                statements.append((sid, body))
                rows["statements"].append(
                    {
                        "statement_id": sid,
                        "iteration_id": iteration,
                        "role": "candidate",
                        "text": body,
                        "provenance": "model_mediator",
                        "is_winner": c == 0,
                        "shown": True,
                        "rank": c,
                        "created_at": "2026-01-01T00:00:00Z",
                    }  # fmt: skip
                )
            for pid in pids:
                agreement = {}
                for sid, body in statements:
                    agreement[sid] = overlap_agreement(opinions[pid], body, rng)
                    rows["ratings"].append(
                        {
                            "rating_id": next_id("rating"),
                            "participant_id": pid,
                            "statement_id": sid,
                            "iteration_id": iteration,
                            "agreement": agreement[sid],
                            "quality": rng.randint(3, 7),
                            "created_at": "2026-01-01T00:00:00Z",
                        }  # fmt: skip
                    )
                ranking = next_id("ranking")
                order = sorted(statements, key=lambda s: -agreement[s[0]] - rng.random() / 10)
                for place, (sid, _) in enumerate(order):
                    rows["rankings"].append(
                        {
                            "ranking_id": ranking,
                            "participant_id": pid,
                            "round_id": round_id,
                            "iteration_id": iteration,
                            "kind": "statements",
                            "statement_id": sid,
                            "position_shown": place,
                            "rank": place,
                            "created_at": "2026-01-01T00:00:00Z",
                        }  # fmt: skip
                    )
    return {
        t.name: pd.DataFrame(rows[t.name], columns=table(t.name).field_names).convert_dtypes()
        for t in TABLES
    }


def write_export(tables: dict[str, pd.DataFrame], folder: Path) -> Path:
    """Write `tables` as a CSV `tidy` export with its `datapackage.json` (what `load_tidy`
    reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    resources = []
    for t in TABLES:
        frame = tables[t.name].copy()
        for f in t.fields:
            if f.type in ("array", "object"):
                frame[f.name] = frame[f.name].map(
                    lambda v: json.dumps(v) if isinstance(v, (list, dict)) else ""
                )
        frame.to_csv(folder / f"{t.name}.csv", index=False)
        resources.append(
            {"name": t.name, "path": f"{t.name}.csv", "format": "csv", "schema": t.schema()}
        )
    (folder / "datapackage.json").write_text(
        json.dumps({"name": "test", "resources": resources}), encoding="utf-8"
    )
    return folder
