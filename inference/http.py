"""JSON over HTTP to model servers (vLLM, or anything speaking the OpenAI-compatible API).

One client per backend object, built by the caller, never at import time. `post_json` retries
what is worth retrying (refused or dropped connections, timeouts, 408, 429 and 5xx) with
exponential backoff and jitter, honours `Retry-After` up to a cap, and turns the outcome into the
errors of `inference.base`. Its `timeout` is a total deadline for the whole call: connecting,
waiting for the answer, reading it (however slowly the server trickles it), every retry and every
pause between retries together; a retry that could not finish in the time left is not tried.

- `BackendUnavailable` when the server never answered usefully (after the last try);
- `BadModelOutput` when it answered with something unusable: a body that is not a JSON object,
  or a 4xx other than 408/429 (our request was refused; retrying will not help).

`post_many` sends several requests at once from a thread pool sharing one connection pool.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

import httpx

from inference.base import BackendUnavailable, BadModelOutput

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_SNIPPET = 200
# An answer larger than this is not a model's answer to one request; it is refused unread.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024

T = TypeVar("T")
R = TypeVar("R")


class JsonClient:
    """POST JSON to one server, with retries.

    `base_url` is joined with relative paths (`"chat/completions"` under
    `http://host:8000/v1`); an absolute URL passed to `post_json` is used as it is.
    `timeout` is the total deadline of one `post_json` call in seconds (all tries and the pauses
    between them); `attempt_timeout` (default: `timeout`) caps one try, so that a hung try leaves
    time for another. `retries` is the number of tries after the first one. The delay before retry `k` (0-based) is
    `min(backoff_max, backoff_base * 2**k)` scaled by a jitter factor drawn uniformly from
    [0.5, 1.0] with `rng`; a server's `Retry-After` replaces it, capped at `retry_after_max`.
    `rng` (or `seed`) and `sleep` are injectable so that tests are fast and repeatable.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        attempt_timeout: float | None = None,
        connect_timeout: float | None = None,
        retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        retry_after_max: float = 30.0,
        max_connections: int = 32,
        rng: random.Random | None = None,
        seed: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        headers: dict[str, str] | None = None,
    ):
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        if attempt_timeout is not None and attempt_timeout <= 0:
            raise ValueError("attempt_timeout must be > 0")
        self.base_url = base_url.rstrip("/") + "/" if base_url else None
        self.timeout = float(timeout)
        self.attempt_timeout = min(self.timeout, float(attempt_timeout or timeout))
        self.connect_timeout = connect_timeout
        self.retries = int(retries)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.retry_after_max = float(retry_after_max)
        self.rng = rng if rng is not None else random.Random(seed)
        self.sleep = sleep
        all_headers = {"Accept": "application/json", **(headers or {})}
        if api_key:
            all_headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(
            headers=all_headers,
            transport=transport,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            # Proxies from the environment would route loopback model servers through them.
            trust_env=False,
        )
        # Each try runs in one of these threads so that the caller regains control at the
        # deadline whatever the socket does; a try that overruns stops itself soon after (its
        # reads are bounded by the time it had, and it checks the clock between chunks).
        self._tries = ThreadPoolExecutor(
            max_workers=max_connections, thread_name_prefix="inference-http-try"
        )

    def __enter__(self) -> JsonClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._tries.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def url_for(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        if self.base_url is None:
            raise ValueError(f"{path_or_url!r} is relative and the client has no base URL")
        return self.base_url + path_or_url.lstrip("/")

    def backoff_delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0 for the first retry)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.retry_after_max))
        return min(self.backoff_max, self.backoff_base * (2**attempt)) * self.rng.uniform(0.5, 1.0)

    def post_json(self, path_or_url: str, payload: Any) -> dict[str, Any]:
        """POST `payload` as JSON and return the JSON object the server answers with, within
        `timeout` seconds in all (else `BackendUnavailable`)."""
        url = self.url_for(path_or_url)
        deadline = time.monotonic() + self.timeout
        last_problem = "no attempt made"
        tries = 0
        for attempt in range(self.retries + 1):
            retry_after: float | None = None
            left = deadline - time.monotonic()
            if left <= 0:
                break
            budget = min(self.attempt_timeout, left)
            tries += 1
            future = self._tries.submit(self._try, url, payload, budget)
            try:
                answer = future.result(timeout=budget + 0.05)
            except (FutureTimeout, _OutOfTime):
                last_problem = f"no complete answer within {budget:g}s"
            except httpx.TimeoutException as exc:
                last_problem = f"timed out after {budget:g}s ({type(exc).__name__})"
            except httpx.TransportError as exc:
                last_problem = f"connection error: {type(exc).__name__}: {exc}"
            else:
                status = answer.status
                if status < 400:
                    return _json_object(answer, url)
                body = _snippet(answer.text)
                if status not in RETRY_STATUSES:
                    raise BadModelOutput(
                        f"POST {url} was refused with HTTP {status}: {body}", raw=answer.text
                    )
                last_problem = f"HTTP {status}: {body}"
                retry_after = _retry_after_seconds(answer.headers.get("Retry-After"))
            if attempt == self.retries:
                break
            delay = self.backoff_delay(attempt, retry_after)
            if time.monotonic() + delay >= deadline:
                last_problem += "; no time left for another try"
                break
            logger.warning(
                "POST %s: %s; retry %d of %d in %.2fs",
                url,
                last_problem,
                attempt + 1,
                self.retries,
                delay,
            )
            self.sleep(delay)
        raise BackendUnavailable(
            f"POST {url} failed after {tries} attempt(s) within the total deadline of "
            f"{self.timeout:g}s; last: {last_problem}"
        )

    def _try(self, url: str, payload: Any, budget: float) -> _Answer:
        """One request, read to its end within `budget` seconds (else `_OutOfTime`)."""
        deadline = time.monotonic() + budget
        timeout = httpx.Timeout(budget, connect=min(budget, self.connect_timeout or budget))
        with self._client.stream("POST", url, json=payload, timeout=timeout) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if time.monotonic() > deadline:
                    raise _OutOfTime
                if len(body) > MAX_RESPONSE_BYTES:
                    raise BadModelOutput(
                        f"POST {url} answered with more than {MAX_RESPONSE_BYTES:,} bytes"
                    )
            text = bytes(body).decode(response.encoding or "utf-8", errors="replace")
            return _Answer(response.status_code, response.headers, text)

    def post_many(
        self, requests: Sequence[tuple[str, Any]], *, max_concurrency: int = 16
    ) -> list[dict[str, Any]]:
        """`post_json` for every `(path_or_url, payload)`, concurrently; answers in input order.

        Every request runs to its end; then the first failure in input order is raised.
        """
        return run_concurrently(
            lambda item: self.post_json(*item),
            requests,
            max_concurrency=max_concurrency,
        )


