"""mediate() with the fake backends: shapes, the exclusion condition, Schulze, errors."""

import dataclasses
import json
import math

import numpy as np
import pytest

from inference.base import BackendUnavailable, BadModelOutput, Candidate, RoundText
from inference.config import BackendConfig, MediationConfig, build_generator, build_reward_model
from inference.generators.fake import FakeGenerator
from inference.mediation import MediationResult, mediate, mediate_with_config
from inference.reward_models.fake import FakeRewardModel

QUESTION = "Should the voting age be lowered to 16?"
OPINIONS = [
    "Sixteen year olds pay taxes and work. They should have a say in how that money is spent.",
    "Teenagers are not mature enough to vote. Their views are shaped by parents and teachers.",
    "Lowering the age could raise turnout for life. Habits formed early tend to stick.",
    "Civic education should come first. Without it young voters are easy to manipulate.",
    "I am unsure. Some sixteen year olds are thoughtful and some adults are not.",
]
CRITIQUES = [
    "It ignores the point about taxes.",
    "It should say more about maturity.",
    "Good, but mention turnout.",
    "Add civic education.",
    "Fine as it is.",
]


ROUND_FIELDS = {field.name for field in dataclasses.fields(RoundText)}


def run(**overrides):
    """`mediate` of the test round; overrides of `RoundText` fields change the round."""
    text = {"question": QUESTION, "opinions": OPINIONS}
    text.update({k: v for k, v in overrides.items() if k in ROUND_FIELDS})
    kwargs = {
        "generator": FakeGenerator(),
        "reward_model": FakeRewardModel(),
        "n_candidates": 6,
    }
    kwargs.update({k: v for k, v in overrides.items() if k not in ROUND_FIELDS})
    return mediate(RoundText(**text), **kwargs)


def test_result_has_every_candidate_prediction_and_score():
    result = run()
    assert isinstance(result, MediationResult)
    assert len(result.candidates) == 6
    assert result.predictions.shape == (5, 6)
    assert result.scores.shape == (6,)
    assert result.winner == int(np.argmax(result.scores))
    assert result.included == [0, 1, 2, 3, 4]
    assert result.aggregation["method"] == "welfare"
    assert result.aggregation["alpha"] == 1.0
    assert set(result.timings) == {"generate_s", "predict_s", "aggregate_s", "total_s"}
    assert result.generator["backend"] == "fake" and result.generator["role"] == "generator"
    assert result.reward_model["backend"] == "fake" and result.reward_model["role"] == "reward"
    for i, candidate in enumerate(result.candidates):
        assert candidate.provenance["sample_index"] == i
        assert sorted(candidate.provenance["opinion_order"]) == list(range(5))


def test_welfare_scores_are_the_ede_of_the_predictions():
    matrix = [[7.0, 5.0], [7.0, 5.0], [1.0, 4.0]]  # METHOD.md §2's worked example
    expected = {0.0: [5.0, 4.667], 1.0: [3.659, 4.642], math.inf: [1.0, 4.0]}
    for alpha, winner in ((0.0, 0), (1.0, 1), (math.inf, 1)):
        result = run(
            opinions=OPINIONS[:3],
            reward_model=FakeRewardModel(matrix=matrix),
            n_candidates=2,
            alpha=alpha,
        )
        assert result.scores.tolist() == pytest.approx(expected[alpha], abs=1e-3)
        assert result.winner == winner
        assert result.aggregation["untied"][winner] == 0


def test_exclusion_generator_sees_only_included_members():
    generator = FakeGenerator()
    reward_model = FakeRewardModel()
    result = run(generator=generator, reward_model=reward_model, include=[3, 1])
    (call,) = generator.calls
    assert call["round_text"].opinions == (OPINIONS[1], OPINIONS[3])
    (predicted,) = reward_model.calls
    assert predicted["round_text"].opinions == tuple(OPINIONS)
    assert result.included == [1, 3]
    assert result.predictions.shape == (5, 6)


