"""The prompted ranking reward model: the parser, the rank rule, and a fake chat server."""

from __future__ import annotations

import re

import numpy as np
import pytest

from inference.base import BackendUnavailable, BadModelOutput, ConfigError, RewardModel, RoundText
from inference.config import BackendConfig, build_reward_model
from inference.http import JsonClient
from inference.reward_models.llm_ranking import (
    LLMRankingRewardModel,
    build_ranking_prompt,
    candidate_labels,
    parse_ranking,
    ranks_to_likert,
)
from tests.inference.vllm_fake_server import FakeOpenAIServer, Reply

QUESTION = "Should cities ban cars from their centres?"
OPINIONS = ["Yes, ban them.", "No, shops need cars.", "Only at weekends."]
CANDIDATES = ["Ban cars.", "Keep cars.", "Ban cars at weekends."]
ROUND = RoundText(question=QUESTION, opinions=OPINIONS)


@pytest.mark.parametrize(
    ("answer", "count", "expected"),
    [
        ("<ranking>B > A > C</ranking>", 3, [1, 0, 2]),
        ("Thinking... A seems best.\n<ranking>2 > 1 > 3</ranking>", 3, [1, 0, 2]),
        ("B, A, C", 3, [1, 0, 2]),
        ("B A C", 3, [1, 0, 2]),
        ("<ranking>B > A = C</ranking>", 3, [1, 0, 1]),
        ("<ranking>C > A, B > D</ranking>", 4, [1, 1, 0, 2]),
        ("<ranking>B > A</ranking>", 4, [1, 0, 2, 2]),  # missing: tied last
        ("<ranking>B > A > B > C</ranking>", 3, [1, 0, 2]),  # repeat: first place counts
        ("<ranking>B > Z > A > 9</ranking>", 3, [1, 0, 2]),  # unknown labels dropped
        ("<ranking>A > B</ranking> then <RANKING>B > A</RANKING>", 2, [1, 0]),  # last block
        ("I would say:\nCandidate C > Candidate A > Candidate B\n", 3, [1, 2, 0]),
        ("<ranking>\nA\nB\n</ranking>", 2, [0, 1]),
    ],
)
def test_rankings_are_read_from_many_answer_shapes(answer, count, expected):
    assert parse_ranking(answer, count).tolist() == expected


def test_numbered_labels_beyond_26_candidates():
    ranks = parse_ranking("<ranking>27 > 1 = 2</ranking>", 30)
    assert ranks[26] == 0 and ranks[0] == ranks[1] == 1 and ranks[5] == 2
    assert candidate_labels(27)[:3] == ["1", "2", "3"]


@pytest.mark.parametrize("answer", ["", "I cannot rank these.", "<ranking></ranking>", None])
def test_an_answer_naming_no_candidate_is_bad_model_output(answer):
    with pytest.raises(BadModelOutput):
        parse_ranking(answer, 3)


@pytest.mark.parametrize(
    ("ranks", "expected"),
    [
        ([0, 1, 2], [7.0, 4.0, 1.0]),
        ([2, 0, 1, 3, 4], [4.0, 7.0, 5.5, 2.5, 1.0]),
        ([0, 0, 1], [5.5, 5.5, 1.0]),  # two tied at places 0 and 1 share place 0.5
        ([0, 1, 1, 1], [7.0, 3.0, 3.0, 3.0]),
        ([0], [4.0]),
    ],
)
def test_ranks_become_agreement_by_the_documented_rule(ranks, expected):
    np.testing.assert_allclose(ranks_to_likert(np.array(ranks)), expected)


def test_the_prompt_shows_the_opinion_critique_and_labelled_candidates():
    prompt = build_ranking_prompt(
        question=QUESTION,
        opinion="Yes, ban them.",
        candidates=CANDIDATES,
        previous_winner="Ban cars.",
        critique="Too harsh on shops.",
    )
    assert "The participant's opinion:\nYes, ban them." in prompt
    assert "The participant's critique of it:\nToo harsh on shops." in prompt
    assert "A. Ban cars.\nB. Keep cars.\nC. Ban cars at weekends." in prompt
    assert "<ranking>A > B > C</ranking>" in prompt


def ranking_for(body: dict) -> str:
    """Rank the candidate that repeats the participant's opinion first, by shared words."""
    prompt = body["messages"][-1]["content"]
    opinion = re.search(r"opinion:\n(.*)", prompt).group(1).lower()
    options = re.findall(r"^([A-Z])\. (.*)$", prompt, flags=re.MULTILINE)
    words = set(re.findall(r"[a-z]+", opinion))
    scored = sorted(options, key=lambda o: -len(words & set(re.findall(r"[a-z]+", o[1].lower()))))
    return "Let me think.\n<ranking>" + " > ".join(label for label, _ in scored) + "</ranking>"


@pytest.fixture
def chat():
    with FakeOpenAIServer(content=ranking_for, hold_until_in_flight=3, hold_timeout=2.0) as fake:
        yield fake


def test_one_concurrent_request_per_participant_becomes_a_likert_matrix(chat):
    model = build_reward_model(
        BackendConfig("llm-ranking", url=chat.url, model="org/chat-70b", options={"seed": 10})
    )
    assert isinstance(model, RewardModel)

    predictions = model.predict(ROUND, CANDIDATES)

    assert len(chat.requests) == 3
    assert chat.max_in_flight == 3
    bodies = chat.bodies("/v1/chat/completions")
    assert sorted(b["seed"] for b in bodies) == [10, 11, 12]
    assert all(b["model"] == "org/chat-70b" and b["temperature"] == 0.0 for b in bodies)
    assert predictions.shape == (3, 3)
    assert predictions[0].argmax() == 0  # "Yes, ban them." -> "Ban cars."
    assert predictions[2].argmax() == 2  # "Only at weekends." -> "Ban cars at weekends."
    assert sorted(predictions[1].tolist()) == [1.0, 4.0, 7.0]


def test_a_single_candidate_needs_no_request(chat):
    model = LLMRankingRewardModel(client=JsonClient(chat.url))
    predictions = model.predict(ROUND, ["Only one."])
    np.testing.assert_array_equal(predictions, np.full((3, 1), 4.0))
    assert chat.requests == []


def test_an_unreadable_answer_is_bad_model_output(chat):
    chat.rule = lambda request: Reply(content="I would rather not say.")
    model = LLMRankingRewardModel(client=JsonClient(chat.url, retries=0))
    with pytest.raises(BadModelOutput):
        model.predict(ROUND, CANDIDATES)


def test_a_chat_server_that_keeps_failing_is_unavailable(chat):
    chat.rule = lambda request: Reply(kind="status", status=503)
    client = JsonClient(chat.url, retries=1, sleep=lambda _seconds: None)
    with pytest.raises(BackendUnavailable):
        LLMRankingRewardModel(client=client).predict(ROUND, CANDIDATES)


@pytest.mark.parametrize(
    "config",
    [
        BackendConfig("llm-ranking"),
        BackendConfig("llm-ranking", url="http://x/v1", options={"colour": "blue"}),
        BackendConfig("llm-ranking", url="http://x/v1", options={"temperature": "hot"}),
    ],
)
def test_bad_llm_ranking_configs_are_config_errors(config):
    with pytest.raises(ConfigError):
        build_reward_model(config)
