"""The embedded default generator: no language model; the participants' own sentences, put in
the group's voice.

A candidate (opinion iteration) has three parts:

1. **Where the group stands**, one sentence from a template (`OPENINGS`) filled with the
   question's position statements and how many members take each side, as `inference.stance`
   reads their opinions (and their position ratings before the round, when given). Split group:
   "Most of us think that X, while one of us disagrees."; agreeing group: "We all think that X.";
   nobody committed: "We have not settled ... yet." Without position statements the question
   itself stands in ("... think the answer to "Should ...?" is yes").
2. **Every member's main point**: one sentence of theirs that is not a mere restatement of their
   side, *reported* as theirs ("One of us against it points out that they work shifts, ..."):
   first person singular becomes singular "they", so no member's "I" is put in the group's mouth
   and no member's reason is asserted as the group's view (reasons from both sides cannot
   contradict each other in it). Reasons of one side may share a sentence ("..., and another
   that ..."). A member whose opinion is only their side is represented by part 1.
3. **What a split group shares**: a pair of sentences from opposite sides that say much the same
   (TF-IDF cosine >= `SHARED_SIM`) gives "We agree that ..." (that sentence in the group's voice,
   "I" -> "we"); failing that, the content words both sides used ("Both sides speak of cost and
   safety."); failing that, nothing is claimed.

Sample `i` draws from the round's seed: each member's reason (among their best, by a Gumbel
perturbation of a quality score), the opening's wording, the order of members, which shared
sentence and where it goes. A member is always reported with the same verb, and reasons of one
side share a sentence only when `max_sentences` asks for it, so that the candidates of a round
share their sentences (the embedding reward model encodes each distinct sentence once).
The same seed repeats exactly.

In a critique iteration the previous winner is revised (`inference.generators.revision`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inference.base import Candidate, ConfigError, RoundText
from inference.config import BackendConfig
from inference.generators import revision
from inference.generators.llm import COMMON_OPTIONS, Options
from inference.generators.sentences import (
    as_clause,
    capitalise,
    group_voice,
    lower_case_words,
    normalise_rows,
    presentable,
    reported,
    split_sentences,
    tfidf_vectors,
    tokens,
    word_count,
    word_key,
)
from inference.prompts import sample_seed, shuffled_order
from inference.stance import Proposition, proposition, restates_side, sides, text_stance

MODEL = "extractive-voice-v2"
TEMPLATE_VERSION = "extractive-v2"
METHOD = (
    "a template sentence on where the group stands (sides read by word rules), then each "
    "member's own sentence reported as theirs, and what both sides share; no language model"
)
SIDE_THRESHOLD = 0.25  # |side| below this: undecided
SHARED_SIM = 0.3
NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}

OPENINGS = {
    "split_most": (
        "Most of us think that {major}, while {minor_n} of us {minor_verb_think} that {minor}.",
        "Most of us think that {major}, while {minor_n} of us {minor_verb_disagree}.",
    ),
    "split_counts": (
        "We are divided: {major_n} of us think that {major}, and {minor_n} of us "
        "{minor_verb_think} that {minor}.",
    ),
    "split_even": (
        "We are split evenly: some of us think that {affirming}, while others think that "
        "{negating}.",
        "Some of us think that {affirming}, while others think that {negating}.",
    ),
    "agree": ("We all think that {side}.", "All of us think that {side}."),
    "agree_most": ("Most of us think that {side}, and {rest_n} of us {rest_verb} not sure.",),
    "agree_some": (
        "{side_n_cap} of us {side_verb_think} that {side}; the rest of us are not sure.",
    ),
    "open": (
        'We have not settled the question "{question}" yet.',
        'None of us has a firm answer to the question "{question}" yet.',
    ),
    "undecided": ("{n_cap} of us {verb_is} undecided.",),
}
SUBJECTS = {1: "One of us in favour", -1: "One of us against it", 0: "One of us who is undecided"}
AGREEING_SUBJECTS = ("One of us", "One of us", "Another of us")
VERBS = ("points out", "adds", "notes", "says", "stresses")
SHARED = ("We agree that {clause}.", "We all agree that {clause}.")
SHARED_WORDS = ("Both sides speak of {words}.", "Whatever our side, we all bring up {words}.")
SHORT = "{subject} said simply that {clause}."

Embed = Callable[[Sequence[str]], Any]


@dataclass
class _Sentence:
    member: int
    index: int
    original: str
    text: str  # presentable
    stance: float
    position: bool  # only restates a side
    score: float
    also: tuple[int, ...] = ()  # other members who wrote the same sentence


class ExtractiveGenerator:
    """Group statements from the participants' sentences; see the module docstring.

    `embed`, when given, maps a list of texts to an array of vectors (one row each) and replaces
    the built-in TF-IDF. `max_sentences` caps a candidate's length (reasons of one side then
    share a sentence; no member's point is dropped for it).
    """

    def __init__(self, *, embed: Embed | None = None, max_sentences: int = 7):
        if max_sentences < 3:
            raise ConfigError("max_sentences must be at least 3")
        self.embed = embed
        self.max_sentences = max_sentences

    def describe(self) -> dict[str, Any]:
        return {
            "role": "generator",
            "backend": "extractive",
            "model": MODEL,
            "revision": TEMPLATE_VERSION,
            "method": METHOD,
            "description": (
                "Not a language model. Each candidate says where the group stands (from a "
                "template), reports each member's own main point as theirs, and names what the "
                "sides share; a revision keeps what nobody objected to and takes up each "
                "critique."
            ),
            "embedding": "injected" if self.embed else "tf-idf",
        }

    def generate(self, round_text: RoundText, *, n: int, seed: int) -> list[Candidate]:
        """`Generator.generate`; reads the round's position statements and ratings too."""
        opinions = round_text.opinions
        prop = proposition(
            round_text.question, round_text.affirming_statement, round_text.negating_statement
        )
        member_sides = [_side(s) for s in sides(opinions, prop, round_text.position_ratings)]
        if round_text.is_critique:
            return [
                revision.revise(
                    round_text,
                    vectors=self._vectors,
                    prop=prop,
                    provenance=self._provenance(seed, i, len(opinions), "critique"),
                )
                for i in range(n)
            ]
        group = _Group(opinions, prop, member_sides, self._vectors)
        return [self._compose(group, seed=seed, sample_index=i) for i in range(n)]

    def _vectors(self, texts: Sequence[str], reference: Sequence[str]) -> np.ndarray:
        if self.embed is not None:
            return normalise_rows(np.asarray(self.embed(list(texts)), dtype=float))
        return tfidf_vectors(texts, reference=reference)

    def _provenance(self, seed: int, sample_index: int, members: int, kind: str) -> dict:
        return {
            "backend": "extractive",
            "model": MODEL,
            "template_version": TEMPLATE_VERSION,
            "method": METHOD,
            "seed": sample_seed(seed, sample_index),
            "round_seed": seed,
            "sample_index": sample_index,
            "opinion_order": shuffled_order(members, seed, sample_index),
            "iteration": kind,
        }

    def _compose(self, group: _Group, *, seed: int, sample_index: int) -> Candidate:
        provenance = self._provenance(seed, sample_index, group.n, "opinion")
        order = provenance["opinion_order"]
        rng = np.random.default_rng(provenance["seed"])
        parts: list[dict[str, Any]] = [group.opening(rng)]
        shared = group.shared(rng) if group.split else None
        # A sentence said as the group's shared ground is not reported again as a reason.
        used = shared.pop("_used", ()) if shared else ()
        reasons = group.reasons(rng, order, skip=used)
        room = self.max_sentences - len(parts) - (shared is not None)
        parts.extend(_attributed(reasons, group, rng, room))
        if shared is not None:
            parts.insert(1 if rng.random() < 0.3 else len(parts), shared)
        provenance["sentences"] = parts
        provenance["sides"] = group.sides
        provenance["members_represented"] = sorted({m for p in parts for m in p.get("members", [])})
        return Candidate(text=" ".join(p["text"] for p in parts), provenance=provenance)


