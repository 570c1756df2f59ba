"""JSON over HTTP to model servers (vLLM, or anything speaking the OpenAI-compatible API).

One client per backend object, built by the caller, never at import time. `post_json` retries
what is worth retrying (refused or dropped connections, timeouts, 408, 429 and 5xx) with
exponential backoff and jitter, honours `Retry-After` up to a cap, and turns the outcome into the
errors of `inference.base`:

- `BackendUnavailable` when the server never answered usefully (after the last try);
- `BadModelOutput` when it answered with something unusable: a body that is not a JSON object,
  or a 4xx other than 408/429 (our request was refused; retrying will not help).

`post_many` sends several requests at once from a thread pool sharing one connection pool.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from inference.base import BackendUnavailable, BadModelOutput

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_SNIPPET = 200

T = TypeVar("T")
R = TypeVar("R")


class JsonClient:
    """POST JSON to one server, with retries.

    `base_url` is joined with relative paths (`"chat/completions"` under
    `http://host:8000/v1`); an absolute URL passed to `post_json` is used as it is.
    `retries` is the number of tries after the first one. The delay before retry `k` (0-based) is
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
        self.base_url = base_url.rstrip("/") + "/" if base_url else None
        self.timeout = float(timeout)
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

    def __enter__(self) -> JsonClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
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
        """POST `payload` as JSON and return the JSON object the server answers with."""
        url = self.url_for(path_or_url)
        timeout = httpx.Timeout(
            self.timeout, connect=min(self.timeout, self.connect_timeout or self.timeout)
        )
        last_problem = "no attempt made"
        for attempt in range(self.retries + 1):
            retry_after: float | None = None
            try:
                response = self._client.post(url, json=payload, timeout=timeout)
            except httpx.TimeoutException as exc:
                last_problem = f"timed out after {self.timeout:g}s ({type(exc).__name__})"
            except httpx.TransportError as exc:
                last_problem = f"connection error: {type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status < 400:
                    return _json_object(response, url)
                body = _snippet(response.text)
                if status not in RETRY_STATUSES:
                    raise BadModelOutput(
                        f"POST {url} was refused with HTTP {status}: {body}", raw=response.text
                    )
                last_problem = f"HTTP {status}: {body}"
                retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            if attempt == self.retries:
                break
            delay = self.backoff_delay(attempt, retry_after)
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
            f"POST {url} failed after {self.retries + 1} attempt(s); last: {last_problem}"
        )

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


def _json_object(response: httpx.Response, url: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise BadModelOutput(
            f"POST {url} answered HTTP {response.status_code} with a body that is not JSON: "
            f"{_snippet(response.text)}",
            raw=response.text,
        ) from exc
    if not isinstance(data, dict):
        raise BadModelOutput(
            f"POST {url} answered with JSON that is not an object ({type(data).__name__})",
            raw=response.text,
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
