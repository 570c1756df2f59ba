"""Prompts that ask a language model for a group statement, and the parser for its answers.

Templates are versioned: a statement's provenance names the version that produced it, and a
changed wording gets a new version instead of silently replacing an old one. The model is asked
to write the statement between `<statement>` and `</statement>`; `parse_statement` takes it from
there (or from a final "Statement:" section) and refuses empty, truncated or degenerate answers
with `BadModelOutput`, keeping the raw text for the record.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from inference.base import BadModelOutput, ConfigError, RoundText

OPINION_TEMPLATE_VERSION = "opinion-v1"
CRITIQUE_TEMPLATE_VERSION = "critique-v1"

_ANSWER_FORMAT = (
    "Before answering you may note, in a few lines, where the members agree and where they "
    "differ. Then write the statement between <statement> and </statement> and stop there."
)

_OPINION_SYSTEM = {
    "opinion-v1": (
        "You are a neutral mediator for a small discussion group. The members have each written "
        "what they think about a question. Your job is to draft one statement, written as the "
        'group speaking ("we"), that every member could honestly put their name to.\n'
        "- Give each member's main point a fair place, minority views included.\n"
        "- Say plainly where the group agrees; where it does not, describe the disagreement "
        "respectfully instead of settling it for them.\n"
        "- Use only reasons the members gave; add no new facts or arguments.\n"
        "- Do not name or number the members.\n"
        "- One paragraph of three to six sentences, in plain language.\n" + _ANSWER_FORMAT
    ),
}
_CRITIQUE_SYSTEM = {
    "critique-v1": (
        "You are a neutral mediator for a small discussion group. The members wrote their "
        "opinions on a question, read a draft group statement, and then each wrote a critique of "
        "that draft. Your job is to revise the draft so that every member could honestly put "
        'their name to it, still written as the group speaking ("we").\n'
        "- Take each critique seriously, above all those of members the draft left out.\n"
        "- Keep what no one objected to; change what was criticised.\n"
        "- Use only reasons the members gave; add no new facts or arguments.\n"
        "- Do not name or number the members, and do not mention the critiques themselves.\n"
        "- One paragraph of three to six sentences, in plain language.\n" + _ANSWER_FORMAT
    ),
}
OPINION_TEMPLATES = tuple(_OPINION_SYSTEM)
CRITIQUE_TEMPLATES = tuple(_CRITIQUE_SYSTEM)

_TAG = re.compile(r"<\s*/?\s*statement\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class Prompt:
    """A prompt as chat messages (`messages()`) or as one plain text (`text()`)."""

    version: str
    system: str
    user: str

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]

    def text(self) -> str:
        """For servers or models without a chat template: instructions, inputs, answer cue."""
        return f"{self.system}\n\n{self.user}\n\nAnswer:\n"


def check_template_versions(
    opinion: str = OPINION_TEMPLATE_VERSION, critique: str = CRITIQUE_TEMPLATE_VERSION
) -> None:
    """Raise `ConfigError` when a template version is unknown."""
    if opinion not in _OPINION_SYSTEM:
        raise ConfigError(
            f"unknown opinion template {opinion!r}; choose one of {', '.join(OPINION_TEMPLATES)}"
        )
    if critique not in _CRITIQUE_SYSTEM:
        raise ConfigError(
            f"unknown critique template {critique!r}; choose one of {', '.join(CRITIQUE_TEMPLATES)}"
        )


def opinion_prompt(
    question: str, opinions_in_order: Sequence[str], *, version: str = OPINION_TEMPLATE_VERSION
) -> Prompt:
    """The prompt of an opinion iteration; opinions appear once each, in the order given."""
    check_template_versions(opinion=version)
    blocks = [f"Member {k}:\n{_clean(text)}" for k, text in enumerate(opinions_in_order, start=1)]
    user = (
        f"Question: {_clean(question)}\n\n"
        "The members' opinions, in no particular order:\n\n" + "\n\n".join(blocks) + "\n\n"
        "Write the group statement."
    )
    return Prompt(version=version, system=_OPINION_SYSTEM[version], user=user)


def critique_prompt(
    question: str,
    opinions: Sequence[str],
    previous_winner: str,
    critiques: Sequence[str],
    *,
    version: str = CRITIQUE_TEMPLATE_VERSION,
) -> Prompt:
    """The prompt of a critique iteration: each member's opinion beside their critique."""
    check_template_versions(critique=version)
    if len(opinions) != len(critiques):
        raise ValueError("give one critique per opinion")
    blocks = [
        f"Member {k}:\nOpinion: {_clean(opinion)}\nCritique of the draft: {_clean(critique)}"
        for k, (opinion, critique) in enumerate(zip(opinions, critiques, strict=True), start=1)
    ]
    user = (
        f"Question: {_clean(question)}\n\n"
        f"Draft statement:\n{_clean(previous_winner)}\n\n"
        "The members' opinions and critiques, in no particular order:\n\n"
        + "\n\n".join(blocks)
        + "\n\nWrite the revised group statement."
    )
    return Prompt(version=version, system=_CRITIQUE_SYSTEM[version], user=user)


