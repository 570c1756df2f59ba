"""How the extractive generator revises a winner after the members' critiques. Pure functions.

The previous winner's sentences are kept, in order, unless a critique objects to them. Each
critique is read for what it asks (word rules, `OBJECTION`, `MISSING`, `APPROVAL`):

- **An objection** ("I don't agree that ...", "that's not true", a quoted part of the statement)
  targets the sentence it quotes, or the one closest to it. That sentence is dropped, unless it
  is the only sentence that carries some member's point: then it is *qualified* instead, put to
  part of the group ("Some of us think that X, though not all of us agree.", or ", though others
  doubt it." after a sentence already attributed). Where both would do, the sample's seed
  chooses, so revisions vary.
- **A missing concern** ("it leaves out ...", "what about ...", "doesn't mention ...") adds the
  critic's own opinion sentence closest to what they asked for, reported as theirs ("One of us
  also points out that ..."); when they wrote nothing close, the concern itself from their
  critique ("One of us also asks us to consider ...").
- **Neither, and not plain approval**: the critic's own main point is added if the statement does
  not carry it yet.
- **Approval** ("I agree", "fine as it is"): nothing changes for that member.

The opening sentence (where the group stands) is never dropped. Critiques are otherwise not
copied into the statement: they talk about the draft, not the question.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from inference.base import Candidate, RoundText
from inference.generators.sentences import (
    as_clause,
    presentable,
    reported,
    split_sentences,
    word_count,
)
from inference.stance import Proposition, restates_side

OBJECTION = re.compile(
    r"\b(?:disagree|don'?t\s+agree|do\s+not\s+agree|not\s+true|untrue|wrong|overstat\w*"
    r"|too\s+strong|exaggerat\w*|misrepresent\w*|not\s+what\s+i|never\s+said|remove|drop"
    r"|delete|take\s+out|unfair|not\s+all\s+of\s+us|(?:doesn'?t|does\s+not)\s+speak\s+for"
    r"|not\s+accurate|inaccurate|false|object)\b",
    re.IGNORECASE,
)
MISSING = re.compile(
    r"(?:doesn'?t|does\s+not|didn'?t|did\s+not|fails?\s+to|forg[eo]t\w*\s+to|forgets?)\s+"
    r"(?:mention|say|include|address|cover|talk\s+about|consider|deal\s+with)\b"
    r"|\bleaves?\s+out\b|\bleft\s+out\b|\bignor\w*|\bnothing\s+(?:about|on)\b|\bno\s+mention\s+of\b"
    r"|\bwhat\s+about\b|\bmissing\b|\bshould\s+(?:also\s+)?(?:mention|say|include|add|address)\b"
    r"|\bneeds?\s+to\s+(?:mention|say|include|add|address)\b|\bmore\s+about\b|\bsays?\s+nothing\b",
    re.IGNORECASE,
)
APPROVAL = re.compile(
    r"\b(?:i\s+agree|agree\s+with\s+it|good|fine|happy\s+with|well\s+put|accurate|represents\s+me"
    r"|nothing\s+to\s+add|looks\s+good|spot\s+on|fair)\b",
    re.IGNORECASE,
)
_QUOTE = re.compile(r"[\"“”‘’']([^\"“”‘’']{8,})[\"“”‘’']")
_OPENING = re.compile(
    r"\b(?:most|all|some|one|two|three|four|five)\s+of\s+us\s+think|\bwe\s+all\s+think"
    r"|\bwe\s+are\s+(?:divided|split)|\bwe\s+have\s+not\s+settled|\bnone\s+of\s+us\s+has",
    re.IGNORECASE,
)
_ATTRIBUTED = re.compile(r"^(?:one|some|two|three|another|several|many)\b.*\bthat\b", re.I)
_GROUP_CLAIM = re.compile(
    r"^(?:we\s+(?:all\s+)?agree\s+that|we\s+(?:all\s+)?think\s+that)\s+", re.I
)
_SHARED_LAST = re.compile(r"^(?:we\s+(?:all\s+)?agree|both\s+sides|whatever\s+our\s+side)", re.I)

QUALIFY_GROUP = (
    "Some of us think that {clause}, though not all of us agree.",
    "Some of us hold that {clause}; others do not.",
)
QUALIFY_REPORTED = (", though others doubt it.", ", a point not all of us accept.")
ADD_REASON = ("One of us also points out that {clause}.", "One of us adds that {clause}.")
ADD_CONCERN = (
    "One of us also asks us to consider {clause}.",
    "One of us wants us to weigh {clause} as well.",
)
SAID = 0.45  # TF-IDF cosine at which a "missing" concern is already in the statement
OBJECTION_SIM = 0.12  # TF-IDF cosine an unquoted objection needs to its sentence
REPRESENTS = 0.3  # TF-IDF cosine at which a statement sentence carries a member's sentence

Vectors = Callable[[Sequence[str], Sequence[str]], np.ndarray]


def revise(
    round_text: RoundText,
    *,
    vectors: Vectors,
    prop: Proposition,
    provenance: dict[str, Any],
) -> Candidate:
    """One revised candidate; see the module docstring. `provenance` is the sample's base
    record (its `seed` draws the sample's choices); this adds `sentences` (each with its source and any change), `dropped` and
    `critiques_taken_up` (per member: "objection", "missing", "main point", "approval",
    "already said", "none"). `round_text` is a critique iteration's."""
    opinions = round_text.opinions
    critiques = round_text.critiques or ()
    rng = np.random.default_rng(provenance["seed"])
    kept = split_sentences(str(round_text.previous_winner))
    # A member's sentences that can answer their critique: not a mere restatement of their side
    # (the opening carries that).
    mine = [
        [
            (j, s)
            for j, s in enumerate(split_sentences(o))
            if word_count(s) >= 4 and not restates_side(s, prop)
        ]
        for o in opinions
    ]
    flat = [(m, j, s) for m, items in enumerate(mine) for j, s in items]
    concerns = [_concern(c) if c else "" for c in critiques]
    # What a critique is about, without the words that only say it objects or approves.
    about = [OBJECTION.sub(" ", APPROVAL.sub(" ", c or "")) for c in critiques]
    texts = [*kept, *(s for _, _, s in flat), *about, *concerns]
    v = vectors(texts, [*kept, *opinions, *(c or "" for c in critiques)])
    kv = v[: len(kept)]
    fv = v[len(kept) : len(kept) + len(flat)]
    cv = v[len(kept) + len(flat) : len(kept) + len(flat) + len(critiques)]
    concern_v = v[len(kept) + len(flat) + len(critiques) :]
    sim_kf = np.clip(kv @ fv.T, 0, 1) if len(flat) else np.zeros((len(kept), 0))

    # Which members each sentence of the statement carries.
    carries = [
        {flat[f][0] for f in range(len(flat)) if sim_kf[k, f] >= REPRESENTS}
        for k in range(len(kept))
    ]
    opening = {k for k, s in enumerate(kept) if _OPENING.search(s)}

    sentences: list[dict[str, Any]] = [
        {"text": s, "source": "previous_winner", "index": k} for k, s in enumerate(kept)
    ]
    dropped: list[dict[str, Any]] = []
    additions: list[dict[str, Any]] = []
    taken: list[str] = []
    for i, critique in enumerate(critiques):
        if not critique or not critique.strip():
            taken.append("none")
            continue
        objects = OBJECTION.search(critique) is not None or _QUOTE.search(critique) is not None
        missing = MISSING.search(critique) is not None
        if objects:
            target = _target(critique, kept, cv[i], kv, opening)
            if target is not None:
                elsewhere: set[int] = set()
                for k in range(len(kept)):
                    if k != target and sentences[k] is not None:
                        elsewhere |= carries[k]
                only_point = bool(carries[target] - elsewhere)
                entry = sentences[target]
                if entry is None or entry.get("change") == "qualified":
                    pass
                elif only_point or rng.random() < 0.5:
                    entry["text"] = _qualify(entry["text"], rng)
                    entry["change"] = "qualified"
                    entry["critique_of"] = i
                else:
                    dropped.append({"index": target, "text": entry["text"], "critique_of": i})
                    sentences[target] = None  # type: ignore[call-overload]
        if missing or not objects:
            if not missing and APPROVAL.search(critique):
                taken.append("approval")
                continue
            query = concern_v[i] if missing and concerns[i] else cv[i]
            if missing and concerns[i] and len(kept) and float((kv @ query).max()) >= SAID:
                taken.append("already said")  # the statement carries it; nothing to add
                continue
            added = _add_for(i, query, flat, fv, kv, missing, concerns[i], rng)
            if added is not None:
                additions.append(added)
            taken.append(
                ("objection+" if objects else "") + ("missing" if missing else "main point")
            )
        else:
            taken.append("objection")

    body = [s for s in sentences if s is not None]
    tail = [s for s in body if _SHARED_LAST.match(s["text"])][-1:]
    body = [s for s in body if s not in tail]
    order = rng.permutation(len(additions)) if len(additions) > 1 else range(len(additions))
    parts = body + [additions[k] for k in order] + tail
    provenance = dict(provenance)
    provenance["sentences"] = parts
    provenance["dropped"] = dropped
    provenance["critiques_taken_up"] = taken
    return Candidate(text=" ".join(p["text"] for p in parts), provenance=provenance)


def _concern(critique: str) -> str:
    """What a critique says is missing: the words after "leaves out", "what about", ..."""
    match = MISSING.search(critique)
    if not match:
        return ""
    rest = critique[match.end() :]
    rest = re.split(r"(?<=[.!?])\s", rest, maxsplit=1)[0]
    rest = re.sub(r"^\W*(?:the\s+fact\s+that|that|about|of)\s+", "", rest.strip(), flags=re.I)
    rest = rest.strip(" .!?:;,-")
    return rest if word_count(rest) >= 2 else ""


def _target(
    critique: str,
    kept: list[str],
    critique_vec: np.ndarray,
    kept_vecs: np.ndarray,
    opening: set[int],
) -> int | None:
    """The statement sentence an objection is about: the one it quotes, else the closest one
    (never the opening, which says where the group stands)."""
    for match in _QUOTE.finditer(critique):
        quoted = _words(match.group(1))
        for k, sentence in enumerate(kept):
            if k not in opening and _is_slice(quoted, _words(sentence)):
                return k
    sims = np.clip(kept_vecs @ critique_vec, 0, 1) if len(kept) else np.zeros(0)
    candidates = [k for k in range(len(kept)) if k not in opening]
    if not candidates:
        return None
    best = max(candidates, key=lambda k: sims[k])
    # An objection to something the statement does not say has nothing to act on.
    return best if sims[best] >= OBJECTION_SIM else None


def _qualify(sentence: str, rng: np.random.Generator) -> str:
    text = sentence.strip()
    if _ATTRIBUTED.match(text):
        ending = QUALIFY_REPORTED[int(rng.integers(len(QUALIFY_REPORTED)))]
        return text.rstrip(".!") + ending
    clause = as_clause(_GROUP_CLAIM.sub("", text))
    template = QUALIFY_GROUP[int(rng.integers(len(QUALIFY_GROUP)))]
    return template.format(clause=reported(clause))


def _add_for(
    member: int,
    query: np.ndarray,
    flat: list[tuple[int, int, str]],
    flat_vecs: np.ndarray,
    kept_vecs: np.ndarray,
    missing: bool,
    concern: str,
    rng: np.random.Generator,
) -> dict[str, Any] | None:
    """The sentence that takes up a member's critique, or None when the statement already
    carries what they asked for."""
    own = [f for f, (m, _, _) in enumerate(flat) if m == member]
    already = (
        np.clip(flat_vecs[own] @ kept_vecs.T, 0, 1).max(axis=1)
        if own and len(kept_vecs)
        else np.zeros(len(own))
    )
    scored = [
        (float(np.clip(flat_vecs[f] @ query, 0, 1)) + 0.05 * rng.random(), f)
        for f, done in zip(own, already, strict=True)
        if done < 0.6
    ]
    scored.sort(reverse=True)
    if scored and (scored[0][0] >= 0.2 or not (missing and concern)):
        _, f = scored[0]
        _, j, original = flat[f]
        template = ADD_REASON[int(rng.integers(len(ADD_REASON)))]
        return {
            "text": template.format(clause=as_clause(reported(presentable(original)))),
            "source": "opinion",
            "voice": "reported",
            "member": member,
            "sentence": j,
            "original": original,
            "answers_critique": member,
        }
    if missing and concern:
        template = ADD_CONCERN[int(rng.integers(len(ADD_CONCERN)))]
        clause = reported(concern)
        return {
            "text": template.format(clause=clause[:1].lower() + clause[1:]),
            "source": "critique",
            "template": "concern",
            "member": member,
            "original": concern,
            "answers_critique": member,
        }
    return None


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _is_slice(part: list[str], whole: list[str]) -> bool:
    n = len(part)
    return n > 0 and any(whole[k : k + n] == part for k in range(len(whole) - n + 1))
