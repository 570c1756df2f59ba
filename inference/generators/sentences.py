"""Sentences of participants' text, made presentable, and cheap vectors to compare them.

Used by the extractive generator. Pure functions, numpy only. Participants write as they write:
double spaces, missing full stops, one-word answers, bullet lists, hard line breaks; the splitter
takes all of it without failing.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

_ABBREVIATIONS = frozenset(
    "e.g i.e etc vs mr mrs ms dr prof st no approx cf u.s u.k e.u a.m p.m jr sr".split()
)
_BOUNDARY = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"”’')\]]))\s+")
_BULLET = re.compile(r"^\s*(?:[-*•·–—]+|\d+[.)])\s+")
_HEDGE = re.compile(
    r"^(?:(?:and|so|well|honestly|basically),?\s+)?"
    r"(?:i\s+(?:really\s+|strongly\s+|personally\s+|do\s+|also\s+)?"
    r"(?:think|believe|feel|reckon|guess|would\s+say)(?:\s+that)?"
    r"|in\s+my\s+(?:opinion|view)|personally|to\s+me|for\s+me|imo)[,:]?\s+",
    re.IGNORECASE,
)
# Words that tie a sentence to the one before it in its opinion; lifted out of that context they
# dangle ("Otherwise I support ...", "But a full ban is too much").
_DISCOURSE = re.compile(
    r"^(?:(?:but|and|so|also|however|otherwise|still|yet|besides|moreover|furthermore|plus|then"
    r"|anyway|though)\b,?|(?:no|yes|yeah|nope|absolutely\s+not|of\s+course)[.,!])\s+",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# Negations ("no", "not", "never", "nor") are content here: "should NOT" must not match "should".
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    think believe feel also really much many lot get got make made way thing things people one
    would could should might must shall may""".split()
)


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, whitespace collapsed, in order; `[]` for blank text.

    Splits after `.`, `!`, `?` or `…` (optionally followed by a closing quote or bracket) and at
    line breaks, but not after common abbreviations ("e.g.", "Dr.") or when the next piece starts
    in lower case (a hard-wrapped line, "3.5 km"). Text without a final full stop is still a
    sentence.
    """
    sentences: list[str] = []
    for line in _lines(text):
        pieces = [p for p in _BOUNDARY.split(line) if p.strip()]
        merged: list[str] = []
        for piece in pieces:
            if merged and (_ends_with_abbreviation(merged[-1]) or not _starts_sentence(piece)):
                merged[-1] = f"{merged[-1]} {piece}"
            else:
                merged.append(piece)
        sentences.extend(merged)
    return [part for sentence in sentences for part in _split_run_on(sentence)]


def _lines(text: str) -> list[str]:
    lines: list[str] = []
    for raw in str(text).replace("\u00a0", " ").splitlines():
        line = " ".join(_BULLET.sub("", raw).split())
        if not line:
            continue
        bulleted = bool(_BULLET.match(raw))
        # A hard-wrapped line continues the sentence before it.
        if lines and not bulleted and line[0].islower() and not lines[-1].endswith((".", "!", "?")):
            lines[-1] = f"{lines[-1]} {line}"
        else:
            lines.append(line)
    return lines


def _ends_with_abbreviation(piece: str) -> bool:
    last = piece.rsplit(" ", 1)[-1].lower().rstrip(".")
    return last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())


def _starts_sentence(piece: str) -> bool:
    first = piece.lstrip("\"“‘'([")[:1]
    return bool(first) and not first.islower()


def _split_run_on(sentence: str, limit: int = 45) -> list[str]:
    """A very long sentence split at semicolons, so that no unit swamps a statement."""
    if len(sentence.split()) <= limit or ";" not in sentence:
        return [sentence]
    parts = [p.strip() for p in sentence.split(";") if p.strip()]
    return [p if p.endswith((".", "!", "?")) else p + "." for p in parts[:-1]] + parts[-1:]


def word_count(text: str) -> int:
    return len(_TOKEN.findall(text.lower()))


_NEGATION = re.compile(r"\b(?:not|no|never|nor|cannot|\w+n't)\b", re.IGNORECASE)


def is_negated(text: str) -> bool:
    """Whether a sentence says no: "not", "never", "cannot", "shouldn't", ..."""
    return _NEGATION.search(text.replace("’", "'")) is not None


def word_key(text: str) -> tuple[str, ...]:
    """All words, lower-cased: equal keys mean the same sentence up to case and punctuation."""
    return tuple(_TOKEN.findall(text.lower()))


def presentable(sentence: str) -> str:
    """A participant's sentence as it will appear in a statement.

    Drops an opening connective ("But", "Otherwise,") and an opening hedge ("I think that",
    "In my opinion,") when enough remains, capitalises the
    first letter, writes a lone "i" as "I", and ends with terminal punctuation. The words are
    otherwise the participant's own.
    """
    text = " ".join(sentence.split()).strip(" -*•,;:")
    for pattern in (_DISCOURSE, _HEDGE):
        stripped = pattern.sub("", text, count=1)
        if stripped != text and word_count(stripped) >= 3:
            text = stripped
    text = re.sub(r"(?<![\w'])i(?![\w'])", "I", text)
    text = capitalise(text)
    if not text.endswith((".", "!", "?", "…", '"', "”", "'", "’", ")")):
        text = text.rstrip(",;:") + "."
    return text


def capitalise(text: str) -> str:
    for k, char in enumerate(text):
        if char.isalpha():
            return text[:k] + char.upper() + text[k + 1 :]
    return text


def decapitalise(text: str) -> str:
    """Lower-case the first letter unless the first word is "I" or looks like a name/acronym."""
    first_word = text.split(" ", 1)[0]
    if (
        first_word in ("I", "I'm", "I've", "I'd", "I'll")
        or sum(c.isupper() for c in first_word) > 1
    ):
        return text
    return text[:1].lower() + text[1:] if text[:1].isupper() else text


def tokens(text: str) -> list[str]:
    """Content words, lower-cased, with a crude plural/possessive strip."""
    out = []
    for token in _TOKEN.findall(text.lower()):
        token = token.removesuffix("'s")
        if token in STOPWORDS or len(token) < 2:
            continue
        if len(token) > 4 and token.endswith("ies"):
            token = token[:-3] + "y"
        elif len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
            token = token[:-1]
        out.append(token)
    return out


def tfidf_vectors(texts: Sequence[str], *, reference: Sequence[str] | None = None) -> np.ndarray:
    """L2-normalised TF-IDF rows for `texts`; document frequencies come from `reference`
    (default: `texts`). A text without content words gets a zero row."""
    docs = [tokens(t) for t in texts]
    ref_docs = docs if reference is None else [tokens(t) for t in reference]
    vocabulary: dict[str, int] = {}
    for doc in (*docs, *ref_docs):
        for token in doc:
            vocabulary.setdefault(token, len(vocabulary))
    df = np.zeros(len(vocabulary))
    for doc in ref_docs:
        for token in set(doc):
            df[vocabulary[token]] += 1
    idf = np.log((1 + len(ref_docs)) / (1 + df)) + 1.0
    matrix = np.zeros((len(docs), len(vocabulary)))
    for row, doc in enumerate(docs):
        for token, count in Counter(doc).items():
            matrix[row, vocabulary[token]] = (1 + math.log(count)) * idf[vocabulary[token]]
    return normalise_rows(matrix)


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=float)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


# -- voice --------------------------------------------------------------------------------------
# A member's "I" cannot stand in a group statement as it was written: either the whole group
# says it ("we"), or it is reported as one member's ("one of us ... they ...").

_FIRST_PERSON = re.compile(r"(?<![\w'’])(?:i|me|my|mine|myself|i'm|i've|i'd|i'll)(?![\w'’])", re.I)
_TO_THEY = {
    "i am": "they are",
    "i was": "they were",
    "i'm": "they're",
    "i've": "they've",
    "i'd": "they'd",
    "i'll": "they'll",
    "i": "they",
    "me": "them",
    "my": "their",
    "mine": "theirs",
    "myself": "themselves",
}
_TO_WE = {
    "i am": "we are",
    "i was": "we were",
    "i'm": "we're",
    "i've": "we've",
    "i'd": "we'd",
    "i'll": "we'll",
    "i": "we",
    "me": "us",
    "my": "our",
    "mine": "ours",
    "myself": "ourselves",
}
_PRONOUN = re.compile(
    r"(?<![\w'’])(?:i\s+am|i\s+was|i['’]m|i['’]ve|i['’]d|i['’]ll|i|me|my|mine|myself)(?![\w'’])",
    re.IGNORECASE,
)


def has_first_person(text: str) -> bool:
    """Whether a text speaks as one person: "I", "me", "my", "mine", "myself", "I'm", ..."""
    return _FIRST_PERSON.search(text) is not None


def _swap(text: str, table: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        key = " ".join(match.group(0).lower().replace("’", "'").split())
        return table[key]

    return _PRONOUN.sub(replace, text)


def reported(text: str) -> str:
    """A member's words as the group reports them: first person singular becomes "they",
    "them", "their" (singular they, so the verbs stay as written: "I work" -> "they work")."""
    return _swap(text, _TO_THEY)


def group_voice(text: str) -> str:
    """A member's words as the whole group's: "I" becomes "we", "my" "our", ..."""
    return _swap(text, _TO_WE)


def lower_case_words(texts: Sequence[str]) -> frozenset[str]:
    """Words that may be written in lower case after "that": every word the texts use, less the
    names (words they capitalise inside a sentence, "London", "UK"). A name that only ever
    opens a sentence is not recognised."""
    lower = set()
    names = set()
    for text in texts:
        for sentence in split_sentences(text):
            for match in re.finditer(r"[A-Za-z][A-Za-z'-]*", sentence):
                word = match.group(0)
                # After "No." or "Yes!" inside one sentence a word still opens a sentence.
                opens = not sentence[: match.start()].strip() or re.search(
                    r"[.!?:;]\s*$", sentence[: match.start()]
                )
                if not opens and word[0].isupper() and word != "I":
                    names.add(word.lower())
                else:
                    lower.add(word.lower())
    return frozenset(lower - names)


def as_clause(sentence: str, lower_words: set[str] | frozenset[str] | None = None) -> str:
    """A presentable sentence made ready to follow "that": final full stop dropped, first
    letter lowered unless the word looks like a name ("I", "NHS"), or, when `lower_words` is
    given, unless the word is in it (words the writers used in lower case: "Australia" keeps
    its capital, "Points" does not)."""
    text = sentence.strip()
    first = re.sub(r"[^\w'-]", "", text.split(" ", 1)[0]).lower()
    if lower_words is None or first in lower_words or first in STOPWORDS:
        text = decapitalise(text)
    return text[:-1] if text.endswith(".") else text