def run_concurrently(
    fn: Callable[[T], R], items: Iterable[T], *, max_concurrency: int = 16
) -> list[R]:
    """Apply `fn` to every item from a thread pool; results in input order.

    All calls finish (nothing is left running in the background); if any raised, the exception of
    the first failing item in input order is raised, with the others logged.
    """
    items = list(items)
    if not items:
        return []
    workers = max(1, min(max_concurrency, len(items)))
    if workers == 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inference-http") as pool:
        futures = [pool.submit(fn, item) for item in items]
        errors = [future.exception() for future in futures]
    failures = [(i, exc) for i, exc in enumerate(errors) if exc is not None]
    if failures:
        for i, exc in failures[1:]:
            logger.warning("request %d also failed: %s", i, exc)
        raise failures[0][1]
    return [future.result() for future in futures]


class _Answer(NamedTuple):
    status: int
    headers: httpx.Headers
    text: str


class _OutOfTime(Exception):
    """A try's answer did not arrive in full within its time."""


def _json_object(answer: _Answer, url: str) -> dict[str, Any]:
    try:
        data = json.loads(answer.text)
    except ValueError as exc:
        raise BadModelOutput(
            f"POST {url} answered HTTP {answer.status} with a body that is not JSON: "
            f"{_snippet(answer.text)}",
            raw=answer.text,
        ) from exc
    if not isinstance(data, dict):
        raise BadModelOutput(
            f"POST {url} answered with JSON that is not an object ({type(data).__name__})",
            raw=answer.text,
        )
    return data


def _retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: either a number or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _snippet(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= _SNIPPET else one_line[:_SNIPPET] + "..."