def _side(value: float) -> int:
    return 1 if value >= SIDE_THRESHOLD else -1 if value <= -SIDE_THRESHOLD else 0


def _count(n: int) -> str:
    return NUMBERS.get(n, str(n))


class _Group:
    """A round's opinions read once: sides, candidate reasons, similarities."""

    def __init__(
        self,
        opinions: Sequence[str],
        prop: Proposition,
        member_sides: list[int],
        vectors: Callable[[Sequence[str], Sequence[str]], np.ndarray],
    ):
        self.opinions = list(opinions)
        self.n = len(opinions)
        self.prop = prop
        self.sides = member_sides
        self.pro = [i for i, s in enumerate(member_sides) if s > 0]
        self.con = [i for i, s in enumerate(member_sides) if s < 0]
        self.undecided = [i for i, s in enumerate(member_sides) if s == 0]
        self.split = bool(self.pro) and bool(self.con)
        self.lower_words = lower_case_words([*opinions, prop.question, prop.affirming or ""])
        self.sentences = [s for i, o in enumerate(opinions) for s in _sentences(i, o, prop)]
        texts = [s.original for s in self.sentences]
        if texts:
            v = vectors([*texts, *opinions], [*texts, *opinions])
            sv, ov = v[: len(texts)], v[len(texts) :]
            self.similarity = np.clip(sv @ sv.T, 0.0, 1.0)
            to_opinions = np.clip(sv @ ov.T, 0.0, 1.0)
            for k, s in enumerate(self.sentences):
                others = [to_opinions[k, j] for j in range(self.n) if j != s.member]
                s.score += 0.3 * (float(np.mean(others)) if others else 0.0)
        else:
            self.similarity = np.zeros((0, 0))

    # -- part 1 ---------------------------------------------------------------------------

    def opening(self, rng: np.random.Generator) -> dict[str, Any]:
        prop = self.prop
        aff = prop.side_text(1) or f'the answer to "{_question(prop)}" is yes'
        neg = prop.side_text(-1) or f'the answer to "{_question(prop)}" is no'
        statement = {1: aff, -1: neg}
        pro, con, und = len(self.pro), len(self.con), len(self.undecided)
        extra: str | None = None
        if self.split:
            if pro == con:
                key, values = "split_even", {"affirming": aff, "negating": neg}
            else:
                major, minor = (1, -1) if pro > con else (-1, 1)
                major_n, minor_n = max(pro, con), min(pro, con)
                key = "split_most" if major_n > self.n / 2 else "split_counts"
                values = {
                    "major": statement[major],
                    "minor": statement[minor],
                    "major_n": _count(major_n),
                    "minor_n": _count(minor_n),
                    "minor_verb_think": "thinks" if minor_n == 1 else "think",
                    "minor_verb_disagree": "disagrees" if minor_n == 1 else "disagree",
                }
            if und:
                extra = OPENINGS["undecided"][0].format(
                    n_cap=capitalise(_count(und)), verb_is="is" if und == 1 else "are"
                )
        elif pro or con:
            side, count = (1, pro) if pro else (-1, con)
            values = {"side": statement[side]}
            if not und:
                key = "agree"
            elif count > self.n / 2:
                key = "agree_most"
                values |= {"rest_n": _count(und), "rest_verb": "is" if und == 1 else "are"}
            else:
                key = "agree_some"
                values |= {
                    "side_n_cap": capitalise(_count(count)),
                    "side_verb_think": "thinks" if count == 1 else "think",
                }
        else:
            key, values = "open", {"question": _question(prop)}
        choices = OPENINGS[key]
        template = choices[int(rng.integers(len(choices)))]
        text = template.format(**values)
        if extra:
            text = f"{text} {extra}"
        members = list(range(self.n))
        return {"text": text, "source": "template", "template": key, "members": members}

    # -- part 2 ---------------------------------------------------------------------------

    def reasons(
        self, rng: np.random.Generator, order: list[int], skip: Sequence[int] = ()
    ) -> list[tuple[int, _Sentence]]:
        """One reason per member who gave one, `(side, sentence)`, majority side first; the
        sentences in `skip` (said as shared ground) are not used again, and a member who has no
        other is represented there already."""
        chosen = []
        said = [self.sentences[k] for k in skip]
        for member in order:
            own = [
                s
                for s in self.sentences
                if s.member == member and not s.position and all(s is not t for t in said)
            ]
            if not own and any(t.member == member for t in said):
                continue
            if not own:
                if not self.sentences_of(member) and self.sides[member] == 0:
                    chosen.append((0, _short(member, self.opinions[member])))
                continue
            scores = np.array([s.score for s in own]) + 0.15 * rng.gumbel(size=len(own))
            pick = own[int(np.argmax(scores))]
            twin = next(
                (
                    k
                    for k, (side, s) in enumerate(chosen)
                    if side == self.sides[member] and word_key(s.text) == word_key(pick.text)
                ),
                None,
            )
            if twin is None:
                chosen.append((self.sides[member], pick))
            else:  # the same reason from two members is reported once, as theirs both
                side, first = chosen[twin]
                chosen[twin] = (side, dataclasses.replace(first, also=(*first.also, member)))
        weight = {1: len(self.pro), -1: len(self.con), 0: -1}
        return sorted(chosen, key=lambda pair: -weight[pair[0]])

    def sentences_of(self, member: int) -> list[_Sentence]:
        return [s for s in self.sentences if s.member == member]

    # -- part 3 ---------------------------------------------------------------------------

    @functools.cached_property
    def shared_pairs(self) -> list[tuple[float, int, int]]:
        """Sentences of opposite sides that say much the same and take no side, closest first."""
        side_of = self.sides
        pairs = []
        for a, sa in enumerate(self.sentences):
            for b, sb in enumerate(self.sentences):
                if side_of[sa.member] > 0 and side_of[sb.member] < 0:
                    sim = float(self.similarity[a, b])
                    if sim >= SHARED_SIM and abs(sa.stance) < 0.5 and abs(sb.stance) < 0.5:
                        pairs.append((sim, a, b))
        return sorted(pairs, reverse=True)

    def shared(self, rng: np.random.Generator) -> dict[str, Any] | None:
        pairs = self.shared_pairs
        if pairs:
            sim, a, b = pairs[int(rng.integers(min(2, len(pairs))))]
            shorter, longer = sorted((a, b), key=lambda k: word_count(self.sentences[k].original))
            pick = self.sentences[shorter if rng.random() < 0.75 else longer]
            template = SHARED[int(rng.integers(len(SHARED)))]
            clause = as_clause(group_voice(pick.text), self.lower_words)
            return {
                "text": template.format(clause=clause),
                "source": "opinion",
                "voice": "group",
                "member": pick.member,
                "also_said_by": [self.sentences[b if pick is self.sentences[a] else a].member],
                "original": pick.original,
                "members": sorted({self.sentences[a].member, self.sentences[b].member}),
                "_used": (a, b),
            }
        words = _shared_words(
            [self.opinions[i] for i in self.pro], [self.opinions[i] for i in self.con], self.prop
        )
        if not words:
            return None
        picked = words[: 2 if len(words) > 1 else 1]
        if len(words) > 2 and rng.random() < 0.5:
            picked = [words[0], words[2]]
        template = SHARED_WORDS[int(rng.integers(len(SHARED_WORDS)))]
        return {
            "text": template.format(words=" and ".join(picked)),
            "source": "template",
            "template": "shared_words",
            "members": [],
        }