def test_exclusion_winner_is_decided_by_included_rows_only():
    # Members 0 and 1 love candidate 0; members 2-4 love candidate 1.
    matrix = [[7, 1], [7, 1], [1, 7], [1, 7], [1, 7]]
    for aggregation in ("welfare", "schulze"):
        common = {
            "reward_model": FakeRewardModel(matrix=matrix),
            "n_candidates": 2,
            "aggregation": aggregation,
        }
        assert run(**common).winner == 1
        excluded = run(**common, include=[0, 1])
        assert excluded.winner == 0
        assert excluded.predictions.tolist() == np.array(matrix, dtype=float).tolist()


def test_critiques_are_passed_for_included_members_only():
    generator = FakeGenerator()
    reward_model = FakeRewardModel()
    run(
        generator=generator,
        reward_model=reward_model,
        previous_winner="Young people deserve a voice.",
        critiques=CRITIQUES,
        position_ratings=[1, 2, 3, 4, 5],
        include=[0, 4],
    )
    seen = generator.calls[0]["round_text"]
    assert seen.critiques == (CRITIQUES[0], CRITIQUES[4])
    assert seen.position_ratings == (1.0, 5.0)
    assert seen.previous_winner == "Young people deserve a voice."
    assert reward_model.calls[0]["round_text"].critiques == tuple(CRITIQUES)


def test_single_candidate_wins_without_reranking_but_is_still_predicted():
    reward_model = FakeRewardModel()
    result = run(reward_model=reward_model, n_candidates=1)
    assert result.winner == 0
    assert result.predictions.shape == (5, 1)
    assert len(reward_model.calls) == 1
    schulze_result = run(n_candidates=1, aggregation="schulze")
    assert schulze_result.winner == 0 and schulze_result.scores.tolist() == [1.0]


def test_schulze_scores_put_the_winner_first_and_keep_both_rankings():
    result = run(aggregation="schulze", n_candidates=8, seed=4)
    untied = np.asarray(result.aggregation["untied"])
    assert sorted(untied.tolist()) == list(range(8))
    assert result.scores.tolist() == (8 - untied).astype(float).tolist()
    assert result.winner == int(np.argmax(result.scores)) == int(np.argmin(untied))
    assert result.aggregation["alpha"] is None
    assert result.aggregation["seed"] == 4
    assert len(result.aggregation["tied"]) == 8


def test_same_seed_same_result():
    first = run(aggregation="schulze", seed=9).to_dict()
    second = run(aggregation="schulze", seed=9).to_dict()
    first.pop("timings"), second.pop("timings")
    assert first == second


def test_to_dict_is_json_safe_with_infinite_alpha():
    data = run(alpha=math.inf).to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["aggregation"]["alpha"] == "inf"
    assert isinstance(data["predictions"][0][0], float)
    assert isinstance(data["winner"], int)
    assert data["candidates"][0]["provenance"]["backend"] == "fake"


@pytest.mark.parametrize("include", [[], [5], [-1], [0, 0], [True], ["0"]])
def test_bad_include_raises_before_any_backend_is_called(include):
    generator = FakeGenerator()
    with pytest.raises(ValueError):
        run(generator=generator, include=include)
    assert generator.calls == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"n_candidates": 0},
        {"n_candidates": True},
        {"aggregation": "borda"},
        {"alpha": -1.0},
        {"alpha": math.nan},
        {"seed": "1"},
    ],
)
def test_bad_settings_raise_value_error(overrides):
    generator = FakeGenerator()
    with pytest.raises(ValueError):
        run(generator=generator, **overrides)
    assert generator.calls == []


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ({"question": "  "}, "the question is empty"),
        ({"opinions": []}, "there are no opinions"),
        ({"opinions": ["fine", ""]}, "opinion 1 is empty"),
        ({"opinions": ["fine", 3]}, "opinion 1 is int, not a string"),
        ({"previous_winner": "A draft.", "critiques": CRITIQUES[:3]}, "3 critiques for 5"),
        ({"critiques": CRITIQUES}, "without the previous winner"),
        ({"position_ratings": [4, 4]}, "2 position ratings for 5 members"),
        ({"position_ratings": [4, 4, 4, 4, 8]}, "outside 1-7"),
    ],
)
def test_an_unusable_round_is_refused_once_at_the_entry(text, error):
    """The round is checked where it is made (`RoundText`); `mediate` takes nothing else, and
    the backends get the very object it was given, so nothing checks or rebuilds it again."""
    with pytest.raises(ValueError, match=error):
        RoundText(**{"question": QUESTION, "opinions": OPINIONS, **text})

    generator, reward_model = FakeGenerator(), FakeRewardModel()
    loose = {"question": QUESTION, "opinions": OPINIONS, **text}
    with pytest.raises(TypeError, match="must be a RoundText"):
        mediate(loose, generator=generator, reward_model=reward_model)
    with pytest.raises(TypeError):
        mediate(generator=generator, reward_model=reward_model, **loose)
    assert generator.calls == [] and reward_model.calls == []

    round_text = RoundText(question=QUESTION, opinions=OPINIONS)
    mediate(round_text, generator=generator, reward_model=reward_model, n_candidates=2)
    assert generator.calls[0]["round_text"] is round_text
    assert reward_model.calls[0]["round_text"] is round_text


