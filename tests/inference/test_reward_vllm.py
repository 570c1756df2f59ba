"""The vLLM pooling reward backend against a loopback fake of vLLM's /classify and /score."""

from __future__ import annotations

import numpy as np
import pytest

from inference.base import BackendUnavailable, BadModelOutput, ConfigError, RewardModel, RoundText
from inference.config import BackendConfig, build_reward_model
from inference.http import JsonClient
from inference.reward_models import formatting
from inference.reward_models.vllm import VLLMRewardModel
from tests.inference.vllm_fake_server import free_port
from tests.inference.vllm_pooling_fake_server import FakePoolingServer, Reply

QUESTION = "Should the government help in developing artificial intelligence?"
OPINIONS = ["Yes, public money should fund AI.", "No, taxes should not pay for AI."]
CANDIDATES = ["Fund it carefully. [score=5.5]", "Do not fund it. [score=2]", "Maybe. [score=9]"]
ROUND = RoundText(question=QUESTION, opinions=OPINIONS)


@pytest.fixture
def server():
    with FakePoolingServer() as fake:
        yield fake


def reward_model(server, *, retries=0, timeout=5.0, sleeps=None, **kwargs) -> VLLMRewardModel:
    client = JsonClient(
        server.url,
        timeout=timeout,
        retries=retries,
        seed=0,
        sleep=(sleeps.append if sleeps is not None else lambda _seconds: None),
    )
    return VLLMRewardModel(client=client, **kwargs)


def predict(model, candidates=CANDIDATES, **round_fields):
    round_text = RoundText(**{"question": QUESTION, "opinions": OPINIONS, **round_fields})
    return model.predict(round_text, candidates)


def test_one_classify_request_carries_every_pair_of_the_round_member_major(server):
    model = build_reward_model(BackendConfig("vllm", url=server.url + "/v1", model="org/reward-1b"))
    assert isinstance(model, RewardModel)

    predictions = predict(model)

    [request] = server.requests
    assert request.path == "/classify"
    assert request.body["model"] == "org/reward-1b"
    assert request.body["use_activation"] is False
    assert request.body["input"] == formatting.round_inputs(ROUND, CANDIDATES)
    assert request.body["input"][1] == (
        f"Question: {QUESTION}\n"
        f"Participant's opinion: {OPINIONS[0]}\n"
        f"Candidate statement: {CANDIDATES[1]}"
    )
    np.testing.assert_allclose(predictions, [[5.5, 2.0, 7.0], [5.5, 2.0, 7.0]])


def test_a_critique_iteration_sends_the_previous_winner_and_each_members_critique(server):
    model = reward_model(server)
    predict(model, previous_winner="Fund it.", critiques=["Too vague.", "Ignores the cost."])
    texts = server.requests[0].body["input"]
    assert "Previous statement: Fund it.\nParticipant's critique: Too vague." in texts[0]
    assert "Participant's critique: Ignores the cost." in texts[3]


def test_score_endpoint_sends_pairs_and_reads_scores(server):
    model = reward_model(server, endpoint="score", output="logit")
    server.score_value = lambda first, second: 0.0 if "Yes" in first else 50.0

    predictions = predict(model)

    [request] = server.requests
    assert request.path == "/score"
    assert len(request.body["text_1"]) == len(request.body["text_2"]) == 6
    assert request.body["text_1"][0].endswith(f"Participant's opinion: {OPINIONS[0]}")
    assert request.body["text_2"][2] == f"Candidate statement: {CANDIDATES[2]}"
    np.testing.assert_allclose(predictions, [[4.0] * 3, [7.0] * 3])


def test_probability_keeps_the_servers_activation_and_maps_to_one_plus_six_p(server):
    model = reward_model(server, output="probability")
    server.classify_value = lambda text: 0.5 if "Yes" in text else 0.0
    predictions = predict(model)
    assert "use_activation" not in server.requests[0].body
    np.testing.assert_allclose(predictions, [[4.0] * 3, [1.0] * 3])


def test_two_class_probabilities_use_the_agree_class(server):
    server.num_classes = 2
    server.classify_value = lambda text: 0.25
    predictions = predict(reward_model(server, output="probability"))
    np.testing.assert_allclose(predictions, np.full((2, 3), 2.5))


