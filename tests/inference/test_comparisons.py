"""Comparison statements: the best opinion by predicted welfare, the baseline config, and N = 1.

Bad input tried here: no opinions, an empty opinion, an empty and an out-of-range `include`, an
unknown aggregation, a negative alpha, a reward model that answers a wrongly shaped matrix or
values off the 1-7 scale, one that is down, and baseline overrides that are not a valid config.
"""

import json
import math

import numpy as np
import pytest

from inference.aggregation import rankings_from_predictions, schulze
from inference.base import BackendUnavailable, BadModelOutput, ConfigError, RoundText
from inference.comparisons import BestOpinion, baseline_config, best_opinion, comparison_seed
from inference.config import BackendConfig, MediationConfig
from inference.generators.fake import FakeGenerator
from inference.mediation import mediate
from inference.reward_models.fake import FakeRewardModel

QUESTION = "Should the voting age be lowered to 16?"
OPINIONS = [
    "Sixteen year olds pay taxes and work. They should have a say in how that money is spent.",
    "Teenagers are not mature enough to vote. Their views are shaped by parents and teachers.",
    "Lowering the age could raise turnout for life. Habits formed early tend to stick.",
]
# METHOD.md §2's worked example as members x opinions, with a third opinion nobody likes:
# opinion 0 = A (7, 7, 1), opinion 1 = B (5, 5, 4), opinion 2 = (1.5, 1.5, 1.5).
MATRIX = [[7.0, 5.0, 1.5], [7.0, 5.0, 1.5], [1.0, 4.0, 1.5]]


ROUND = {"question": QUESTION, "opinions": OPINIONS}
ROUND_TEXT = RoundText(**ROUND)


def pick(round_text=ROUND_TEXT, **overrides) -> BestOpinion:
    kwargs = {"reward_model": FakeRewardModel(matrix=MATRIX)}
    kwargs.update(overrides)
    return best_opinion(round_text, **kwargs)


@pytest.mark.parametrize(
    ("alpha", "winner", "score"),
    [(0.0, 0, 5.0), (1.0, 1, (5 * 5 * 4) ** (1 / 3)), (math.inf, 1, 4.0)],
)
def test_best_opinion_is_the_argmax_of_the_groups_welfare(alpha, winner, score):
    found = pick(alpha=alpha)
    assert found.index == winner
    assert found.scores[winner] == pytest.approx(score)
    assert found.index == int(np.argmax(found.scores))
    assert found.predictions.shape == (3, 3)
    assert found.included == [0, 1, 2]
    assert found.aggregation["method"] == "welfare"
    assert found.aggregation["alpha"] == alpha


def test_every_opinion_is_scored_as_a_candidate_for_every_member():
    reward = FakeRewardModel()
    found = pick(reward_model=reward)
    (call,) = reward.calls
    assert call["round_text"] is ROUND_TEXT
    assert call["candidates"] == OPINIONS
    expected = reward.predict(ROUND_TEXT, OPINIONS)
    np.testing.assert_allclose(found.predictions, expected)
    geometric_mean = np.exp(np.log(expected).mean(axis=0))
    assert found.index == int(np.argmax(geometric_mean))


def test_best_opinion_with_schulze_follows_the_schulze_ranking():
    found = pick(aggregation="schulze", seed=7)
    tied, untied = schulze(rankings_from_predictions(np.array(MATRIX)), seed=7)
    assert found.index == int(np.argmin(untied))
    assert found.aggregation["alpha"] is None
    assert list(found.aggregation["untied"]) == list(untied)
    assert list(found.scores) == list(3.0 - untied)


def test_include_decides_whose_welfare_counts_but_everyone_is_predicted():
    # Only member 2 counts: they prefer opinion 1 (4 > 1.5 > 1).
    found = pick(alpha=0.0, include=[2])
    assert found.index == 1
    assert found.included == [2]
    assert found.predictions.shape == (3, 3)


def test_equal_welfare_goes_to_the_earlier_opinion():
    found = pick(reward_model=FakeRewardModel(matrix=[[4.0, 4.0, 2.0]] * 3))
    assert found.index == 0


