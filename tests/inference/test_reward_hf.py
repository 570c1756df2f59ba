"""The in-process transformers reward backend, on a tiny random-weight BERT built in the test and
loaded back through the real `from_pretrained` path; plus the shared reward-input template."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inference.base import ConfigError, RewardModel, RoundText
from inference.config import BackendConfig, build_reward_model
from inference.reward_models import formatting
from inference.reward_models.hf import (
    METADATA_FILE,
    TransformersRewardModel,
    save_reward_model_metadata,
)

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

QUESTION = "Should cities ban cars from their centres?"
OPINIONS = ["Yes, cars make the centre loud and dangerous.", "No, shops need customers by car."]
CANDIDATES = [
    "Ban cars from the centre but keep delivery access.",
    "Keep cars in the centre.",
    "Ban them.",
]
ROUND = RoundText(question=QUESTION, opinions=OPINIONS)
WORDS = sorted(
    {
        w.strip(".,?:'").lower()
        for text in [QUESTION, *OPINIONS, *CANDIDATES, "question participant's opinion candidate"]
        + ["statement previous critique too vague"]
        for w in text.replace("'", " ").split()
    }
)


def write_tiny_model(directory, *, bias: float = 0.0, num_labels: int = 1) -> None:
    """A 2-layer, 32-wide BERT with a one-output head and a word-piece tokenizer of our words."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=num_labels,
    )
    model = BertForSequenceClassification(config)
    with torch.no_grad():
        model.classifier.bias.fill_(bias)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)


@pytest.fixture(scope="module")
def likert_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("likert-model")
    write_tiny_model(directory, bias=4.0)
    save_reward_model_metadata(
        directory,
        output="likert",
        trained_on={"rows": 0, "note": "random weights, for tests"},
        model_name="tiny-bert",
        revision="test-1",
    )
    return directory


def predict(model, candidates=CANDIDATES, **round_fields):
    round_text = RoundText(**{"question": QUESTION, "opinions": OPINIONS, **round_fields})
    return model.predict(round_text, candidates)


def test_a_saved_model_directory_loads_through_the_registry(likert_dir):
    model = build_reward_model(BackendConfig("transformers", model=str(likert_dir)))
    assert isinstance(model, RewardModel)
    described = model.describe()
    assert described["backend"] == "transformers"
    assert (described["model"], described["revision"]) == ("tiny-bert", "test-1")
    assert described["output"] == "likert"
    assert described["trained_on"]["rows"] == 0


def test_likert_output_is_the_models_raw_value_clipped(likert_dir):
    model = TransformersRewardModel(likert_dir, batch_size=4)
    predictions = predict(model)
    assert predictions.shape == (2, 3)
    raw = model.raw_outputs(formatting.round_inputs(ROUND, CANDIDATES))
    np.testing.assert_allclose(predictions.ravel(), np.clip(raw, 1, 7), rtol=1e-5)
    assert 1.0 <= predictions.min() and predictions.max() <= 7.0
    assert np.ptp(predictions) > 0


def test_batches_of_any_size_give_the_same_predictions(likert_dir):
    one_batch = predict(TransformersRewardModel(likert_dir, batch_size=64))
    small_batches = predict(TransformersRewardModel(likert_dir, batch_size=1))
    np.testing.assert_allclose(one_batch, small_batches, atol=1e-5)


def test_logit_output_maps_through_one_plus_six_sigmoid(tmp_path):
    write_tiny_model(tmp_path, bias=0.0)
    save_reward_model_metadata(tmp_path, output="logit")
    model = TransformersRewardModel(tmp_path)
    predictions = predict(model)
    raw = model.raw_outputs(formatting.round_inputs(ROUND, CANDIDATES))
    np.testing.assert_allclose(predictions.ravel(), 1 + 6 / (1 + np.exp(-raw)), rtol=1e-5)


def test_outputs_far_off_the_scale_are_clipped(tmp_path):
    write_tiny_model(tmp_path, bias=100.0)
    save_reward_model_metadata(tmp_path, output="likert")
    np.testing.assert_array_equal(predict(TransformersRewardModel(tmp_path)), np.full((2, 3), 7.0))


