"""Shared test setup. The inference tests need neither Django nor a database; the Django tests
run against the real PostgreSQL and Redis that `make test` points them at."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """`../shared` beside the repository (read at run time, never copied in)."""
    import os

    return Path(os.environ.get("CG_SHARED_DIR") or REPO_ROOT.parent / "shared")


@pytest.fixture(scope="session")
def hm_questions() -> list[dict]:
    import json

    path = shared_dir() / "data" / "hm_questions.json"
    if not path.exists():
        pytest.fail(f"the question bank is missing at {path}; set CG_SHARED_DIR")
    return json.loads(path.read_text())
