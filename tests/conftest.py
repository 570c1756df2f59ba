"""Shared test setup. The inference tests need neither Django nor a database; the Django tests
run against the real PostgreSQL and Redis that `make test` points them at."""

import pytest

from inference.paths import REPO_ROOT, question_bank_path

__all__ = ["REPO_ROOT"]  # tests import it from here


@pytest.fixture(scope="session")
def hm_questions() -> list[dict]:
    import json

    path = question_bank_path()
    if not path.exists():
        pytest.fail(f"the question bank is missing at {path}; set CG_SHARED_DIR")
    return json.loads(path.read_text())


@pytest.fixture
def private_redis():
    """A `redis-server` of the test's own (tests.faults.RedisServer), to stop and start."""
    from tests.faults import RedisServer

    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()