def test_large_rounds_are_split_into_concurrent_batches_and_put_back_in_order():
    candidates = [f"Candidate {k}. [score={1 + k % 7}]" for k in range(16)]
    # Each request waits until four are in flight: only concurrent batches get through at once.
    with FakePoolingServer(hold_until_in_flight=4, hold_timeout=2.0) as server:
        model = reward_model(server, batch_size=7, max_concurrency=4)
        predictions = predict(model, opinions=OPINIONS * 2 + ["Unsure."], candidates=candidates)

    assert server.max_in_flight == 4
    assert sorted(len(body["input"]) for body in server.bodies("/classify")) == [3] + [7] * 11
    expected = np.array([1 + k % 7 for k in range(16)], dtype=float)
    np.testing.assert_allclose(predictions, np.tile(expected, (5, 1)))


@pytest.mark.parametrize(
    ("rule", "raw", "expected"),
    [
        ("likert", [-3.0, 1.0, 4.25, 7.0, 12.0], [1.0, 1.0, 4.25, 7.0, 7.0]),
        ("probability", [0.0, 0.5, 1.0], [1.0, 4.0, 7.0]),
        ("logit", [0.0, 1000.0, -1000.0, np.log(3.0)], [4.0, 7.0, 1.0, 5.5]),
    ],
)
def test_output_rules_map_to_the_likert_scale(rule, raw, expected):
    np.testing.assert_allclose(formatting.to_likert(raw, rule), expected)


@pytest.mark.parametrize(
    ("rule", "raw"),
    [("likert", [float("nan")]), ("logit", ["high"]), ("probability", [1.5])],
)
def test_values_no_rule_can_map_are_bad_model_output(rule, raw):
    with pytest.raises(BadModelOutput):
        formatting.to_likert(raw, rule)


def test_rate_limits_and_server_errors_are_retried_then_succeed(server):
    server.script(Reply("status", status=429, retry_after=0.01), Reply("status", status=500))
    sleeps: list[float] = []
    predictions = predict(reward_model(server, retries=3, sleeps=sleeps))
    assert len(server.requests) == 3
    assert sleeps[0] == pytest.approx(0.01)
    assert predictions.shape == (2, 3)


def test_a_server_that_keeps_failing_is_unavailable(server):
    server.script(*[Reply("status", status=503)] * 3)
    with pytest.raises(BackendUnavailable, match="3 attempt"):
        predict(reward_model(server, retries=2))


def test_a_server_that_is_down_is_unavailable():
    client = JsonClient(f"http://127.0.0.1:{free_port()}", retries=1, sleep=lambda _s: None)
    with pytest.raises(BackendUnavailable):
        predict(VLLMRewardModel(client=client))


def test_an_answer_slower_than_the_timeout_is_unavailable(server):
    server.script(Reply("slow", delay=1.0))
    with pytest.raises(BackendUnavailable, match="timed out"):
        predict(reward_model(server, timeout=0.2))


@pytest.mark.parametrize("kind", ["malformed", "wrong_count", "non_number"])
def test_garbage_answers_are_bad_model_output(server, kind):
    server.script(Reply(kind))
    with pytest.raises(BadModelOutput):
        predict(reward_model(server))


def test_probabilities_outside_zero_one_are_bad_model_output(server):
    server.classify_value = lambda text: 3.0
    with pytest.raises(BadModelOutput, match=r"\[0, 1\]"):
        predict(reward_model(server, output="probability"))


def test_a_refused_request_is_bad_model_output_without_retrying(server):
    server.script(Reply("status", status=400))
    with pytest.raises(BadModelOutput, match="HTTP 400"):
        predict(reward_model(server, retries=3))
    assert len(server.requests) == 1


def test_describe_names_model_endpoint_and_rule(server):
    described = reward_model(server, model="org/rm", endpoint="score", output="logit").describe()
    assert described["role"] == "reward"
    assert described["backend"] == "vllm"
    assert described["model"] == "org/rm"
    assert (described["endpoint"], described["output"]) == ("score", "logit")
    assert described["template_version"] == formatting.TEMPLATE_VERSION


@pytest.mark.parametrize(
    "config",
    [
        BackendConfig("vllm"),
        BackendConfig("vllm", url="http://x", options={"endpoint": "embed"}),
        BackendConfig("vllm", url="http://x", options={"output": "stars"}),
        BackendConfig("vllm", url="http://x", options={"template_version": "v0"}),
        BackendConfig("vllm", url="http://x", options={"colour": "blue"}),
    ],
)
def test_bad_vllm_reward_configs_are_config_errors(config):
    with pytest.raises(ConfigError):
        build_reward_model(config)
