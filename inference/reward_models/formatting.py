"""How one (member, candidate) pair is written out for a text-in reward model, and how the
number such a model returns becomes an agreement on the 1-7 scale.

The trainer, the in-process `transformers` backend and the vLLM pooling backend must show a model
exactly the same text, or its predictions mean nothing. These pure functions are that one place.
A model directory records the template it was trained with (`input_template` in
`commonground_reward.json`), and the backends refuse a template they do not know.

Template `commonground-v1`, for `/classify` and sequence classification (one text per pair):

    Question: <question>
    Participant's opinion: <opinion>
    Previous statement: <previous winner>        (critique iteration only)
    Participant's critique: <critique>           (critique iteration only)
    Candidate statement: <candidate>

For a cross-encoder (`/score`, pairs of texts) the same lines are split in two: `text_1` is
everything up to the critique, `text_2` is the candidate line.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inference.base import LIKERT_MAX, LIKERT_MIN, BadModelOutput, RoundText

TEMPLATE_VERSION = "commonground-v1"
TEMPLATES = (TEMPLATE_VERSION,)

OUTPUT_RULES = ("likert", "probability", "logit")
"""How a model's single output `x` maps to agreement `u` on the 1-7 scale:

- `likert`: the model regresses agreement directly: `u = clip(x, 1, 7)`;
- `probability`: `x` is a probability of agreeing in [0, 1]: `u = 1 + 6 x`;
- `logit`: `x` is a logit: `u = 1 + 6 sigmoid(x)` (so `x = 0` gives the neutral 4).
"""


def _clean(text: str) -> str:
    # Participants' text keeps its words; only the line structure the template relies on is
    # protected, so a newline inside an opinion cannot fake a "Candidate statement:" line.
    return " ".join(str(text).split())


def format_context(
    *,
    question: str,
    opinion: str,
    previous_winner: str | None = None,
    critique: str | None = None,
) -> str:
    """The part that describes the member: question, opinion, and in a critique iteration the
    previous winner and the member's critique."""
    lines = [f"Question: {_clean(question)}", f"Participant's opinion: {_clean(opinion)}"]
    if critique is not None:
        lines.append(f"Previous statement: {_clean(previous_winner or '')}")
        lines.append(f"Participant's critique: {_clean(critique)}")
    return "\n".join(lines)


def format_candidate(candidate: str) -> str:
    return f"Candidate statement: {_clean(candidate)}"


def format_reward_input(
    *,
    question: str,
    opinion: str,
    candidate: str,
    previous_winner: str | None = None,
    critique: str | None = None,
) -> str:
    """The single text a sequence-classification reward model reads for one pair (one training
    example): the member's context, then the candidate, on consecutive lines; what
    `round_inputs` gives for that member and candidate of a round."""
    context = format_context(
        question=question, opinion=opinion, previous_winner=previous_winner, critique=critique
    )
    return _one_text(context, format_candidate(candidate))


def round_inputs(round_text: RoundText, candidates: Sequence[str]) -> list[str]:
    """Every pair of a round as one text each, member-major: index `i * len(candidates) + c`."""
    firsts, seconds = round_pairs(round_text, candidates)
    return [_one_text(first, second) for first, second in zip(firsts, seconds, strict=True)]


def round_pairs(round_text: RoundText, candidates: Sequence[str]) -> tuple[list[str], list[str]]:
    """Every pair of a round as `(texts_1, texts_2)`, member-major like `round_inputs`."""
    firsts: list[str] = []
    seconds: list[str] = []
    for i, opinion in enumerate(round_text.opinions):
        context = format_context(
            question=round_text.question,
            opinion=opinion,
            previous_winner=round_text.previous_winner,
            critique=round_text.critique(i),
        )
        for candidate in candidates:
            firsts.append(context)
            seconds.append(format_candidate(candidate))
    return firsts, seconds


def round_texts(
    round_text: RoundText, candidates: Sequence[str], *, pairs: bool
) -> tuple[list[str], list[str] | None]:
    """What a text-in reward model reads for a round: `(round_inputs(...), None)`, or with
    `pairs` (a cross-encoder) `round_pairs(...)`."""
    if pairs:
        return round_pairs(round_text, candidates)
    return round_inputs(round_text, candidates), None


def _one_text(context: str, candidate_line: str) -> str:
    return f"{context}\n{candidate_line}"


def check_output_rule(rule: str) -> str:
    if rule not in OUTPUT_RULES:
        raise ValueError(f"unknown output rule {rule!r}; choose one of {', '.join(OUTPUT_RULES)}")
    return rule


def to_likert(values: Sequence[float] | np.ndarray, rule: str) -> np.ndarray:
    """Map raw model outputs to the 1-7 scale by `rule` (see `OUTPUT_RULES`).

    Raises `BadModelOutput` for values that are not finite numbers, or probabilities outside
    [0, 1] (beyond a rounding tolerance).
    """
    check_output_rule(rule)
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise BadModelOutput(f"reward model outputs are not numbers: {exc}", raw=values) from exc
    if not np.all(np.isfinite(x)):
        raise BadModelOutput("reward model outputs contain NaN or infinity", raw=values)
    if rule == "likert":
        u = x
    elif rule == "probability":
        if x.size and (x.min() < -1e-6 or x.max() > 1 + 1e-6):
            raise BadModelOutput("reward model probabilities fall outside [0, 1]", raw=values)
        u = 1.0 + 6.0 * x
    else:
        u = 1.0 + 6.0 / (1.0 + np.exp(-np.clip(x, -500.0, 500.0)))
    return np.clip(u, LIKERT_MIN, LIKERT_MAX)
