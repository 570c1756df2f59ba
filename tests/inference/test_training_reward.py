"""Reward-model trainers on a hand-built tidy export whose ratings follow the words members share
with a statement: the embedding head beats the prior on held-out questions, the cross-encoder
trains, saves, reloads to identical predictions and improves on its untrained self, and both
model directories carry their metrics and provenance."""

import json

import numpy as np
import pytest

from inference.config import BackendConfig, build_reward_model
from inference.reward_models.hf import load_reward_model_metadata
from inference.training import cross_encoder
from inference.training.datasets import tables_digest
from inference.training.evaluate import heldout_metrics, predict_examples
from inference.training.reward import train_reward_model
from tests.inference.tidy_builder import TOPICS, build_tables

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def minilm():
    """One MiniLM for the module, through sentence-transformers (the bundled copy)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(cross_encoder.minilm_path()), device="cpu")

    def encode(texts):
        return model.encode(texts, convert_to_numpy=True, normalize_embeddings=True)

    return encode


def test_the_head_beats_the_prior_on_heldout_questions_and_reloads_identically(tmp_path, minilm):
    tables = build_tables(groups_per_question=2, members=4, candidates=4, seed=4)
    trained = train_reward_model(
        tables,
        kind="head",
        out=tmp_path / "head",
        export_digest=tables_digest(tables),
        population="bots",
        seed=0,
        serving=BackendConfig("fake"),
        encoder=minilm,
    )
    heldout = trained.metrics["heldout"]
    assert heldout["trained"]["mae"] < heldout["prior"]["mae"]
    assert heldout["trained"]["ratings"] == len(trained.dataset.heldout) > 0
    assert heldout["serving"]["ratings"] == heldout["trained"]["ratings"]
    assert heldout["trained"]["pairwise_accuracy"] is not None
    # The directory says what it was trained on, and by which split.
    provenance = json.loads((tmp_path / "head" / "provenance.json").read_text())
    assert provenance["export_digest"] == tables_digest(tables)
    assert set(provenance["questions"]["heldout"]) == {
        q for q, (_, split) in enumerate(TOPICS, start=1) if split != "train"
    }
    assert provenance["seed"] == 0 and "numpy" in provenance["libraries"]
    assert json.loads((tmp_path / "head" / "metrics.json").read_text())["heldout"] == heldout
    # Served from its config (the embedding backend with the saved head) it predicts the same.
    config = json.loads((tmp_path / "head" / "reward_config.json").read_text())
    from inference.reward_models.embedding import EmbeddingRewardModel, load_head

    reloaded = EmbeddingRewardModel(encoder=minilm, head=load_head(config["options"]["head_path"]))
    again, _ = predict_examples(reloaded, trained.dataset.heldout)
    np.testing.assert_array_equal(again, trained.heldout_predictions)
    assert heldout_metrics(trained.dataset.heldout, again)["mae"] == heldout["trained"]["mae"]


def test_the_cross_encoder_trains_saves_reloads_and_improves_on_its_untrained_self(tmp_path):
    tables = build_tables(questions=TOPICS[:6], members=4, candidates=4, seed=2)
    trained = train_reward_model(
        tables,
        kind="cross-encoder",
        out=tmp_path / "ce",
        export_digest=tables_digest(tables),
        population="bots",
        seed=0,
        epochs=2,
        cross_encoder_options={
            "max_length": 64,
            "batch_size": 16,
            "learning_rate": 5e-4,
            "pair_weight": 0.0,
        },  # fmt: skip
        progress=False,
    )
    directory = tmp_path / "ce"
    meta = load_reward_model_metadata(directory)
    assert meta["output"] == "logit" and meta["input_template"] == "commonground-v1"
    assert meta["revision"] == cross_encoder.weights_digest(directory)
    # The transformers backend reads the directory and its map to 1-7.
    served = build_reward_model(BackendConfig.from_dict(trained.config))
    assert served.describe()["revision"] == meta["revision"]
    heldout = trained.dataset.heldout
    a, _ = predict_examples(served, heldout)
    b, _ = predict_examples(build_reward_model(BackendConfig.from_dict(trained.config)), heldout)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert heldout_metrics(heldout, a)["mae"] == trained.metrics["heldout"]["trained"]["mae"]
    # Against its own starting point (same seed: the same head, bias at the training mean),
    # training lowered the squared error on what it was trained on.
    train = trained.dataset.train
    texts = cross_encoder.example_texts(train)
    target = (train["agreement"].to_numpy(dtype=float) - 1) / 6
    tokenizer, untrained = cross_encoder.load_base(None, seed=0)
    cross_encoder.start_at_mean(untrained, float(train["agreement"].mean()))
    before = cross_encoder.raw_scores(tokenizer, untrained, texts, max_length=64)
    after = served.raw_outputs(texts)

    def mse(x):
        return float(np.mean((1 / (1 + np.exp(-x)) - target) ** 2))

    assert mse(after) < mse(before)