def round_prompt(
    round_text: RoundText,
    *,
    order: Sequence[int],
    opinion_version: str = OPINION_TEMPLATE_VERSION,
    critique_version: str = CRITIQUE_TEMPLATE_VERSION,
) -> Prompt:
    """The prompt for one sample: the opinion or critique template with members in `order`.

    `order` is a permutation of `range(len(round_text.opinions))`; a member's critique moves
    with their opinion.
    """
    opinions, critiques = round_text.opinions, round_text.critiques
    if sorted(order) != list(range(len(opinions))):
        raise ValueError(f"order {list(order)} is not a permutation of {len(opinions)} opinions")
    shown = [opinions[i] for i in order]
    if critiques is None:
        return opinion_prompt(round_text.question, shown, version=opinion_version)
    return critique_prompt(
        round_text.question,
        shown,
        str(round_text.previous_winner),
        [critiques[i] for i in order],
        version=critique_version,
    )


def _clean(text: str) -> str:
    """Participants' text as it is, except our answer tags, which could hijack the parse."""
    return _TAG.sub(lambda m: m.group(0).replace("<", "(").replace(">", ")"), text.strip())


# -- parsing ----------------------------------------------------------------------------------

PARSE_MODES = ("tagged", "lenient", "raw")

_OPEN = re.compile(r"<\s*statement\s*>", re.IGNORECASE)
_CLOSE = re.compile(r"<\s*/\s*statement\s*>", re.IGNORECASE)
_SECTION = re.compile(
    r"^[ \t]*[#*_>]*[ \t]*(?:revised[ \t]+|final[ \t]+|group[ \t]+|consensus[ \t]+)*"
    r"statement[ \t]*[*_]*[ \t]*:[ \t]*[*_]*",
    re.IGNORECASE | re.MULTILINE,
)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_QUOTES = "\"'“”‘’«»`*_ "


def parse_statement(
    raw_text: str | None,
    *,
    finish_reason: str | None = None,
    mode: str = "tagged",
    min_words: int = 8,
    max_words: int = 400,
) -> str:
    """The statement inside a model's answer, or `BadModelOutput` (with `raw`) when unusable.

    `mode`:
    - `"tagged"` (default): the text between the last `<statement>` and its `</statement>`, or
      else everything after a final `Statement:` line; without either, the answer is refused.
    - `"lenient"`: the same, but an answer with neither is taken whole.
    - `"raw"`: the answer taken whole and only checked to be non-empty; it accepts truncated
      text. For smoke tests of the generation path with untrained weights, never for real rounds.

    In `"tagged"` and `"lenient"` mode an answer is refused when `finish_reason` is `"length"` or
    a tag was opened and not closed (truncated), or when the statement is empty, has fewer than
    `min_words` or more than `max_words` words, is mostly not letters, or loops on repeated words.
    """
    if mode not in PARSE_MODES:
        raise ConfigError(f"unknown parse mode {mode!r}; choose one of {', '.join(PARSE_MODES)}")
    if not isinstance(raw_text, str):
        raise BadModelOutput(
            f"the model returned {type(raw_text).__name__}, not text", raw=raw_text
        )
    if not raw_text.strip():
        raise BadModelOutput("the model returned an empty answer", raw=raw_text)
    if mode == "raw":
        return " ".join(raw_text.split())
    if finish_reason == "length":
        raise BadModelOutput(
            "the answer was cut off at the token limit (finish_reason 'length')", raw=raw_text
        )
    text = _extract(raw_text, lenient=mode == "lenient")
    problem = _quality_problem(text, min_words=min_words, max_words=max_words)
    if problem:
        raise BadModelOutput(f"unusable statement: {problem}", raw=raw_text)
    return text


def _extract(raw: str, *, lenient: bool) -> str:
    opens = list(_OPEN.finditer(raw))
    if opens:
        start = opens[-1].end()
        close = _CLOSE.search(raw, start)
        if close is None:
            raise BadModelOutput("the answer opens <statement> and never closes it", raw=raw)
        return _tidy(raw[start : close.start()])
    if _CLOSE.search(raw):
        raise BadModelOutput("the answer closes </statement> without opening it", raw=raw)
    sections = list(_SECTION.finditer(raw))
    if sections:
        return _tidy(raw[sections[-1].end() :])
    if lenient:
        return _tidy(raw)
    raise BadModelOutput("the answer has no <statement> tag and no 'Statement:' section", raw=raw)


def _tidy(text: str) -> str:
    return " ".join(text.split()).strip(_QUOTES)


def _quality_problem(text: str, *, min_words: int, max_words: int) -> str | None:
    if not text:
        return "it is empty"
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < min_words:
        return f"it has {len(words)} word(s), fewer than {min_words}"
    if len(words) > max_words:
        return f"it has {len(words)} words, more than {max_words}"
    visible = [c for c in text if not c.isspace()]
    letters = sum(c.isalpha() for c in visible)
    if letters < 0.6 * len(visible):
        return "it is mostly not letters"
    if len(words) >= 12:
        counts = Counter(words)
        if counts.most_common(1)[0][1] > 0.3 * len(words) or len(counts) < 0.25 * len(words):
            return "it repeats the same words over and over"
        grams = Counter(zip(words, words[1:], words[2:], words[3:], strict=False))
        if grams and grams.most_common(1)[0][1] >= 4:
            return "it loops on a repeated phrase"
    return None
