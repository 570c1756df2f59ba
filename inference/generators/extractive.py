"""The embedded default generator: no language model, only the participants' own sentences.

Each candidate is 2 to 6 sentences. Every sentence is one a participant wrote (made presentable:
capital letter, full stop, an opening "I think that" dropped), except two documented additions:

- an optional framing sentence built from the question (`FRAMING`), and
- an optional connective ("At the same time, ") in front of one sentence (`CONNECTIVES`);
  an opinion of one or two words is quoted inside `SHORT_OPINION`.

Sentences are chosen greedily to cover the group: member `i` counts as covered by a sentence
they wrote, and partly by a sentence close to their opinion (cosine of TF-IDF vectors, or of an
injected embedding); sentences that many members' opinions resemble score higher, sentences close
to one already chosen lower. Each sample draws its own opinion order (tie-breaks), noise scale and
sentence count from the round's seed, so candidates differ and the same seed repeats exactly.

In a critique iteration the pool is the previous winner's sentences plus the opinions'
sentences; each member's target becomes their opinion together with their critique, and sentences
close to a critique score higher, so a revision takes up what the critiques asked for. Critiques
themselves are not copied into the statement: they talk about the draft, not the question.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inference.base import Candidate, ConfigError, check_generate_inputs
from inference.config import BackendConfig
from inference.generators.llm import COMMON_OPTIONS, Options
from inference.generators.sentences import (
    capitalise,
    decapitalise,
    is_negated,
    normalise_rows,
    presentable,
    split_sentences,
    tfidf_vectors,
    word_count,
    word_key,
)
from inference.prompts import sample_seed, shuffled_order

MODEL = "extractive-coverage-v1"
TEMPLATE_VERSION = "extractive-v1"
METHOD = (
    "sentences selected from participants' opinions (greedy coverage of every member, "
    "redundancy penalised); no language model"
)
FRAMING = 'On the question "{question}", this is where we stand.'
SHORT_OPINION = 'One of us answered simply: "{text}"'
CONNECTIVES = ("At the same time, ", "Also, ", "In addition, ")
_FRAMING_PATTERN = re.compile(r'^On the question ".*", this is where we stand\.$')
_SHORT_PATTERN = re.compile(r'^One of us answered simply: ".*"$')
_ANAPHORA = re.compile(r"^(?:it|they|them|this|that|these|those|he|she|such|there)\b", re.I)
_ANAPHORA_END = re.compile(r"\b(?:it|them|this|that|these|those)\W*$", re.I)
_OPENERS = frozenset("also and but however still yet so in at moreover furthermore".split())

# Weights of the greedy objective (see the module docstring).
_OWN = 1.0  # a member's own sentence covers them fully
_NEAR = 0.8  # scale of the cover a similar sentence gives
_CENTRAL = 0.3  # bonus for sentences that many opinions resemble
_REDUNDANT = 0.5  # penalty per unit of similarity to a chosen sentence
_CRITIQUE = 0.5  # bonus for sentences close to a critique (critique iteration)
_KEEP = 0.15  # bonus for keeping the previous winner's sentences (critique iteration)
_OPPOSITE = 0.35  # similarity scale between a negated and a plain sentence
_STOP_BELOW = -0.25  # stop adding sentences once the best gain falls below this


Embed = Callable[[Sequence[str]], Any]


@dataclass
class _Unit:
    text: str  # as shown in a statement
    original: str  # as written
    source: str  # "opinion" or "previous_winner"
    index: int  # member index (opinions) or 0 (previous winner)
    sentence: int  # position within its text
    authors: set[int] = field(default_factory=set)
    quoted: bool = False
    anaphoric: bool = False  # opens with "It", "They", ... pointing at a sentence left out

    def reference(self) -> dict[str, Any]:
        ref: dict[str, Any] = {"source": self.source, "sentence": self.sentence}
        if self.source == "opinion":
            ref["member"] = self.index
            if len(self.authors) > 1:
                ref["also_written_by"] = sorted(self.authors - {self.index})
        elif self.authors:
            ref["written_by"] = sorted(self.authors)
        ref["original"] = self.original
        if self.quoted:
            ref["wrapper"] = "short_opinion"
        return ref


class ExtractiveGenerator:
    """Candidates made of participants' sentences; see the module docstring.

    `embed`, when given, maps a list of texts to an array of vectors (one row each) and replaces
    the built-in TF-IDF. `framing`: "sometimes" (a seeded half of the samples), "always", "never";
    a candidate that would otherwise use every sentence of every opinion always gets it.
    """

    def __init__(
        self,
        *,
        embed: Embed | None = None,
        framing: str = "sometimes",
        min_sentences: int = 2,
        max_sentences: int = 6,
    ):
        if framing not in ("sometimes", "always", "never"):
            raise ConfigError("framing must be 'sometimes', 'always' or 'never'")
        if not 2 <= min_sentences <= max_sentences:
            raise ConfigError("need 2 <= min_sentences <= max_sentences")
        self.embed = embed
        self.framing = framing
        self.min_sentences = min_sentences
        self.max_sentences = max_sentences

    def describe(self) -> dict[str, Any]:
        return {
            "role": "generator",
            "backend": "extractive",
            "model": MODEL,
            "revision": TEMPLATE_VERSION,
            "method": METHOD,
            "description": (
                "Not a language model. Each candidate is two to six of the participants' own "
                "sentences, chosen so that every member's view is represented, with at most a "
                "framing sentence from the question and a connective added."
            ),
            "embedding": "injected" if self.embed else "tf-idf",
        }

    def generate(
        self,
        *,
        question: str,
        opinions: Sequence[str],
        n: int,
        seed: int,
        previous_winner: str | None = None,
        critiques: Sequence[str] | None = None,
    ) -> list[Candidate]:
        check_generate_inputs(
            question=question,
            opinions=opinions,
            n=n,
            previous_winner=previous_winner,
            critiques=critiques,
        )
        revising = critiques is not None
        pool = _Pool(
            units=_units(opinions, previous_winner if revising else None),
            opinions=opinions,
            critiques=critiques,
            embed=self.embed,
        )
        return [
            self._compose(pool, question=question, seed=seed, sample_index=i, revising=revising)
            for i in range(n)
        ]

    def _compose(
        self, pool: _Pool, *, question: str, seed: int, sample_index: int, revising: bool
    ) -> Candidate:
        members = pool.members
        order = shuffled_order(members, seed, sample_index)
        this_seed = sample_seed(seed, sample_index)
        rng = np.random.default_rng(this_seed)
        noise = 0.01 if sample_index == 0 else float(rng.uniform(0.03, 0.12))
        framed = self.framing == "always" or (self.framing == "sometimes" and rng.random() < 0.5)
        if len(pool.units) < 2:
            framed = True

        chosen = self._select(pool, order=order, rng=rng, noise=noise, framed=framed)
        whole_opinions = not revising and len(chosen) == len(pool.units)
        if whole_opinions and not framed and self.framing != "never":
            framed = True  # never hand back the opinions merely stitched together
        if framed and len(chosen) + 1 > self.max_sentences:
            chosen = chosen[: self.max_sentences - 1]

        ordered = _reading_order(pool, chosen, order)
        sentences = [pool.units[u].text for u in ordered]
        references = [pool.units[u].reference() for u in ordered]
        connective = None
        if len(sentences) >= 3 and (rng.random() < 0.6 or whole_opinions):
            position = int(rng.integers(2, len(sentences)))
            unit = pool.units[ordered[position]]
            first = unit.text.split(" ", 1)[0].strip(",").lower()
            if not unit.quoted and first not in _OPENERS:
                connective = CONNECTIVES[int(rng.integers(len(CONNECTIVES)))]
                sentences[position] = connective + decapitalise(unit.text)
                references[position]["connective"] = connective.strip()
        if framed:
            sentences.insert(0, FRAMING.format(question=" ".join(question.split())))
            references.insert(0, {"source": "framing", "template": FRAMING})
        for reference, shown in zip(references, sentences, strict=True):
            reference["text"] = shown

        coverage = pool.coverage[:, chosen].max(axis=1) if chosen else np.zeros(members)
        return Candidate(
            text=" ".join(sentences),
            provenance={
                "backend": "extractive",
                "model": MODEL,
                "template_version": TEMPLATE_VERSION,
                "method": METHOD,
                "seed": this_seed,
                "round_seed": seed,
                "sample_index": sample_index,
                "opinion_order": order,
                "iteration": "critique" if revising else "opinion",
                "noise": round(noise, 4),
                "sentences": references,
                "members_quoted": sorted(
                    {a for u in chosen for a in pool.units[u].authors if a is not None}
                ),
                "coverage": [round(float(c), 3) for c in coverage],
            },
        )

    def _select(
        self,
        pool: _Pool,
        *,
        order: list[int],
        rng: np.random.Generator,
        noise: float,
        framed: bool,
    ) -> list[int]:
        count = len(pool.units)
        room = self.max_sentences - int(framed)
        low = min(count, max(1, self.min_sentences - int(framed)))
        high = min(count, room)
        wanted = max(low, min(pool.members, high))
        if noise > 0.01:  # every sample but the first varies its length
            wanted = int(rng.integers(max(low, wanted - 1), high + 1))
        # Tiny tie-break by the sample's opinion order, so equal scores do not always favour
        # the first member.
        rank = {member: position for position, member in enumerate(order)}
        tie = np.array([-1e-6 * rank.get(unit.index, 0) for unit in pool.units])
        covered = np.zeros(pool.members)
        redundancy = np.zeros(count)
        chosen: list[int] = []
        for step in range(wanted):
            gain = (
                np.clip(pool.coverage - covered[:, None], 0.0, None).sum(axis=0) / pool.members
                + pool.static
                - _REDUNDANT * redundancy
            )
            gain[chosen] = -np.inf
            pick = int(np.argmax(gain + noise * rng.gumbel(size=count) + tie))
            if step >= low and gain[pick] < _STOP_BELOW:
                break
            chosen.append(pick)
            covered = np.maximum(covered, pool.coverage[:, pick])
            redundancy = np.maximum(redundancy, pool.similarity[pick])
        return chosen


class _Pool:
    """The sentences a round can use, with everything the greedy choice needs precomputed."""

    def __init__(
        self,
        *,
        units: list[_Unit],
        opinions: Sequence[str],
        critiques: Sequence[str] | None,
        embed: Embed | None,
    ):
        self.units = units
        self.members = len(opinions)
        texts = [u.original for u in units]
        extra = list(critiques) if critiques is not None else []
        if embed is not None:
            vectors = normalise_rows(np.asarray(embed([*texts, *extra]), dtype=float))
        else:
            vectors = tfidf_vectors([*texts, *extra], reference=[*texts, *opinions])
        unit_vecs, critique_vecs = vectors[: len(texts)], vectors[len(texts) :]

        # Bags of words cannot tell "X" from "NOT X"; a sentence and its negation are counted
        # as far apart rather than as near duplicates.
        negated = np.array([is_negated(t) for t in texts])
        polarity = np.where(negated[:, None] == negated[None, :], 1.0, _OPPOSITE)
        self.similarity = np.clip(unit_vecs @ unit_vecs.T, 0.0, 1.0) * polarity

        authored = np.zeros((self.members, len(units)), dtype=bool)
        for u, unit in enumerate(units):
            for member in unit.authors:
                authored[member, u] = True
        # How close each unit is to the nearest sentence member i wrote.
        near = np.stack([self.similarity[authored[i]].max(axis=0) for i in range(self.members)])
        if critiques is None:
            own = np.full_like(near, _OWN)
        else:
            asked = np.clip(critique_vecs @ unit_vecs.T, 0.0, 1.0)  # members x units
            near = np.maximum(near, asked)
            # Revising, a member's own words cover them in proportion to how close they are to
            # what the member then asked for, not merely because they are theirs.
            own = _OWN * (0.5 + 0.5 * asked)
        self.coverage = np.where(authored, own, _NEAR * near)

        others = np.where(authored, 0.0, near)
        n_others = np.maximum((~authored).sum(axis=0), 1)
        self.central = others.sum(axis=0) / n_others
        static = _CENTRAL * self.central + np.array([_quality(u) for u in units])
        if critiques is not None:
            static += _CRITIQUE * asked.max(axis=0)
            static += np.array([_KEEP if u.source == "previous_winner" else 0.0 for u in units])
        self.static = static


def _units(opinions: Sequence[str], previous_winner: str | None) -> list[_Unit]:
    """The pool: the previous winner's sentences (our framing and connectives taken off), then
    each opinion's sentences; a sentence several members wrote is one unit with several authors.
    """
    units: list[_Unit] = []
    seen: dict[tuple[str, ...], _Unit] = {}

    def key(text: str) -> tuple[str, ...]:
        return word_key(presentable(text)) or (" ".join(text.lower().split()),)

    if previous_winner:
        for j, sentence in enumerate(split_sentences(previous_winner)):
            if _FRAMING_PATTERN.match(sentence):
                continue
            sentence = _strip_connective(sentence)
            quoted = bool(_SHORT_PATTERN.match(sentence))
            text = sentence if quoted else presentable(sentence)
            unit = _Unit(text, sentence, "previous_winner", 0, j, quoted=quoted)
            units.append(unit)
            seen.setdefault(key(sentence), unit)
    for i, opinion in enumerate(opinions):
        sentences = split_sentences(opinion)
        if word_count(opinion) < 3:
            original = " ".join(" ".join(sentences).split()) or opinion.strip()
            text = SHORT_OPINION.format(text=presentable(original))
            if key(text) in seen:
                seen[key(text)].authors.add(i)
                continue
            unit = _Unit(text, original, "opinion", i, 0, {i}, quoted=True)
            seen[key(text)] = unit
            units.append(unit)
            continue
        for j, sentence in enumerate(sentences):
            if key(sentence) in seen:
                seen[key(sentence)].authors.add(i)
                continue
            unit = _Unit(presentable(sentence), sentence, "opinion", i, j, {i})
            unit.anaphoric = j > 0 and (
                _ANAPHORA.match(unit.text) is not None
                or (word_count(sentence) < 6 and _ANAPHORA_END.search(sentence) is not None)
            )
            seen[key(sentence)] = unit
            units.append(unit)
    return units


def _strip_connective(sentence: str) -> str:
    for connective in CONNECTIVES:
        if sentence.startswith(connective):
            return capitalise(sentence[len(connective) :])
    return sentence


def _quality(unit: _Unit) -> float:
    """Small preferences for sentences that read well inside a group statement."""
    words = word_count(unit.original)
    score = 0.0
    if words < 4 and not unit.quoted:
        score -= 0.3
    if words > 40:
        score -= 0.2
    if unit.text.endswith("?"):
        score -= 0.3
    if unit.text.startswith(("I ", "My ", "I'm ", "I've ")):
        score -= 0.05
    if unit.anaphoric:
        score -= 0.3
    return score


def _reading_order(pool: _Pool, chosen: list[int], order: list[int]) -> list[int]:
    """The previous winner's sentences first, in their order; then the sentences most members
    share (agreement) before the particular ones, equal ones by the sample's opinion order; quoted
    one-word answers last."""
    rank = {member: position for position, member in enumerate(order)}

    def key(u: int) -> tuple[int, float, int, int]:
        unit = pool.units[u]
        if unit.source == "previous_winner":
            return (0, 0.0, unit.sentence, 0)
        if unit.quoted:  # a one-word answer reads best after the reasons
            return (2, 0.0, rank.get(unit.index, 0), 0)
        share = float(pool.central[u]) + _quality(unit) - 0.2 * (word_count(unit.original) < 6)
        return (1, -round(share, 6), rank.get(unit.index, 0), unit.sentence)

    return sorted(chosen, key=key)


def from_config(config: BackendConfig) -> ExtractiveGenerator:
    options = Options(config.options, "extractive generator")
    kwargs = {
        "framing": options.text("framing", "sometimes", choices=("sometimes", "always", "never")),
        "min_sentences": options.whole("min_sentences", 2, low=2),
        "max_sentences": options.whole("max_sentences", 6, low=2),
    }
    options.finish(ignored=COMMON_OPTIONS)
    return ExtractiveGenerator(**kwargs)