def _question(prop: Proposition) -> str:
    return " ".join(prop.question.split())


def _sentences(member: int, opinion: str, prop: Proposition) -> list[_Sentence]:
    out = []
    for j, original in enumerate(split_sentences(opinion)):
        text = presentable(original)
        words = word_count(original)
        position = restates_side(original, prop)
        usable = words >= 4 and not text.endswith("?")
        if not usable:
            continue
        score = 0.2 * (j == 0 or j == 1) - 0.2 * (words > 40) - 0.1 * (words < 6)
        out.append(
            _Sentence(member, j, original, text, text_stance(original, prop), position, score)
        )
    return out


def _short(member: int, opinion: str) -> _Sentence:
    text = presentable(" ".join(opinion.split()))
    return _Sentence(member, 0, opinion.strip(), text, 0.0, False, 0.0)


def _attributed(
    reasons: list[tuple[int, _Sentence]], group: _Group, rng: np.random.Generator, room: int
) -> list[dict[str, Any]]:
    """Reasons as reported sentences, those of one side sharing sentences when room is short
    (and sometimes by choice), so that every member keeps their point."""
    by_side: dict[int, list[_Sentence]] = {}
    for side, sentence in reasons:
        by_side.setdefault(side, []).append(sentence)
    groups: list[tuple[int, list[_Sentence]]] = []
    for side, items in by_side.items():
        # Merging only when the length asks for it keeps the number of distinct sentences
        # across a round's candidates small (the reward model encodes each once).
        merge = False
        if merge:
            groups.append((side, items[:3]))
            groups.extend((side, [s]) for s in items[3:])
        else:
            groups.extend((side, [s]) for s in items)
    while len(groups) > max(room, 1):
        # Merge the two smallest same-side groups; failing that, any two neighbours.
        merged = False
        for k in range(len(groups) - 1):
            if groups[k][0] == groups[k + 1][0] and len(groups[k][1]) + len(groups[k + 1][1]) <= 3:
                groups[k : k + 2] = [(groups[k][0], groups[k][1] + groups[k + 1][1])]
                merged = True
                break
        if not merged:
            break
    out = []
    seen: set[int] = set()
    for side, items in groups:
        out.append(_report(side, items, group, rng, again=side in seen))
        seen.add(side)
    return out


