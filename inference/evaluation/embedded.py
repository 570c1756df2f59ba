"""How good the embedded mediator is, measured on the project's evaluation set.

`embedded_set.json` beside this module holds 32 groups of 3-5 invented, human-like opinions on
questions of the Habermas Machine bank (CC-BY 4.0, see its `about`), each member's side labelled.
`evaluate` runs the embedded backends on every group (16 candidates, the round's seed fixed) and
measures:

- `first_person_verbatim`: share of candidates that contain, word for word, a sentence of a
  member that speaks in the first person singular ("I", "my", "me", ...; at least four words).
  Target 0.
- `both_sides_asserted`: share of candidates that assert both sides of the question in the
  group's own voice, that is outside clauses attributed to part of the group ("one of us ...",
  "most of us think ..., while ..."). Target 0.
- `stance_accuracy`: share of (member, pair) cases where the reward model predicts the member
  agrees more with a statement of their own side than with one of the opposite side. Two pairs
  per member with a side: the question's two position statements, and each of them followed by
  a reason of another member of that side (so the pair differs in wording, as real candidates
  do). Measured from the opinions' words alone (position ratings withheld), and again with the
  ratings where the set has them. Target >= 0.9 (words alone).
- `prediction_sd`: standard deviation of the predictions over all members and candidates of a
  group, averaged over groups; `within_member_sd`: the spread across one member's candidates
  (what the aggregation chooses from); the lowest and highest prediction.
- `members_represented`: share of members whose point a candidate carries (the opening for
  their side, and their own sentence when they gave a reason).
- `mediation_s`: median time of one mediation of a 5-member group with 16 candidates, after a
  warm-up. Target < 1 s.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from inference.base import RoundText
from inference.generators.sentences import has_first_person, split_sentences, word_count
from inference.mediation import mediate
from inference.stance import clause_stance, clauses, proposition

SET_PATH = Path(__file__).with_name("embedded_set.json")
TARGETS = {
    "first_person_verbatim": ("<=", 0.0),
    "both_sides_asserted": ("<=", 0.0),
    "stance_accuracy": (">=", 0.9),
    "mediation_s": ("<", 1.0),
}
N_CANDIDATES = 16

_ATTRIBUTED = re.compile(
    r"\b(?:one|two|three|four|five|some|most|many|several|a\s+few|the\s+rest)\s+of\s+(?:us|those)\b"
    r"|\bothers?\b|\banother\s+of\s+us\b|\bthose\s+(?:in\s+favou?r|against)\b",
    re.IGNORECASE,
)


def load_set(path: str | Path = SET_PATH) -> list[dict[str, Any]]:
    """The groups of an evaluation set file (see `embedded_set.json` for the shape)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    groups = data["groups"]
    for group in groups:
        if not 1 <= len(group["members"]) <= 7:
            raise ValueError(f"group {group['id']} has {len(group['members'])} members")
        for member in group["members"]:
            if member["side"] not in (-1, 0, 1):
                raise ValueError(f"group {group['id']}: a side is {member['side']!r}")
    return groups


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower().replace("’", "'"))


def _is_slice(part: list[str], whole: list[str]) -> bool:
    n = len(part)
    return n > 0 and any(whole[k : k + n] == part for k in range(len(whole) - n + 1))


def first_person_verbatim(candidate: str, opinions: Sequence[str]) -> bool:
    """Whether `candidate` repeats word for word a member's first-person sentence (>= 4 words)."""
    words = _words(candidate)
    for opinion in opinions:
        for sentence in split_sentences(opinion):
            if word_count(sentence) >= 4 and has_first_person(sentence):
                if _is_slice(_words(sentence), words):
                    return True
    return False


def both_sides_asserted(
    candidate: str, question: str, affirming: str | None, negating: str | None
) -> bool:
    """Whether the group's own voice in `candidate` (clauses not attributed to part of the group)
    takes both sides of the question."""
    prop = proposition(question, affirming, negating)
    seen = set()
    for sentence in split_sentences(candidate):
        if _ATTRIBUTED.search(sentence):
            continue
        for clause in clauses(sentence):
            stance, weight = clause_stance(clause, prop)
            if weight >= 0.3 and abs(stance) >= 0.5:
                seen.add(1 if stance > 0 else -1)
    return seen == {1, -1}


