"""Which side of a question a text takes: rules over words, no model.

A question of the bank comes with two position statements, the affirming one ("Schools should
move to a four-day week.") and the negating one ("Schools should NOT move to a four-day week.").
`Proposition` holds them and the content words of the claim; `text_stance` reads a text against
it and returns a number in [-1, 1]: +1 clearly for the affirming statement, -1 clearly against,
0 no evidence or both sides equally.

How a sentence counts:

- **About the claim, with its polarity.** A clause that shares enough content words with the
  claim takes its side by polarity: a negation in the clause ("not", "never", "no longer",
  "shouldn't", "can't", "don't think", ...) flips it, counted against the polarity of the affirming
  statement itself (for "Zoos should no longer exist", "zoos should no longer exist" is for it).
  "Keep ... as it is", "stay", "stick with" in such a clause read as against a change.
- **Cue words**, with or without the claim's words: "against", "oppose", "disagree", "bad idea",
  "a mistake" (against); "in favour", "support", "agree", "good idea", "welcome", "yes" (for); a
  negation just before a cue flips it ("not in favour", "don't agree").
- **Who holds it.** A clause attributed to part of the group ("some of us", "one of us",
  "others", "those against") counts about a third as much as the writer's own or the whole
  group's voice;
  a bare "while one of us disagrees" takes the opposite side of the clause before it.
- **Hedges** ("not sure", "it depends", "on the fence", "mixed feelings") halve the result.

Known limits: sarcasm, arguments whose side is only implied ("my kids are exhausted by long
days"), and antonyms beyond the few listed are missed; such texts come out near 0, not on the
wrong side. `opinion_side` adds the member's own position rating before the round (1-7 on the
affirming statement) when there is one, which beats any reading of their words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from inference.generators.sentences import split_sentences, tokens

_NEGATION = re.compile(
    r"\b(?:not|no|never|nor|neither|cannot|no\s+longer|\w+n't|wont|dont|cant|shouldnt|isnt"
    r"|arent|doesnt)\b",
    re.IGNORECASE,
)
_AGAINST = re.compile(
    r"\b(?:against|oppose[sd]?|opposing|disagree[sd]?(?!\s+(?:that|on|about|with\s+\w+\s+that))"
    r"|bad\s+idea|terrible\s+idea|a\s+mistake"
    r"|wrong\s+to|reject(?:s|ed)?|no\s+way|not\s+convinced|unconvinced|too\s+far"
    r"|not\s+the\s+answer|no\s+answer|a\s+disaster|vanity\s+project|wrong\s+goal"
    r"|more\s+harm\s+than\s+good)\b",
    re.IGNORECASE,
)
_FOR = re.compile(
    r"\b(?:in\s+fav(?:ou)?r|support(?:s|ed)?|agree[sd]?(?!\s+(?:that|on|about))|good\s+idea|great\s+idea|welcome[sd]?"
    r"|all\s+for|high\s+time|about\s+time|more\s+good\s+than\s+harm)\b"
    r"|(?:^\W*|,\s*)(?:yes|yeah|definitely|absolutely|of\s+course)\b(?!\s+not)",
    re.IGNORECASE,
)
_KEEP = re.compile(
    r"\b(?:keep|kept|stay|stick\s+with|as\s+it\s+is|as\s+they\s+are|status\s+quo|leave\s+it"
    r"|remain)\b",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"\b(?:not\s+sure|unsure|undecided|it\s+depends|depends\s+on|on\s+the\s+fence"
    r"|mixed\s+feelings|torn|both\s+sides|can\s+see\s+both)\b",
    re.IGNORECASE,
)
# Part of the group, not the writer or the whole group.
_PARTIAL = re.compile(
    r"\b(?:some|one|two|three|four|a\s+few|few|several|many|the\s+rest|a\s+minority)\s+of\s+us\b"
    r"|\bothers\b|\bthose\s+(?:in\s+favou?r|against|who|of\s+us)\b",
    re.IGNORECASE,
)
_CLAUSE = re.compile(
    r"\s*(?:;|:|,?\s+while\s+|,?\s+whereas\s+|,?\s+but\s+|,?\s+although\s+|,?\s+though\s+"
    r"|,?\s+because\s+|,?\s+since\s+|,\s+and\s+(?=(?:some|one|two|three|four|others|many|most"
    r"|a\s+few|several|the\s+rest)\b))\s*",
    re.IGNORECASE,
)
# A bare answer opening a clause: "No.", "Absolutely not", "Of course not".
_ANSWER_NO = re.compile(
    r"^\W*(?:no|nope|absolutely\s+not|definitely\s+not|certainly\s+not|of\s+course\s+not"
    r"|not\s+at\s+all)\s*(?:[.,!;:]|$)",
    re.IGNORECASE,
)
# Verbs that make a clause a claim about what should be, not a mere mention of the topic.
_MODAL = re.compile(
    r"\b(?:should|shouldn't|must|mustn't|ought|need\s+to|needs\s+to|have\s+to|has\s+to"
    r"|shall)\b",
    re.IGNORECASE,
)
_NOT_THINK = re.compile(
    r"\b(?:don't|do\s+not|doesn't|does\s+not|can't|cannot)\s+(?:think|believe|see\s+how|agree)\b",
    re.IGNORECASE,
)
_OBJECTS = frozenset("it them this these that those all the a".split())
_LEADS = frozenset("should is are does do will would can could has have was were must may".split())
_CONTRAST = re.compile(r"\b(?:but|however|although|though|yet)\b", re.IGNORECASE)
_BARE_DISSENT = re.compile(
    r"\b(?:disagrees?|do(?:es)?\s+not|don't|doesn't|(?:is|are)\s+against(?:\s+it)?"
    r"|(?:think|thinks)\s+otherwise|see(?:s)?\s+it\s+differently|not\s+so\s+sure)\W*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Proposition:
    """The claim of a question: its affirming statement, its content words, its polarity.

    Build it with `proposition(...)`.
    """

    question: str
    affirming: str | None
    negating: str | None
    keys: frozenset[str]
    negative: bool  # the affirming statement itself says "no longer", "not", ...
    lead: str = "should"  # the question's opening verb ("should", "is", "does", ...)
    only_affirming: frozenset[str] = frozenset()  # words of one statement and not the other
    only_negating: frozenset[str] = frozenset()  # ("eliminate" / "keep")

    def side_text(self, side: int) -> str | None:
        """The position statement of a side (+1 affirming, -1 negating) as a clause: first
        letter lower-cased unless it is a name, "NOT" as "not", no final full stop."""
        text = self.affirming if side > 0 else self.negating
        if not text:
            return None
        text = " ".join(text.split()).rstrip(" .!")
        text = re.sub(r"\bNOT\b", "not", text)
        first = text.split(" ", 1)[0]
        if first.isalpha() and first[:1].isupper() and first[1:].islower() and first != "I":
            text = text[:1].lower() + text[1:]
        return text


def proposition(
    question: str, affirming: str | None = None, negating: str | None = None
) -> Proposition:
    """The claim a question asks about. Without position statements, the question's own words
    stand for it ("Should schools move to a four-day week?")."""
    affirming = (affirming or "").strip() or None
    negating = (negating or "").strip() or None
    source = affirming or question
    keys = frozenset(tokens(source)) - _GENERIC
    if not keys:
        keys = frozenset(tokens(question))
    negative = bool(affirming) and _negations(affirming) > (_negations(negating) if negating else 0)
    if negating is None and affirming:
        negative = _negations(affirming) > 0
    first = question.strip().split(" ", 1)[0].lower()
    lead = first if first in _LEADS else "should"
    aff_words = frozenset(t for t in tokens(affirming or "") if not _NEGATION.fullmatch(t))
    neg_words = frozenset(t for t in tokens(negating or "") if not _NEGATION.fullmatch(t))
    only_aff = aff_words - neg_words if negating else frozenset()
    only_neg = neg_words - aff_words if affirming else frozenset()
    return Proposition(question, affirming, negating, keys, negative, lead, only_aff, only_neg)


def _negations(text: str) -> int:
    return len(_NEGATION.findall(_plain(text)))


# Words of a question that say nothing about which claim it is.
_GENERIC = frozenset("yes no good bad better worse idea".split())


def _plain(text: str) -> str:
    return text.replace("’", "'")


def _relevance(clause_tokens: set[str], prop: Proposition) -> float:
    """How plainly a clause is about the claim: 1 when it shares half the claim's content words
    (at least two), 0.3 for a single shared word (a reason that mentions the topic), else 0."""
    if not prop.keys:
        return 0.0
    shared = len(clause_tokens & prop.keys)
    if shared == 0:
        return 0.0
    if shared == 1 and len(prop.keys) > 1:
        return 0.3
    return min(1.0, shared / max(2.0, 0.5 * len(prop.keys)))


def clause_stance(clause: str, prop: Proposition) -> tuple[float, float]:
    """`(stance, weight)` of one clause: stance in [-1, 1], weight 0 when it says nothing.

    An explicit cue ("against", "a good idea") decides the clause's side, turned round by a
    negation before it in the clause; otherwise a clause about the claim takes its polarity.
    """
    text = _plain(clause)
    clause_tokens = tokens(text)
    relevance = _relevance(set(clause_tokens), prop)
    short = len(text.split()) <= 12
    if _ANSWER_NO.match(text):
        return -1.0, 2.0
    votes = 0.0
    cues = 0
    for pattern, side in ((_AGAINST, -1.0), (_FOR, 1.0)):
        for match in pattern.finditer(text):
            before = text[: match.start()]
            near = " ".join(before.split()[-5:])
            flipped = (
                _NEGATION.search(near) is not None or _NOT_THINK.search(before) is not None
            ) and "not only" not in before.lower()
            votes += -side if flipped else side
            cues += 1
    if cues:
        # A cue says the writer's side outright; it outweighs a clause's mere polarity.
        strength = 2.0 if (relevance > 0 or short) else 1.0
        return max(-1.0, min(1.0, votes / cues)), strength
    # A clause takes the claim's side by its polarity only when it is a claim of the same
    # kind (it has the question's verb or a "should"), or a bare answer ("We should.") or an
    # order ("Ban it.", "Don't build it").
    words = text.split()
    claim = _MODAL.search(text) is not None or re.search(
        rf"\b{prop.lead}(?:n't)?\b", text, re.IGNORECASE
    )
    bare = len(words) <= 4 and claim
    order = (
        2 <= len(words) <= 6
        and relevance > 0
        and words[0][:1].isupper()
        and words[0].lower().strip(",.!") not in _OBJECTS
        and words[1].lower().strip(",.!") in _OBJECTS
    )
    # Statements that differ by more than "NOT" ("eliminate VAT" / "keep VAT"): a clause
    # using the words of one of them takes its side.
    present = set(clause_tokens)
    aff_hits = len(present & prop.only_affirming)
    neg_hits = len(present & prop.only_negating)
    if (aff_hits or neg_hits) and aff_hits != neg_hits and (claim or short):
        side = 1.0 if aff_hits > neg_hits else -1.0
        statement = prop.affirming if side > 0 else prop.negating
        # "We should NOT do anything": the negation belongs to the statement it echoes.
        expected = _negations(statement or "") > 0
        negated = _NEGATION.search(text) is not None
        return (side if negated == expected else -side), 1.0
    if len(words) <= 5 and relevance > 0 and words[0].lower() == "not":
        return -1.0, 1.0
    if bare or order:
        relevance = max(relevance, 1.0)
    elif not claim and relevance < 1.0:
        relevance = 0.0
    if relevance == 0:
        return 0.0, 0.0
    negated = _NEGATION.search(text) is not None
    if (
        not negated
        and not prop.negative
        and _KEEP.search(text)
        and not _KEEP.search(prop.affirming or prop.question)
    ):
        negated = True
    return (1.0 if negated == prop.negative else -1.0), relevance


def clauses(sentence: str) -> list[str]:
    """A sentence cut where a contrast, a reason or another voice begins."""
    return [c for c in _CLAUSE.split(sentence) if c and c.strip()]


def text_stance(text: str, prop: Proposition) -> float:
    """The side `text` takes on `prop`, in [-1, 1] (see the module docstring)."""
    return stance_parts(text, prop)[0]


def stance_parts(text: str, prop: Proposition) -> tuple[float, float]:
    """`(stance, both)`: the side in [-1, 1], and how far the text gives both sides a voice,
    in [0, 1] (the weaker side's weight over the stronger side's: 0 one-sided, 1 even)."""
    sentences = split_sentences(text)
    if not sentences:
        return 0.0, 0.0
    total = 0.0
    weights = 0.0
    pro = con = 0.0
    hedged = False
    for position, sentence in enumerate(sentences):
        hedged = hedged or _HEDGE.search(sentence) is not None
        place = 1.5 if position in (0, len(sentences) - 1) else 1.0
        previous = 0.0
        parts = clauses(sentence)
        contrast = _CONTRAST.search(sentence)
        for k, clause in enumerate(parts):
            stance, weight = clause_stance(clause, prop)
            # "X sounds nice, but ...": what comes after the "but" is the writer's point.
            if contrast and k == 0 and len(parts) > 1:
                weight *= 0.4
            if weight == 0 and previous and _BARE_DISSENT.search(clause):
                stance, weight = -previous, 1.0
            if weight == 0:
                continue
            voice = 0.35 if (_PARTIAL.search(clause) and not _WHOLE_ONLY(clause)) else 1.0
            w = weight * voice * place
            total += stance * w
            weights += w
            if stance > 0:
                pro += stance * w
            elif stance < 0:
                con -= stance * w
            previous = stance if stance else previous
    if weights == 0:
        return 0.0, 0.0
    stance = total / max(weights, 1.0)
    if hedged:
        stance *= 0.5
    both = min(pro, con) / max(pro, con) if min(pro, con) > 0 else 0.0
    return max(-1.0, min(1.0, stance)), both


def _WHOLE_ONLY(clause: str) -> bool:  # noqa: N802 - reads as a predicate on a clause
    """'Most of us', 'all of us', 'we all' speak for the group even though 'of us' follows."""
    return re.search(r"\b(?:most|all)\s+of\s+us\b|\bwe\s+all\b", clause, re.IGNORECASE) is not None


def opinion_side(opinion: str, prop: Proposition, position_rating: float | None = None) -> float:
    """A member's side in [-1, 1]: their position rating before the round ((r - 4) / 3) when
    given, nudged by their words; otherwise their words alone."""
    words = text_stance(opinion, prop)
    if position_rating is None:
        return words
    rating = (float(position_rating) - 4.0) / 3.0
    return max(-1.0, min(1.0, 0.75 * rating + 0.25 * words))


def sides(
    opinions: Sequence[str],
    prop: Proposition,
    position_ratings: Sequence[float | None] | None = None,
) -> list[float]:
    """`opinion_side` of every member (ratings matched by position; None where unknown)."""
    ratings = list(position_ratings) if position_ratings is not None else [None] * len(opinions)
    if len(ratings) != len(opinions):
        raise ValueError(
            f"there are {len(ratings)} position ratings for {len(opinions)} opinions; "
            "give one per opinion (None where unknown)"
        )
    return [opinion_side(o, prop, r) for o, r in zip(opinions, ratings, strict=True)]


# Words that only say how firmly a side is taken ("I am fairly sure that ...").
_SIDE_WORDS = frozenset(
    "sure fairly quite absolutely definitely honestly strongly totally completely clearly "
    "certainly keep stay against favour favor support oppose agree disagree idea opinion view "
    "personally simply obviously course yes no".split()
)


def restates_side(sentence: str, prop: Proposition) -> bool:
    """Whether a sentence only says which side its writer takes ("I'm against it.", "Schools
    should keep a five-day week."), with at most two content words beyond the claim's."""
    _, weight = clause_stance(sentence, prop)
    extra = set(tokens(sentence)) - prop.keys - _SIDE_WORDS
    return weight > 0 and len(extra) <= 2