def _report(
    side: int, items: list[_Sentence], group: _Group, rng: np.random.Generator, again: bool
) -> dict[str, Any]:
    if group.n == 1:
        subject = "We"
        clauses = [as_clause(group_voice(s.text), group.lower_words) for s in items]
    else:
        subject = (
            SUBJECTS[side]
            if group.split or side == 0
            else AGREEING_SUBJECTS[int(rng.integers(len(AGREEING_SUBJECTS)))]
        )
        if again and subject.startswith("One of us"):
            subject = "Another" + subject[3:]
        if len(items) == 1 and items[0].also:
            subject = (
                capitalise(_count(1 + len(items[0].also))) + subject[subject.index(" of us") :]
            )
        clauses = [as_clause(reported(s.text), group.lower_words) for s in items]
    # One verb per member, not per sample: candidates differ in what they report, not in
    # synonyms.
    verb = VERBS[items[0].member % len(VERBS)]
    if subject == "We" or (len(items) == 1 and items[0].also):
        verb = {"points out": "point out", "adds": "add", "notes": "note", "says": "say"}.get(
            verb, "stress"
        )
    if (
        len(items) == 1
        and items[0].original == group.opinions[items[0].member].strip()
        and (word_count(items[0].original) < 4)
    ):
        text = SHORT.format(subject=subject, clause=clauses[0])
    elif len(clauses) == 1:
        text = f"{subject} {verb} that {clauses[0]}."
    elif len(clauses) == 2:
        text = f"{subject} {verb} that {clauses[0]}, and another that {clauses[1]}."
    else:
        text = f"{subject} {verb} that {clauses[0]}, another that {clauses[1]}, and a third that {clauses[2]}."
    return {
        "text": text,
        "source": "opinion",
        "voice": "group" if subject == "We" else "reported",
        "members": [m for s in items for m in (s.member, *s.also)],
        "original": [s.original for s in items],
    }