@dataclass
class Evaluation:
    """The figures of one run of `evaluate` (see the module docstring)."""

    groups: int
    candidates: int
    first_person_verbatim: float
    both_sides_asserted: float
    stance_accuracy: float
    stance_accuracy_with_ratings: float
    stance_pairs: int
    stance_margin: float
    prediction_sd: float
    within_member_sd: float
    prediction_min: float
    prediction_max: float
    members_represented: float
    mediation_s: float | None
    examples: dict[str, str] = field(default_factory=dict)

    def met(self) -> dict[str, bool | None]:
        out: dict[str, bool | None] = {}
        for key, (op, bound) in TARGETS.items():
            value = getattr(self, key)
            if value is None:
                out[key] = None
            elif op == "<=":
                out[key] = value <= bound
            elif op == ">=":
                out[key] = value >= bound
            else:
                out[key] = value < bound
        return out

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["targets"] = {k: f"{op} {bound:g}" for k, (op, bound) in TARGETS.items()}
        data["met"] = self.met()
        return data


def _reason(opinion: str) -> str | None:
    sentences = [s for s in split_sentences(opinion) if word_count(s) >= 5]
    return sentences[-1] if len(sentences) > 1 else None


def stance_pairs(group: dict[str, Any]) -> list[tuple[int, str, str]]:
    """`(member, own-side text, opposite-side text)` for every member with a side."""
    aff = group["affirming_statement"]
    neg = group["negating_statement"]
    members = group["members"]
    reasons = {1: [], -1: []}
    for k, m in enumerate(members):
        if m["side"] and _reason(m["opinion"]):
            reasons[m["side"]].append((k, _reason(m["opinion"])))
    out = []
    for k, m in enumerate(members):
        if not m["side"]:
            continue
        own, other = (aff, neg) if m["side"] > 0 else (neg, aff)
        out.append((k, own, other))
        mine = [r for j, r in reasons[m["side"]] if j != k] or [r for _, r in reasons[m["side"]]]
        theirs = [r for _, r in reasons[-m["side"]]]
        if mine and theirs:
            out.append((k, f"{own} {mine[0]}", f"{other} {theirs[0]}"))
    return out


def evaluate(
    *,
    generator: Any,
    reward_model: Any,
    groups: Sequence[dict[str, Any]],
    seed: int = 0,
    timing_runs: int = 5,
) -> Evaluation:
    """Run the backends over `groups` and measure (see the module docstring)."""
    first_person = both = total = 0
    represented: list[float] = []
    sds: list[float] = []
    within: list[float] = []
    lows: list[float] = []
    highs: list[float] = []
    right = right_rated = pairs = 0
    margins: list[float] = []
    examples: dict[str, str] = {}
    for g, group in enumerate(groups):
        round_text = _round_text(group)
        opinions = round_text.opinions
        candidates = generator.generate(round_text, n=N_CANDIDATES, seed=seed + g)
        texts = [c.text for c in candidates]
        for c in candidates:
            total += 1
            first_person += first_person_verbatim(c.text, opinions)
            both += both_sides_asserted(c.text, group["question"], **_statements(group))
            shown = set(c.provenance.get("members_represented", []))
            represented.append(len(shown & set(range(len(opinions)))) / len(opinions))
        sides = {m["side"] for m in group["members"]}
        kind = "split" if {1, -1} <= sides else "agreeing" if len(sides - {0}) == 1 else "other"
        examples.setdefault(kind, texts[0])
        predictions = reward_model.predict(round_text, texts)
        sds.append(float(np.std(predictions)))
        within.append(float(np.mean(np.std(predictions, axis=1))))
        lows.append(float(predictions.min()))
        highs.append(float(predictions.max()))
        cases = stance_pairs(group)
        statements = list(dict.fromkeys(t for _, own, other in cases for t in (own, other)))
        column = {t: k for k, t in enumerate(statements)}
        rated = replace(
            round_text, position_ratings=[m.get("position_rating") for m in group["members"]]
        )
        for with_ratings in (False, True):
            if not cases:
                break
            scores = reward_model.predict(rated if with_ratings else round_text, statements)
            for member, own, other in cases:
                gap = float(scores[member, column[own]] - scores[member, column[other]])
                if with_ratings:
                    right_rated += gap > 0
                else:
                    pairs += 1
                    right += gap > 0
                    margins.append(gap)

    mediation_s = None
    five = [g for g in groups if len(g["members"]) == 5] or list(groups)
    if timing_runs > 0 and five:

        def once(group: dict[str, Any], run: int) -> None:
            mediate(
                _round_text(group),
                generator=generator,
                reward_model=reward_model,
                n_candidates=N_CANDIDATES,
                seed=run,
            )

        once(five[0], -1)  # warm-up
        times = []
        for run in range(timing_runs):
            started = time.perf_counter()
            once(five[run % len(five)], run)
            times.append(time.perf_counter() - started)
        mediation_s = statistics.median(times)

    return Evaluation(
        groups=len(groups),
        candidates=total,
        first_person_verbatim=first_person / max(total, 1),
        both_sides_asserted=both / max(total, 1),
        stance_accuracy=right / max(pairs, 1),
        stance_accuracy_with_ratings=right_rated / max(pairs, 1),
        stance_pairs=pairs,
        stance_margin=float(np.mean(margins)) if margins else 0.0,
        prediction_sd=float(np.mean(sds)),
        within_member_sd=float(np.mean(within)),
        prediction_min=min(lows),
        prediction_max=max(highs),
        members_represented=float(np.mean(represented)),
        mediation_s=mediation_s,
        examples=examples,
    )


