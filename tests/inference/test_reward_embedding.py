"""The embedded reward model on the real all-MiniLM-L6-v2 weights (loaded once per module)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inference.base import ConfigError, RewardModel, RoundText
from inference.config import BackendConfig, build_reward_model
from inference.reward_models import embedding
from inference.reward_models.embedding import (
    FEATURES,
    EmbeddingRewardModel,
    RatingExample,
    prior_agreement,
)

pytestmark = pytest.mark.slow

AI_QUESTION_ID = "P0001"  # "Should the government help fund research into artificial intelligence?"

PRO = (
    "I believe public money should go into AI research, because it will create jobs, cure "
    "diseases and keep our country competitive. Leaving it to companies alone is too slow."
)
CON = (
    "Taxes should not pay for artificial intelligence. The state should regulate AI and "
    "protect privacy, and spend its budget on schools and hospitals instead of tech firms."
)
PRO_RESTATED = (
    "Public money should go into AI research: it will create jobs, cure diseases and keep the "
    "country competitive, because companies alone are too slow."
)
CON_RESTATED = (
    "Taxes should not fund artificial intelligence; the state should regulate AI, protect "
    "privacy and spend the budget on schools and hospitals rather than tech firms."
)


def predict(model, candidates, **round_fields):
    return model.predict(RoundText(**round_fields), candidates)


@pytest.fixture(scope="module")
def model() -> EmbeddingRewardModel:
    return EmbeddingRewardModel()


@pytest.fixture(scope="module")
def ai_question(sample_questions) -> str:
    return next(q["question"] for q in sample_questions if q["id"] == AI_QUESTION_ID)


def test_built_from_the_registry_and_described(tmp_path):
    built = build_reward_model(BackendConfig("embedding", options={"head_path": str(tmp_path)}))
    assert isinstance(built, RewardModel)
    described = built.describe()
    assert described["role"] == "reward"
    assert described["backend"] == "embedding"
    assert described["model"] == "all-MiniLM-L6-v2"
    assert described["revision"] == "0.1.0+head:prior"


def test_each_opinion_agrees_more_with_its_restatement_than_with_the_other_side(model, ai_question):
    predictions = predict(
        model,
        question=ai_question,
        opinions=[PRO, CON],
        candidates=[PRO_RESTATED, CON_RESTATED],
    )
    assert predictions[0, 0] > predictions[0, 1]
    assert predictions[1, 1] > predictions[1, 0]


def test_prior_predictions_lie_on_the_likert_scale(model, sample_questions):
    rows = sample_questions[:20]
    predictions = predict(
        model,
        question=rows[0]["question"],
        opinions=[r["affirming_statement"] for r in rows[:5]],
        candidates=[r["negating_statement"] for r in rows[:16]]
        + ["Completely unrelated: the recipe needs two eggs and some flour."],
    )
    assert predictions.shape == (5, 17)
    assert predictions.min() >= 1.0 and predictions.max() <= 7.0


def test_prior_follows_its_documented_formula():
    features = np.zeros((7, len(FEATURES)))
    features[:, FEATURES.index("sim_own")] = [0.5, 0.8, 0.0, 1.0, 0.5, 0.6, 0.6]
    features[4, FEATURES.index("critique_gain")] = 0.25
    features[5, FEATURES.index("stance_match")] = -1.0
    features[6, FEATURES.index("stance_match")] = 0.4
    features[6, FEATURES.index("stance_both")] = 1.0
    assert prior_agreement(features).tolist() == pytest.approx([4.0, 5.8, 1.0, 7.0, 5.0, 2.1, 6.35])


SHOULD_BUILD = "The UK should build more nuclear power stations."
SHOULD_NOT_BUILD = "The UK should NOT build more nuclear power stations."


@pytest.mark.parametrize(
    "against",
    [
        "The UK should not build more nuclear power stations; they cost too much and take decades.",
        "I'm against building more nuclear plants. The waste stays dangerous for centuries.",
        "We shouldn't build more nuclear power stations, wind and solar are cheaper now.",
        "Nuclear power stations should no longer be built here. Old ones can run out their time.",
    ],
)
def test_a_member_is_predicted_to_agree_less_with_the_opposite_side(model, against):
    """The issue's case: a member who wrote "should build" was predicted 6.1 for a winner that
    opens "should not build". Negation in several forms, on either side."""
    question = "Should the UK build more nuclear power stations?"
    member_for = (
        "The UK should build more nuclear power stations. They give steady low-carbon power "
        "when the wind drops."
    )
    opposite = "We think the UK should not build more nuclear power stations."
    own = "We think the UK should build more nuclear power stations."
    both = (
        "Most of us think the UK should build more nuclear power stations, while one of us "
        "disagrees. We agree that bills must come down."
    )
    predictions = predict(
        model,
        question=question,
        opinions=[member_for, against],
        candidates=[own, both, opposite],
        affirming_statement=SHOULD_BUILD,
        negating_statement=SHOULD_NOT_BUILD,
    )
    assert predictions[0, 0] > predictions[0, 1] > predictions[0, 2]
    assert predictions[1, 2] > predictions[1, 1] > predictions[1, 0]
    assert predictions[0, 0] - predictions[0, 2] >= 2.0
    assert predictions.max() - predictions.min() >= 3.0  # the scale is used


def test_a_position_rating_before_the_round_decides_an_unclear_opinion(model):
    question = "Should the UK build more nuclear power stations?"
    unclear = "Energy is complicated and I have read a lot about it this year."
    inputs = {
        "question": question,
        "opinions": [unclear],
        "candidates": [SHOULD_BUILD, SHOULD_NOT_BUILD],
        "affirming_statement": SHOULD_BUILD,
        "negating_statement": SHOULD_NOT_BUILD,
    }
    rated_for = predict(model, **inputs, position_ratings=[7])
    rated_against = predict(model, **inputs, position_ratings=[1])
    assert rated_for[0, 0] > rated_for[0, 1] + 1.5
    assert rated_against[0, 1] > rated_against[0, 0] + 1.5
    with pytest.raises(ValueError, match="position ratings"):
        predict(model, **inputs, position_ratings=[7, 1])


def _synthetic_ratings(questions: list[dict], others: list[dict]) -> list[RatingExample]:
    """Members who hold one side of a question; candidates of either side, or off topic."""
    examples = []
    for k, q in enumerate(questions):
        off_topic = others[k % len(others)]["affirming_statement"]
        for side, opinion in (
            ("for", q["affirming_statement"]),
            ("against", q["negating_statement"]),
        ):
            opinion = f"My view: {opinion} I have thought about it for a while."
            for candidate, agreement in (
                (q["affirming_statement"], 6.0 if side == "for" else 2.0),
                (q["negating_statement"], 2.0 if side == "for" else 6.0),
                (off_topic, 3.0),
            ):
                examples.append(
                    RatingExample(
                        question=q["question"],
                        opinion=opinion,
                        candidate=candidate,
                        agreement=agreement,
                        affirming_statement=q["affirming_statement"],
                        negating_statement=q["negating_statement"],
                    )
                )
    return examples


def test_fitting_on_ratings_beats_the_prior_on_held_out_questions(sample_questions):
    train = [q for q in sample_questions if q["split"] == "train"][:60]
    held_out = [q for q in sample_questions if q["split"] == "iid_test"][:20]
    model = EmbeddingRewardModel()
    test_examples = _synthetic_ratings(held_out, train)
    truth = np.array([e.agreement for e in test_examples])
    prior_error = np.abs(model.head.predict(model.example_features(test_examples)) - truth).mean()

    model.fit(_synthetic_ratings(train, held_out))

    fitted_error = np.abs(model.head.predict(model.example_features(test_examples)) - truth).mean()
    assert model.describe()["revision"].endswith("+head:fitted-360")
    assert fitted_error < 0.8 * prior_error
    # The stance features vary in these ratings and the head keeps them.
    features = model.example_features(test_examples)
    assert np.ptp(features[:, FEATURES.index("stance_match")]) > 1.0
    assert model.head.weights[FEATURES.index("stance_match")] != 0


def test_a_saved_head_loads_back_to_identical_predictions(tmp_path, sample_questions, ai_question):
    fitted = EmbeddingRewardModel().fit(
        _synthetic_ratings(sample_questions[:10], sample_questions[10:20])
    )
    path = fitted.save(tmp_path / "heads" / "head.json")
    saved = json.loads(path.read_text())
    assert saved["features"] == list(FEATURES)
    assert saved["format_version"] == 2
    assert saved["trained_on"] == 60

    loaded = build_reward_model(BackendConfig("embedding", options={"head_path": str(path)}))
    round_inputs = {
        "question": ai_question,
        "opinions": [PRO, CON],
        "candidates": [PRO_RESTATED, CON_RESTATED, "We should think about it."],
    }
    np.testing.assert_array_equal(predict(fitted, **round_inputs), predict(loaded, **round_inputs))
    assert loaded.describe()["revision"] == "0.1.0+head:fitted-60"


def test_a_candidate_that_answers_the_critique_gains_in_the_critique_iteration(model, ai_question):
    previous = "The government should fund research into artificial intelligence."
    critique = "It says nothing about safety rules or about protecting workers who lose their jobs."
    answers = (
        "The government should fund research into artificial intelligence, with strict safety "
        "rules and protection for workers who lose their jobs."
    )
    ignores = "The government should fund research into artificial intelligence generously."
    opinions = [PRO, CON]
    plain = predict(model, question=ai_question, opinions=opinions, candidates=[answers, ignores])
    revised = predict(
        model,
        question=ai_question,
        opinions=opinions,
        candidates=[answers, ignores],
        previous_winner=previous,
        critiques=[critique, "Fine as it is."],
    )
    assert not np.allclose(plain, revised)
    assert revised[0, 0] - revised[0, 1] > plain[0, 0] - plain[0, 1]


@pytest.mark.parametrize(
    "examples",
    [
        [],
        [{"question": "Q?", "opinion": "yes", "candidate": "we agree", "agreement": 9}],
        [{"question": "Q?", "opinion": "yes", "candidate": "", "agreement": 4}],
        [{"question": "Q?", "opinion": "yes", "candidate": "c", "agreement": "much"}],
        [{"question": "Q?", "opinion": "yes", "candidate": "c", "agreement": 4, "critique": "no"}],
        [{"question": "Q?", "opinion": "yes", "agreement": 4}],
        [
            {
                "question": "Q?",
                "opinion": "y",
                "candidate": "c",
                "agreement": 4,
                "position_rating": 0,
            }
        ],
    ],
)
def test_unusable_ratings_are_refused(model, examples):
    with pytest.raises(ValueError):
        model.fit(examples)


def test_a_damaged_head_file_is_a_config_error(tmp_path):
    path = tmp_path / "head.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError):
        embedding.load_head(path)
    path.write_text(json.dumps({"format_version": 2, "features": ["sim_own"]}))
    with pytest.raises(ConfigError, match="other features"):
        embedding.load_head(path)


@pytest.mark.parametrize(
    "config",
    [
        BackendConfig("embedding", model="/nonexistent/model/dir"),
        BackendConfig("embedding", options={"colour": "blue"}),
        BackendConfig("embedding", options={"dtype": "float8"}),
    ],
)
def test_bad_embedding_configs_are_config_errors(config):
    with pytest.raises(ConfigError):
        build_reward_model(config)