def test_to_dict_is_json_safe_with_infinite_alpha():
    data = pick(alpha=math.inf).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["aggregation"]["alpha"] == "inf"
    assert data["index"] == 1 and len(data["scores"]) == 3


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"round_text": RoundText(**ROUND, previous_winner="A.", critiques=["b", "c", "d"])},
            "opinion iteration",
        ),
        ({"include": []}, "include is empty"),
        ({"include": [3]}, "3 members"),
        ({"aggregation": "borda"}, "aggregation"),
        ({"alpha": -1.0}, "alpha"),
    ],
)
def test_bad_inputs_are_refused_before_the_reward_model_is_called(overrides, message):
    reward = FakeRewardModel(matrix=MATRIX)
    with pytest.raises(ValueError, match=message):
        pick(reward_model=reward, **overrides)
    assert reward.calls == []


def test_an_unchecked_round_is_refused_before_the_reward_model_is_called():
    reward = FakeRewardModel(matrix=MATRIX)
    with pytest.raises(TypeError, match="RoundText"):
        pick(ROUND, reward_model=reward)
    assert reward.calls == []


@pytest.mark.parametrize(
    "matrix", [[[7.0, 5.0]] * 3, [[7.0, 5.0, 8.0]] * 3], ids=["wrong shape", "off the scale"]
)
def test_a_reward_model_answering_garbage_is_bad_model_output(matrix):
    with pytest.raises(BadModelOutput):
        pick(reward_model=FakeRewardModel(matrix=matrix))


def test_a_reward_model_that_is_down_propagates():
    with pytest.raises(BackendUnavailable):
        pick(reward_model=FakeRewardModel(fail="unavailable"))


ITERATION = MediationConfig(
    generator=BackendConfig("fake"),
    reward=BackendConfig("fake"),
    n_candidates=16,
    aggregation="schulze",
    alpha=2.0,
    seed=41,
)


def test_the_default_baseline_is_the_same_generator_without_reranking_and_its_own_seed():
    config = baseline_config(ITERATION, {})
    assert config.n_candidates == 1
    assert config.generator == ITERATION.generator and config.reward == ITERATION.reward
    assert (config.aggregation, config.alpha) == ("schulze", 2.0)
    assert config.seed == comparison_seed(41, "baseline") != 41


def test_baseline_overrides_go_on_top_and_an_explicit_seed_is_kept():
    config = baseline_config(
        ITERATION,
        {"generator": {"model": "prompted-llm"}, "n_candidates": 4, "seed": 5},
    )
    assert config.generator == BackendConfig("fake", model="prompted-llm")
    assert (config.n_candidates, config.seed) == (4, 5)


@pytest.mark.parametrize(
    "overrides",
    [{"n_candidates": 0}, {"generator": {"backend": "nope"}}, {"temperature": 1}],
    ids=["N = 0", "unknown backend", "unknown key"],
)
def test_baseline_overrides_that_are_not_a_config_are_refused(overrides):
    with pytest.raises(ConfigError):
        baseline_config(ITERATION, overrides)


def test_comparison_seeds_are_stable_31_bit_and_differ_by_name():
    assert comparison_seed(41, "baseline") == comparison_seed(41, "baseline")
    seeds = {comparison_seed(s, n) for s in range(50) for n in ("baseline", "other")}
    assert len(seeds) == 100
    assert all(0 <= s < 2**31 for s in seeds)


@pytest.mark.parametrize("aggregation", ["welfare", "schulze"])
def test_n_equal_one_means_the_single_sample_wins(aggregation):
    generator = FakeGenerator()
    result = mediate(
        ROUND_TEXT,
        generator=generator,
        reward_model=FakeRewardModel(),
        n_candidates=1,
        aggregation=aggregation,
        seed=3,
    )
    assert generator.calls[0]["n"] == 1
    assert len(result.candidates) == 1 and result.winner == 0
    assert result.predictions.shape == (3, 1)
    assert result.scores.shape == (1,)
    assert list(result.aggregation["untied"]) == [0]
    assert json.loads(json.dumps(result.to_dict()))["winner"] == 0