def _round_text(group: dict[str, Any]) -> RoundText:
    """The group's round without its position ratings (the reward model is measured with and
    without them)."""
    return RoundText(
        question=group["question"],
        opinions=[m["opinion"] for m in group["members"]],
        affirming_statement=group["affirming_statement"],
        negating_statement=group["negating_statement"],
    )


def _statements(group: dict[str, Any]) -> dict[str, str]:
    return {"affirming": group["affirming_statement"], "negating": group["negating_statement"]}


def report(evaluation: Evaluation) -> str:
    """The figures as a table, with their targets and whether each is met."""
    met = evaluation.met()

    def mark(key: str) -> str:
        value = met.get(key)
        return "" if key not in met else "n/a" if value is None else "yes" if value else "NO"

    def target(key: str) -> str:
        if key not in TARGETS:
            return ""
        op, bound = TARGETS[key]
        return f"{op} {bound:g}"

    e = evaluation
    rows = [
        ("what", "measured", "target", "met"),
        (
            "candidates with a member's first-person sentence verbatim",
            f"{e.first_person_verbatim:.1%}",
            target("first_person_verbatim"),
            mark("first_person_verbatim"),
        ),
        (
            "candidates asserting both sides as the group's view",
            f"{e.both_sides_asserted:.1%}",
            target("both_sides_asserted"),
            mark("both_sides_asserted"),
        ),
        (
            f"stance accuracy, words only ({e.stance_pairs} pairs)",
            f"{e.stance_accuracy:.1%} (margin {e.stance_margin:+.2f})",
            target("stance_accuracy"),
            mark("stance_accuracy"),
        ),
        ("stance accuracy, with position ratings", f"{e.stance_accuracy_with_ratings:.1%}", "", ""),
        (
            "prediction SD: all members x candidates / within a member",
            f"{e.prediction_sd:.2f} / {e.within_member_sd:.2f}",
            "",
            "",
        ),
        ("predictions range", f"{e.prediction_min:.2f} - {e.prediction_max:.2f}", "", ""),
        ("members represented per candidate", f"{e.members_represented:.1%}", "", ""),
        (
            f"mediation, 5 x {N_CANDIDATES}, after warm-up (median)",
            "-" if e.mediation_s is None else f"{e.mediation_s * 1000:.0f} ms",
            "< 1 s",
            mark("mediation_s"),
        ),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(f"{e.groups} groups, {e.candidates} candidates")
    for kind, text in e.examples.items():
        lines.append(f"example ({kind} group): {text}")
    return "\n".join(lines)
