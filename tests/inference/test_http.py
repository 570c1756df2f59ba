import random
import time

import pytest

from inference.base import BackendUnavailable, BadModelOutput
from inference.http import JsonClient, run_concurrently
from tests.inference.vllm_fake_server import FakeOpenAIServer, Reply, SleepRecorder, free_port

PAYLOAD = {"model": "fake/model-7b", "messages": [{"role": "user", "content": "hi"}], "seed": 3}


@pytest.fixture
def server():
    with FakeOpenAIServer() as fake:
        yield fake


def client_for(server, **kwargs):
    kwargs.setdefault("sleep", SleepRecorder())
    kwargs.setdefault("seed", 0)
    kwargs.setdefault("timeout", 5.0)
    return JsonClient(server.url, **kwargs)


def test_post_json_returns_the_servers_json_object(server):
    with client_for(server) as client:
        answer = client.post_json("chat/completions", PAYLOAD)
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["role"] == "assistant"
    assert server.bodies() == [PAYLOAD]


def test_bearer_api_key_is_sent_only_when_given(server):
    with client_for(server, api_key="sk-test") as client:
        client.post_json("chat/completions", PAYLOAD)
    with client_for(server) as client:
        client.post_json("chat/completions", PAYLOAD)
    assert server.requests[0].headers["authorization"] == "Bearer sk-test"
    assert "authorization" not in server.requests[1].headers


def test_absolute_url_is_used_as_it_is(server):
    with JsonClient(sleep=SleepRecorder()) as client:
        client.post_json(server.url + "/completions", {"prompt": "x"})
    assert server.requests[0].path == "/v1/completions"


def test_relative_path_without_base_url_is_refused():
    with JsonClient() as client, pytest.raises(ValueError, match="no base URL"):
        client.post_json("chat/completions", PAYLOAD)


def test_retries_429_honouring_retry_after_then_succeeds(server):
    server.script(Reply("status", status=429, retry_after=2), Reply("status", status=503))
    sleep = SleepRecorder()
    with client_for(server, sleep=sleep, retries=3, backoff_base=0.25) as client:
        answer = client.post_json("chat/completions", PAYLOAD)
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert len(server.requests) == 3
    assert sleep.delays[0] == 2.0
    # The 503 had no Retry-After: exponential backoff (first retry index 1) with jitter in [0.5, 1].
    assert 0.25 <= sleep.delays[1] <= 0.5


def test_retry_after_is_capped(server):
    server.script(Reply("status", status=429, retry_after=3600))
    sleep = SleepRecorder()
    with client_for(server, sleep=sleep, retry_after_max=4.0) as client:
        client.post_json("chat/completions", PAYLOAD)
    assert sleep.delays == [4.0]


def test_backoff_grows_exponentially_up_to_the_cap_and_is_seeded():
    def delays(seed):
        client = JsonClient("http://127.0.0.1:1/v1", backoff_base=1.0, backoff_max=5.0, seed=seed)
        with client:
            return [client.backoff_delay(k) for k in range(6)]

    first = delays(7)
    assert first == delays(7)
    assert first != delays(8)
    for k, delay in enumerate(first):
        ceiling = min(5.0, 2.0**k)
        assert ceiling / 2 <= delay <= ceiling


def test_injected_rng_drives_the_jitter():
    client = JsonClient("http://127.0.0.1:1/v1", rng=random.Random(42), backoff_base=1.0)
    expected = random.Random(42).uniform(0.5, 1.0)
    with client:
        assert client.backoff_delay(0) == pytest.approx(expected)


def test_exhausted_retries_raise_backend_unavailable_naming_url_and_status(server):
    server.script(*[Reply("status", status=500)] * 3)
    sleep = SleepRecorder()
    with client_for(server, sleep=sleep, retries=2) as client:
        with pytest.raises(BackendUnavailable) as caught:
            client.post_json("chat/completions", PAYLOAD)
    message = str(caught.value)
    assert server.url + "/chat/completions" in message
    assert "HTTP 500" in message
    assert "3 attempt" in message
    assert "\n" not in message
    assert len(sleep.delays) == 2


def test_client_error_other_than_429_is_not_retried(server):
    server.script(Reply("status", status=400))
    with client_for(server, retries=3) as client:
        with pytest.raises(BadModelOutput) as caught:
            client.post_json("chat/completions", PAYLOAD)
    assert "HTTP 400" in str(caught.value)
    assert "BadRequestError" in caught.value.raw
    assert len(server.requests) == 1