@pytest.mark.parametrize(
    ("role", "error"),
    [
        ("generator", BackendUnavailable),
        ("generator", BadModelOutput),
        ("reward_model", BackendUnavailable),
        ("reward_model", BadModelOutput),
    ],
)
def test_backend_errors_propagate_unchanged(role, error):
    raised = error("the model server went away")
    backend = FakeGenerator(fail=raised) if role == "generator" else FakeRewardModel(fail=raised)
    with pytest.raises(error) as caught:
        run(**{role: backend})
    assert caught.value is raised


def test_wrongly_shaped_predictions_are_bad_model_output():
    with pytest.raises(BadModelOutput):
        run(reward_model=FakeRewardModel(matrix=[[4.0] * 6] * 4))
    with pytest.raises(BadModelOutput):
        run(reward_model=FakeRewardModel(matrix=[[9.0] * 6] * 5))


def test_wrong_number_of_candidates_is_bad_model_output():
    class ShortGenerator(FakeGenerator):
        def generate(self, round_text, *, n, seed):
            return super().generate(round_text, n=n, seed=seed)[:-1]

    with pytest.raises(BadModelOutput):
        run(generator=ShortGenerator())


def test_mediate_with_config_uses_the_config():
    config = MediationConfig.from_dict(
        {
            "generator": "fake",
            "reward": "fake",
            "n_candidates": 3,
            "aggregation": "schulze",
            "seed": 5,
        }
    )
    result = mediate_with_config(
        RoundText(question=QUESTION, opinions=OPINIONS),
        config=config,
        generator=build_generator(config.generator),
        reward_model=build_reward_model(config.reward),
        include=[0, 2, 4],
    )
    assert len(result.candidates) == 3
    assert result.aggregation["method"] == "schulze"
    assert result.aggregation["seed"] == 5
    assert result.included == [0, 2, 4]
    with pytest.raises(TypeError):
        mediate_with_config(
            RoundText(question=QUESTION, opinions=OPINIONS),
            config=config,
            generator=FakeGenerator(),
            reward_model=FakeRewardModel(),
            n_candidates=3,
        )


def test_fakes_are_built_from_config_and_can_be_told_to_fail():
    generator = build_generator(BackendConfig("fake", options={"fail": "unavailable"}))
    with pytest.raises(BackendUnavailable):
        run(generator=generator)
    reward_model = build_reward_model(BackendConfig("fake", options={"fail": "bad_output"}))
    with pytest.raises(BadModelOutput):
        run(reward_model=reward_model)
    assert generator.describe() == {
        "role": "generator",
        "backend": "fake",
        "model": "fake-generator",
        "revision": "fake",
    }


def test_fake_generator_is_deterministic_and_seeded():
    round_text = RoundText(question=QUESTION, opinions=OPINIONS)

    def texts(seed):
        return [c.text for c in FakeGenerator().generate(round_text, n=8, seed=seed)]

    assert texts(1) == texts(1)
    assert texts(1) != texts(2)
    candidate = FakeGenerator().generate(round_text, n=1, seed=0)[0]
    assert isinstance(candidate, Candidate)
    for key in ("backend", "model", "template_version", "seed", "sample_index", "opinion_order"):
        assert key in candidate.provenance


def test_numpy_scalars_are_accepted_as_settings():
    result = run(n_candidates=np.int64(3), seed=np.int64(2), alpha=np.float64(0.5))
    assert len(result.candidates) == 3
    assert type(result.aggregation["seed"]) is int
    assert type(result.aggregation["alpha"]) is float