def _shared_words(pro: list[str], con: list[str], prop: Proposition) -> list[str]:
    """Content words (as written) that members on both sides used, most used first."""
    seen_pro = {t for o in pro for t in tokens(o)}
    seen_con = {t for o in con for t in tokens(o)}
    common = (seen_pro & seen_con) - prop.keys - _VAGUE
    surface: dict[str, str] = {}
    counts: dict[str, int] = {}
    for text in [*pro, *con]:
        for word in text.split():
            clean = word.strip(".,;:!?\"'()").lower()
            key = tokens(clean)
            if len(key) == 1 and key[0] in common and len(clean) > 4 and clean.isalpha():
                surface.setdefault(key[0], clean)
                counts[key[0]] = counts.get(key[0], 0) + 1
    return [surface[k] for k in sorted(surface, key=lambda k: (-counts[k], k))][:4]


_VAGUE = frozenset(
    "good bad better worse idea sure really something everyone anyone nothing think thing "
    "way lot even still just know want need say see go going time years year keep make give "
    "take help lose find work pay mean feel come look seem first second third fifth fourth "
    "point matter right wrong other another every where there their about would could should "
    "might never always often already today".split()
)


def from_config(config: BackendConfig) -> ExtractiveGenerator:
    options = Options(config.options, "extractive generator")
    kwargs = {"max_sentences": options.whole("max_sentences", 7, low=3)}
    options.finish(ignored=COMMON_OPTIONS | {"framing", "min_sentences"})
    return ExtractiveGenerator(**kwargs)
