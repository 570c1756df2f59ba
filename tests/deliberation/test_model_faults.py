"""Misbehaving model servers, through the services on the real PostgreSQL: a server that answers
junk with NUL bytes, one that trickles its answer a byte at a time, and one that never answers.
Each leaves the iteration `failed` with a readable, storable reason, within the total deadline,
and every opinion untouched. The fakes are loopback HTTP servers (the network edge)."""

import time

import pytest

from deliberation.models import CandidateSet, Iteration, Opinion, Statement
from deliberation.services.mediation import iteration_mediate
from deliberation.storable import storable_json, storable_text
from tests.commits import committed
from tests.deliberation.test_round_flow import OPINIONS, current_iteration, write_all
from tests.inference.vllm_fake_server import FakeOpenAIServer, Reply

pytestmark = pytest.mark.django_db

JUNK = "\x00\x00<html>\x00 upstream \x1b[31mexploded\x00 \ud800"


@pytest.fixture
def model_server():
    with FakeOpenAIServer() as fake:
        yield fake


def _use_generator(deliberation, url: str, **options) -> None:
    deliberation.mediation_config = {
        **deliberation.mediation_config,
        "generator": {"backend": "vllm", "url": url, "model": "fake/model-7b", "options": options},
    }
    deliberation.save(update_fields=["mediation_config"])


def _failed_with_everything_kept(iteration: Iteration) -> str:
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.FAILED
    assert iteration.failure_reason.strip()
    assert sorted(Opinion.objects.filter(iteration=iteration).values_list("text", flat=True)) == (
        sorted(OPINIONS)
    )
    assert not CandidateSet.objects.filter(iteration=iteration).exists()
    assert not Statement.objects.filter(iteration=iteration).exists()
    return iteration.failure_reason


def test_junk_with_nul_bytes_fails_the_iteration_with_a_storable_reason(make_group, model_server):
    # The error message quotes the start of the junk, NUL bytes and all: PostgreSQL refuses to
    # store a NUL, which used to crash the task and leave the iteration `mediating` for ever.
    deliberation, members = make_group(3)
    model_server.rule = lambda request: Reply("malformed", content=JUNK)
    _use_generator(deliberation, model_server.url, timeout=5, retries=0)
    iteration = write_all(members)

    reason = _failed_with_everything_kept(iteration)
    assert "\x00" not in reason and "\x1b" not in reason
    assert "not JSON" in reason and "upstream" in reason, reason


def test_a_trickling_server_fails_the_iteration_at_the_total_deadline(make_group, model_server):
    deliberation, members = make_group(3)
    model_server.rule = lambda request: Reply("trickle", delay=0.5)
    _use_generator(deliberation, model_server.url, timeout=2, retries=2)
    started = time.monotonic()
    iteration = write_all(members)

    reason = _failed_with_everything_kept(iteration)
    assert time.monotonic() - started < 60, "the mediation outlived its model call's deadline"
    assert "total deadline of 2s" in reason, reason


def test_a_hanging_server_fails_the_iteration_at_the_total_deadline(make_group, model_server):
    deliberation, members = make_group(3)
    model_server.rule = lambda request: Reply("hang")
    _use_generator(deliberation, model_server.url, timeout=2, retries=2)
    started = time.monotonic()
    iteration = write_all(members)

    reason = _failed_with_everything_kept(iteration)
    assert time.monotonic() - started < 60, "the mediation outlived its model call's deadline"
    assert "total deadline of 2s" in reason, reason


def test_a_generator_answering_control_characters_in_a_good_statement_is_stored_clean(
    make_group, model_server
):
    deliberation, members = make_group(3)
    good = model_server.content
    model_server.content = lambda body: good(body).replace("a", "a\x00", 1).replace("e", "e\x07", 1)
    _use_generator(deliberation, model_server.url, timeout=10, retries=0)
    iteration = write_all(members)

    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.RATING, iteration.failure_reason
    texts = list(Statement.objects.filter(iteration=iteration).values_list("text", flat=True))
    assert texts and all("\x00" not in t and "\x07" not in t for t in texts)


def test_a_repeat_after_failure_finds_nothing_to_do(make_group, model_server):
    deliberation, members = make_group(3)
    model_server.rule = lambda request: Reply("malformed", content=JUNK)
    _use_generator(deliberation, model_server.url, timeout=5, retries=0)
    iteration = write_all(members)
    with committed():
        assert iteration_mediate(iteration_id=iteration.pk) is None
    assert current_iteration(members[0]).state == Iteration.State.FAILED


@pytest.mark.parametrize(
    ("raw", "limit", "expected"),
    [
        ("plain text", 100, "plain text"),
        ("tab\tand\nnewline stay", 100, "tab\tand\nnewline stay"),
        ("nul\x00 bell\x07 esc\x1b del\x7f", 100, "nul bell esc del"),
        ("lone \ud800 surrogate", 100, "lone  surrogate"),
        ("x" * 50, 20, "x" * 14 + " [...]"),
    ],
)
def test_storable_text_drops_what_postgresql_refuses_and_bounds_the_length(raw, limit, expected):
    assert storable_text(raw, limit=limit) == expected


def test_storable_json_cleans_keys_and_values_and_non_finite_numbers():
    value = {"raw\x00": ["a\x00b", 1, 2.5, float("inf"), None, True, {"k": "\x00"}]}
    assert storable_json(value) == {"raw": ["ab", 1, 2.5, "inf", None, True, {"k": ""}]}