def test_pair_input_format_feeds_context_and_candidate_as_two_segments(tmp_path):
    write_tiny_model(tmp_path, bias=4.0)
    save_reward_model_metadata(tmp_path, output="likert", input_format="pair")
    model = TransformersRewardModel(tmp_path)
    predictions = predict(model, previous_winner="Ban them.", critiques=["Too vague.", "No."])
    firsts, seconds = formatting.round_pairs(
        RoundText(
            question=QUESTION,
            opinions=OPINIONS,
            previous_winner="Ban them.",
            critiques=["Too vague.", "No."],
        ),
        CANDIDATES,
    )
    from transformers import AutoTokenizer, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    bert = BertForSequenceClassification.from_pretrained(tmp_path).eval()

    def outputs(*segments) -> np.ndarray:
        encoded = tokenizer(*segments, padding=True, return_tensors="pt")
        with torch.no_grad():
            return bert(**encoded).logits[:, 0].numpy()

    pairs = tokenizer(firsts, seconds)
    for first, types in zip(firsts, pairs["token_type_ids"], strict=True):
        # [CLS] context [SEP] is segment 0; the candidate and its [SEP] are segment 1.
        assert types.count(0) == len(tokenizer(first)["input_ids"]) and types[-1] == 1
    two_segments = np.clip(outputs(firsts, seconds), 1, 7)
    joined = [f"{first} {second}" for first, second in zip(firsts, seconds, strict=True)]
    one_segment = np.clip(outputs(joined), 1, 7)
    # The tiny model's outputs lie close together: compare at a tolerance far below the gap
    # between feeding two segments and feeding the same words as one.
    np.testing.assert_allclose(predictions.ravel(), two_segments, rtol=0, atol=1e-6)
    assert np.abs(predictions.ravel() - one_segment).max() > 1e-5


def test_a_model_directory_without_metadata_is_a_clear_config_error(tmp_path):
    write_tiny_model(tmp_path)
    with pytest.raises(ConfigError, match=METADATA_FILE):
        build_reward_model(BackendConfig("transformers", model=str(tmp_path)))


@pytest.mark.parametrize(
    "metadata",
    [
        {"format_version": 2, "output": "likert", "input_template": "commonground-v1"},
        {"format_version": 1, "output": "stars", "input_template": "commonground-v1"},
        {"format_version": 1, "output": "likert", "input_template": "someone-elses-v9"},
        {"format_version": 1, "output": "likert", "input_template": "commonground-v1",
         "input_format": "triple"},
    ],
)  # fmt: skip
def test_metadata_that_cannot_be_honoured_is_a_config_error(tmp_path, metadata):
    write_tiny_model(tmp_path)
    (tmp_path / METADATA_FILE).write_text(json.dumps(metadata))
    with pytest.raises(ConfigError):
        TransformersRewardModel(tmp_path)


def test_a_model_with_several_outputs_is_refused(tmp_path):
    write_tiny_model(tmp_path, num_labels=3)
    save_reward_model_metadata(tmp_path, output="likert")
    with pytest.raises(ConfigError, match="exactly one"):
        TransformersRewardModel(tmp_path)


@pytest.mark.parametrize(
    "config",
    [
        BackendConfig("transformers"),
        BackendConfig("transformers", model="/nonexistent/reward/model"),
    ],
)
def test_a_missing_model_directory_is_a_config_error(config):
    with pytest.raises(ConfigError):
        build_reward_model(config)


def test_saving_metadata_checks_what_it_writes(tmp_path):
    with pytest.raises(ConfigError):
        save_reward_model_metadata(tmp_path, output="probability")
    path = save_reward_model_metadata(tmp_path, output="logit", trained_on={"rows": 12})
    saved = json.loads(path.read_text())
    assert saved["format_version"] == 1
    assert saved["input_template"] == formatting.TEMPLATE_VERSION
    assert saved["trained_on"] == {"rows": 12}


def test_the_reward_input_template_is_stable():
    assert formatting.format_reward_input(
        question="Q?", opinion="My\nview.", candidate="Cand.", previous_winner="Prev.", critique="C"
    ) == (
        "Question: Q?\n"
        "Participant's opinion: My view.\n"
        "Previous statement: Prev.\n"
        "Participant's critique: C\n"
        "Candidate statement: Cand."
    )
    assert formatting.round_pairs(RoundText(question="Q?", opinions=["O"]), ["C"]) == (
        ["Question: Q?\nParticipant's opinion: O"],
        ["Candidate statement: C"],
    )
    critiqued = RoundText(
        question="Q?", opinions=["My\nview."], previous_winner="Prev.", critiques=["C"]
    )
    assert formatting.round_inputs(critiqued, ["Cand."]) == [
        formatting.format_reward_input(
            question="Q?",
            opinion="My\nview.",
            candidate="Cand.",
            previous_winner="Prev.",
            critique="C",
        )
    ]
