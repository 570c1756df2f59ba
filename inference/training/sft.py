"""Fine-tuning data for the generator: the statements members rated highly, as chat examples
built with the very prompt templates the generator uses (`inference.prompts.statements`), so
training and serving prompts match.

One example per mediator candidate that was shown and rated, whose **mean quality** rating (by
the population asked for: people by default) is **above** `min_quality` ([T24]: above 5 of 7):

    {"messages": [{"role": "system", ...}, {"role": "user", ...},
                  {"role": "assistant", "content": "<statement>...</statement>"}],
     "metadata": {"statement_id", "iteration_id", "question_id", "template_version",
                  "mean_quality", "ratings"}}

The user turn is `opinion_prompt` (opinion iteration) or `critique_prompt` (critique iteration:
each member's opinion beside their critique of the previous winner), with the members the
mediation wrote from (those left out in the exclusion condition are left out here too), in the
order of their pseudonymous ids: the generator shows members in a seeded random order that the
export does not keep, and its prompt says the order means nothing. The assistant turn is the
statement in the `<statement>` tags the generator's parser reads. The statement's recorded
template version is used when this version knows it, else the current one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from inference.prompts.statements import (
    CRITIQUE_TEMPLATE_VERSION,
    CRITIQUE_TEMPLATES,
    OPINION_TEMPLATE_VERSION,
    OPINION_TEMPLATES,
    critique_prompt,
    opinion_prompt,
)
from inference.training.datasets import POPULATIONS, DatasetError

DEFAULT_MIN_QUALITY = 5.0


def sft_records(
    tables: Mapping[str, pd.DataFrame],
    *,
    min_quality: float = DEFAULT_MIN_QUALITY,
    population: str = "people",
) -> Iterator[dict[str, Any]]:
    """The chat examples of the module docstring, in statement id order."""
    if population not in POPULATIONS:
        raise DatasetError(f"unknown population {population!r}")
    if not 1 <= min_quality <= 7:
        raise DatasetError("the quality threshold must lie between 1 and 7")
    kinds = POPULATIONS[population]
    participants = tables["participants"]
    who = dict(zip(participants["participant_id"], participants["provenance"], strict=False))
    ratings = tables["ratings"]
    ratings = ratings[ratings["participant_id"].map(who).isin(kinds)]
    quality = ratings.groupby("statement_id")["quality"].agg(["mean", "count"])
    statements = tables["statements"]
    statements = statements[
        (statements["role"] == "candidate") & statements["statement_id"].isin(quality.index)
    ]
    iterations = tables["iterations"].set_index("iteration_id")
    rounds = tables["rounds"].set_index("round_id")
    questions = tables["questions"].set_index("question_id")
    opinions = tables["opinions"].merge(
        tables["iterations"][["iteration_id", "round_id"]], on="iteration_id"
    )
    opinions = opinions[~opinions["hidden"].fillna(False).astype(bool)]
    excluded = set(
        zip(
            tables["round_exclusions"]["round_id"],
            tables["round_exclusions"]["participant_id"],
            strict=False,
        )
    )
    critiques = tables["critiques"]
    winners = tables["statements"][tables["statements"]["is_winner"].fillna(False).astype(bool)]
    winner_of = dict(zip(winners["iteration_id"], winners["text"], strict=False))
    for s in statements.sort_values("statement_id").itertuples(index=False):
        mean, count = quality.loc[s.statement_id]
        if not mean > min_quality:
            continue
        iteration = iterations.loc[s.iteration_id]
        round_id = int(iteration["round_id"])
        question = str(questions.loc[int(rounds.loc[round_id]["question_id"])]["text"])
        members = opinions[opinions["round_id"] == round_id].sort_values("participant_id")
        members = members[[(round_id, p) not in excluded for p in members["participant_id"]]]
        if members.empty:
            continue
        index = int(iteration["index"])
        template = s.template_version if isinstance(s.template_version, str) else ""
        if index == 0:
            version = template if template in OPINION_TEMPLATES else OPINION_TEMPLATE_VERSION
            prompt = opinion_prompt(question, list(members["text"]), version=version)
        else:
            previous_id = _previous_iteration(iterations, round_id, index)
            previous = winner_of.get(previous_id)
            if previous is None:
                continue
            said = critiques[critiques["iteration_id"] == s.iteration_id]
            critique_of = dict(zip(said["participant_id"], said["text"], strict=False))
            version = template if template in CRITIQUE_TEMPLATES else CRITIQUE_TEMPLATE_VERSION
            prompt = critique_prompt(
                question,
                list(members["text"]),
                previous,
                [critique_of.get(p, "") for p in members["participant_id"]],
                version=version,
            )
        yield {
            "messages": [
                *prompt.messages(),
                {"role": "assistant", "content": f"<statement>{s.text}</statement>"},
            ],
            "metadata": {
                "statement_id": int(s.statement_id),
                "iteration_id": int(s.iteration_id),
                "question_id": int(rounds.loc[round_id]["question_id"]),
                "template_version": prompt.version,
                "mean_quality": round(float(mean), 4),
                "ratings": int(count),
            },
        }


def _previous_iteration(iterations: pd.DataFrame, round_id: int, index: int) -> int | None:
    match = iterations[(iterations["round_id"] == round_id) & (iterations["index"] == index - 1)]
    return int(match.index[0]) if len(match) else None


def write_sft_jsonl(records, out: Path) -> int:
    """Write the records as JSON Lines (to a temporary name, then moved); returns how many."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(out)
    return count
