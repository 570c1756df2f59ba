"""Shared test setup. The inference tests need neither Django nor a database; the Django tests
run against the real PostgreSQL and Redis that `make test` points them at.

Tests that need questions use `sample_questions`, written by the project (tests/fixtures/), so a
clone passes anywhere. Only the tests about the real question bank take `hm_questions`, which
reads it from the shared folder and skips, saying where it looked, when it is absent; with `CI`
set (CI has the shared folder) a missing bank fails instead of skipping.
"""

import json
import os
from pathlib import Path

import hypothesis
import pytest
from django.conf import settings
from django.test import override_settings

from tests.commits import CommittingClient
from tests.faults import RedisServer

# Property tests check properties, not speed: a busy CI machine must not fail them on
# hypothesis's per-example deadline (speed is measured by the benchmarks).
hypothesis.settings.register_profile(
    "commonground", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("commonground")

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_QUESTIONS = REPO_ROOT / "tests" / "fixtures" / "questions.json"


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Users made by the tests get passwords hashed in one round instead of PBKDF2's million
    (about half a second each on a shared CPU, in every test with a moderator). The tests are
    about who may sign in and do what, which no hasher changes; production keeps Django's, and
    hashes made with it still check."""
    fast = "django.contrib.auth.hashers.MD5PasswordHasher"
    with override_settings(PASSWORD_HASHERS=[fast, *settings.PASSWORD_HASHERS]):
        yield


@pytest.fixture(scope="session")
def sample_questions() -> list[dict]:
    """88 questions in the bank's format (`id`, `question`, `affirming_statement`,
    `negating_statement`, `topic`, `split`): 60 `train`, 20 `iid_test` on the same 20 topics, and
    8 `ood_test` on 2 topics never in `train`; some with the double spaces, leading blanks and
    missing full stops that people's text has."""
    return json.loads(SAMPLE_QUESTIONS.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def hm_questions() -> list[dict]:
    """The real Habermas Machine question bank (5,645 entries), for tests about the bank."""
    path = Path(settings.QUESTION_BANK_PATH)
    if not path.exists():
        message = (
            f"the real question bank is not at {path} (a clone without ../shared/; set "
            "CG_SHARED_DIR to run the tests about the bank)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def private_redis():
    """A `redis-server` of the test's own (tests.faults.RedisServer), to stop and start."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def client() -> CommittingClient:
    """Django's test client, whose requests run what they hand on after their commit even in a
    test inside one transaction (tests.commits)."""
    return CommittingClient()
