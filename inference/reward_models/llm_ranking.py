"""Prompted reward model: ask a chat LLM to rank the candidates for each participant.

As in the open Habermas Machine code, the model reads the question, one participant's opinion
(and, in a critique iteration, the previous winner and that participant's critique) and the
candidates, labelled A, B, C, ... (1, 2, 3, ... beyond 26), and answers with a ranking such as
`<ranking>B > A = C</ranking>`. One request per participant, all concurrently, through an
OpenAI-compatible `chat/completions` endpoint (`inference.http`: timeouts, retries).

Parsing (`parse_ranking`) is forgiving: it reads the last `<ranking>...</ranking>` block, or else
the last line that names candidates; `>` separates places and `=` (or `,` between two `>`)
joins ties (`B > A = C`); a list without `>` (`B, A, C`) is read in order, one place each.
Labels are capital letters, or 1-based numbers (`2 > 1 > 3`). Unknown labels are dropped,
repeated labels count where they first appear, and candidates the model left out share the last
place. An answer that names no candidate at all is `BadModelOutput`.

Ranks become agreement by a **documented rule**: a candidate at place `r` (0 = best; tied
candidates take the mean of the places they span) among `C` candidates gets
`u = 7 - 6 r / (C - 1)`: the best 7, the worst 1, evenly between. This is a position, not a
measured agreement: it orders candidates for one person and says nothing about how much the
group agrees overall. With one candidate there is nothing to rank and every member gets 4
without a request.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from inference.base import BadModelOutput, ConfigError, RoundText, check_predictions
from inference.config import BackendConfig

logger = logging.getLogger(__name__)

TEMPLATE_VERSION = "ranking-v1"
_OWN_OPTIONS = {
    "timeout",
    "retries",
    "api_key",
    "temperature",
    "max_tokens",
    "max_concurrency",
    "seed",
    "revision",
}
# Options meant for other backends that a shared config may still carry.
_IGNORED_OPTIONS = {"device", "head_path", "template_version"}

SYSTEM_PROMPT = (
    "You predict how one participant of a group deliberation would rank candidate group "
    "statements, from the statement they would agree with most to the one they would agree with "
    "least. Judge from the participant's own opinion (and critique, when given), not from your "
    "own views."
)


def candidate_labels(count: int) -> list[str]:
    """A, B, C, ... for up to 26 candidates; 1, 2, 3, ... beyond."""
    if count <= 26:
        return list(string.ascii_uppercase[:count])
    return [str(i + 1) for i in range(count)]


def build_ranking_prompt(
    *,
    question: str,
    opinion: str,
    candidates: Sequence[str],
    previous_winner: str | None = None,
    critique: str | None = None,
) -> str:
    """The user message for one participant (template `ranking-v1`)."""
    labels = candidate_labels(len(candidates))
    parts = [f"Question: {question.strip()}", "", f"The participant's opinion:\n{opinion.strip()}"]
    if critique is not None:
        parts += [
            "",
            f"The previous group statement:\n{(previous_winner or '').strip()}",
            "",
            f"The participant's critique of it:\n{critique.strip()}",
        ]
    parts += ["", "Candidate statements:"]
    parts += [
        f"{label}. {' '.join(text.split())}" for label, text in zip(labels, candidates, strict=True)
    ]
    example = " > ".join(labels[: min(3, len(labels))])
    parts += [
        "",
        "Rank every candidate for this participant, best first. Think briefly if you need to, "
        "then end with the ranking on one line inside tags, using the labels, '>' between "
        f"places and '=' for ties, for example: <ranking>{example}</ranking>",
    ]
    return "\n".join(parts)


_TAG = re.compile(r"<ranking>(.*?)</ranking>", re.IGNORECASE | re.DOTALL)
_TOKEN = re.compile(r"(?<![A-Za-z0-9])(?:[A-Z]|[0-9]+)(?![A-Za-z0-9])")


def parse_ranking(text: str, count: int) -> np.ndarray:
    """Ranks (0 = best, ties equal, dense) of `count` candidates from a model's answer.

    See the module docstring for what is accepted. Raises `BadModelOutput` when the answer
    names no candidate.
    """
    if not isinstance(text, str):
        raise BadModelOutput("the ranking answer is not text", raw=text)
    index = {label: i for i, label in enumerate(candidate_labels(count))}
    # Numbers are read as 1-based positions even when letters were asked for.
    index.update({str(i + 1): i for i in range(count)})

    def levels_of(body: str) -> list[list[int]]:
        if ">" in body:
            chunks = body.split(">")
        else:
            chunks = re.split(r"[,;\n]|(?<=[A-Za-z0-9])\s+(?=[A-Za-z0-9])", body)
        found: list[list[int]] = []
        for chunk in chunks:
            ids = [index[t] for t in _TOKEN.findall(chunk) if t in index]
            if ids:
                found.append(ids)
        return found

    tagged = _TAG.findall(text)
    if tagged:
        levels = levels_of(tagged[-1])
    else:
        levels = []
        for line in reversed([line for line in text.splitlines() if line.strip()]):
            levels = levels_of(line)
            if levels:
                break
    seen: set[int] = set()
    ranks = np.full(count, -1, dtype=int)
    place = 0
    for level in levels:
        fresh = [i for i in dict.fromkeys(level) if i not in seen]
        if not fresh:
            continue
        for i in fresh:
            ranks[i] = place
            seen.add(i)
        place += 1
    if not seen:
        raise BadModelOutput("the ranking answer names no candidate", raw=text)
    ranks[ranks < 0] = place
    return ranks


def ranks_to_likert(ranks: np.ndarray) -> np.ndarray:
    """`u = 7 - 6 r / (C - 1)` with `r` the mean position (0-based) a tied group spans."""
    ranks = np.asarray(ranks)
    count = len(ranks)
    if count == 1:
        return np.array([4.0])
    positions = np.empty(count)
    start = 0
    for level in np.unique(ranks):
        members = np.flatnonzero(ranks == level)
        positions[members] = start + (len(members) - 1) / 2
        start += len(members)
    return 7.0 - 6.0 * positions / (count - 1)


class LLMRankingRewardModel:
    """Per-participant rankings from a chat LLM, turned into 1-7 by `ranks_to_likert`.
    `client` is an `inference.http.JsonClient` whose base URL ends in `/v1`."""

    def __init__(
        self,
        *,
        client: Any,
        model: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 512,
        max_concurrency: int = 8,
        seed: int = 0,
        revision: str | None = None,
    ):
        self.client = client
        self.model = model
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.max_concurrency = int(max_concurrency)
        self.seed = int(seed)
        self.revision = revision
        self.last_answers: list[str] = []

    def predict(self, round_text: RoundText, candidates: Sequence[str]) -> np.ndarray:
        opinions = round_text.opinions
        if len(candidates) == 1:
            return np.full((len(opinions), 1), 4.0)
        requests = [
            (
                "chat/completions",
                self._payload(
                    build_ranking_prompt(
                        question=round_text.question,
                        opinion=opinion,
                        candidates=candidates,
                        previous_winner=round_text.previous_winner,
                        critique=round_text.critique(i),
                    ),
                    member=i,
                ),
            )
            for i, opinion in enumerate(opinions)
        ]
        answers = self.client.post_many(requests, max_concurrency=self.max_concurrency)
        texts = [_message_text(answer) for answer in answers]
        self.last_answers = texts
        matrix = np.stack([ranks_to_likert(parse_ranking(t, len(candidates))) for t in texts])
        return check_predictions(matrix, members=len(opinions), candidates=len(candidates))

    def describe(self) -> dict[str, Any]:
        return {
            "role": "reward",
            "backend": "llm-ranking",
            "model": self.model or "(served model)",
            "revision": self.revision or "unknown",
            "template_version": TEMPLATE_VERSION,
            "rule": "7 - 6 * rank / (C - 1)",
        }

    def _payload(self, prompt: str, *, member: int) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": prompt},
            ],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed + member,
        }
        if self.model:
            payload["model"] = self.model
        return payload


def _message_text(answer: Any) -> str:
    try:
        content = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise BadModelOutput(
            "the chat answer has no choices[0].message.content", raw=answer
        ) from None
    if not isinstance(content, str) or not content.strip():
        raise BadModelOutput("the chat answer is empty", raw=answer)
    return content


def from_config(config: BackendConfig) -> LLMRankingRewardModel:
    """`url` is the OpenAI-compatible base URL (ending in `/v1`). Options: `timeout` (60 s),
    `retries` (3), `api_key`, `temperature` (0), `max_tokens` (512), `max_concurrency` (8),
    `seed` (0; member `i` is sent `seed + i`), `revision` (for the record)."""
    if not config.url:
        raise ConfigError("the llm-ranking reward backend needs the chat server's url")
    options = config.checked_options(
        "llm-ranking reward", reads=_OWN_OPTIONS, ignores=_IGNORED_OPTIONS
    )
    from inference.http import JsonClient

    try:
        client = JsonClient(
            config.url,
            api_key=options.get("api_key"),
            timeout=float(options.get("timeout", 60.0)),
            retries=int(options.get("retries", 3)),
        )
        return LLMRankingRewardModel(
            client=client,
            model=config.model,
            temperature=float(options.get("temperature", 0.0)),
            max_tokens=int(options.get("max_tokens", 512)),
            max_concurrency=int(options.get("max_concurrency", 8)),
            seed=int(options.get("seed", 0)),
            revision=options.get("revision"),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad llm-ranking reward option: {exc}") from exc