def test_non_json_body_raises_bad_model_output_with_raw(server):
    server.script(Reply("malformed"))
    with client_for(server) as client:
        with pytest.raises(BadModelOutput) as caught:
            client.post_json("chat/completions", PAYLOAD)
    assert "not JSON" in str(caught.value)
    assert caught.value.raw == "<html>502 Bad Gateway</html>"


def test_json_that_is_not_an_object_raises_bad_model_output(server):
    server.script(Reply("non_object"))
    with client_for(server) as client:
        with pytest.raises(BadModelOutput, match="not an object"):
            client.post_json("chat/completions", PAYLOAD)


def test_timeout_is_retried_then_reported(server):
    server.script(Reply("slow", delay=1.0), Reply("slow", delay=1.0))
    with client_for(server, timeout=5.0, attempt_timeout=0.2, retries=1) as client:
        with pytest.raises(BackendUnavailable, match="timed out"):
            client.post_json("chat/completions", PAYLOAD)
    assert len(server.requests) == 2


def _fails_within(client, seconds: float) -> BackendUnavailable:
    """The call fails with BackendUnavailable, having returned within `seconds` (a bound far
    above the deadline under test, not a speed measure)."""
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as caught:
        client.post_json("chat/completions", PAYLOAD)
    assert time.monotonic() - started < seconds, "the total deadline did not hold"
    return caught.value


def test_a_trickling_server_is_cut_off_at_the_total_deadline(server):
    # One byte a second: every single read is quick, so only a total deadline stops it; the whole
    # answer would take minutes.
    server.script(Reply("trickle", delay=0.5))
    with client_for(server, timeout=2.0, retries=3, sleep=time.sleep) as client:
        error = _fails_within(client, 30.0)
    assert "total deadline of 2s" in str(error)
    assert "no complete answer" in str(error)
    assert len(server.requests) == 1  # no time was left for another try


def test_a_hanging_server_is_cut_off_at_the_total_deadline(server):
    server.script(Reply("hang"), Reply("hang"), Reply("hang"))
    with client_for(server, timeout=2.0, attempt_timeout=0.8, retries=5) as client:
        error = _fails_within(client, 30.0)
    assert "total deadline of 2s" in str(error)
    assert 2 <= len(server.requests) <= 3


def test_backoff_never_sleeps_past_the_total_deadline(server):
    server.script(*[Reply("status", status=503, retry_after=20)] * 4)
    sleep = SleepRecorder()
    with client_for(server, timeout=5.0, retries=3, sleep=sleep) as client:
        error = _fails_within(client, 30.0)
    assert sleep.delays == []  # a 20 s pause would overrun the 5 s total
    assert "no time left for another try" in str(error)
    assert len(server.requests) == 1


def test_dropped_connection_is_retried(server):
    server.script(Reply("drop"))
    with client_for(server, retries=1) as client:
        answer = client.post_json("chat/completions", PAYLOAD)
    assert answer["object"] == "chat.completion"
    assert len(server.requests) == 2


def test_closed_port_raises_backend_unavailable():
    url = f"http://127.0.0.1:{free_port()}/v1"
    sleep = SleepRecorder()
    with JsonClient(url, timeout=1.0, retries=2, sleep=sleep) as client:
        with pytest.raises(BackendUnavailable) as caught:
            client.post_json("chat/completions", PAYLOAD)
    assert "connection error" in str(caught.value)
    assert url in str(caught.value)
    assert len(sleep.delays) == 2


def test_post_many_sends_requests_concurrently_and_keeps_order():
    with FakeOpenAIServer(hold_until_in_flight=4) as server:
        with client_for(server) as client:
            answers = client.post_many(
                [("chat/completions", {**PAYLOAD, "seed": s}) for s in range(4)]
            )
    assert server.max_in_flight == 4
    contents = [a["choices"][0]["message"]["content"] for a in answers]
    assert all(f"seed {s})" in text for s, text in enumerate(contents))


def test_post_many_raises_the_first_failure_after_all_finish(server):
    # Requests 1 and 2 fail in different ways, so the error raised tells which one it was.
    failures = {1: Reply("status", status=400), 2: Reply("status", status=503)}
    server.rule = lambda request: failures.get(request.body["seed"])
    with client_for(server, retries=0) as client:
        with pytest.raises(BadModelOutput, match="HTTP 400"):
            client.post_many([("chat/completions", {**PAYLOAD, "seed": s}) for s in range(4)])
    assert sorted(body["seed"] for body in server.bodies()) == [0, 1, 2, 3]


def test_run_concurrently_of_nothing_is_empty():
    assert run_concurrently(lambda x: x, []) == []
