"""What the fake backends share: being told to fail the way a real backend fails.

A fake's `fail` is `None`, `"unavailable"` (it raises `BackendUnavailable`), `"bad_output"` (it
raises `BadModelOutput`) or an `InferenceError` to raise as it is, from every call.
"""

from __future__ import annotations

from typing import Any

from inference.base import BackendUnavailable, BadModelOutput, ConfigError, InferenceError

FAILURES = ("unavailable", "bad_output")


def check_fail(fail: str | InferenceError | None, *, name: str) -> None:
    """`ConfigError` when `fail` names no failure of `FAILURES`; `name` is the fake's."""
    if isinstance(fail, str) and fail not in FAILURES:
        raise ConfigError(f"{name} 'fail' must be one of {', '.join(FAILURES)}")


def raise_failure(fail: str | InferenceError | None, *, name: str, raw: Any = None) -> None:
    """Raise what `fail` says (nothing when it is `None`); `raw` goes into `BadModelOutput`."""
    if fail == "unavailable":
        raise BackendUnavailable(f"the {name} was told to be unavailable")
    if fail == "bad_output":
        raise BadModelOutput(f"the {name} was told to answer garbage", raw=raw)
    if fail is not None:
        raise fail
