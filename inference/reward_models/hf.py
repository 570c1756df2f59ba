"""In-process reward model: a Hugging Face sequence-classification model with one output.

The model directory is what `save_pretrained` writes (config, weights, tokenizer) plus
`commonground_reward.json`, which says how to read the model; without it the backend refuses
the directory, because the same number means different things for different trainers:

    {
      "format_version": 1,
      "output": "likert" | "logit",         # how the single output becomes agreement (below)
      "input_template": "commonground-v1",  # see inference.reward_models.formatting
      "input_format": "text" | "pair",      # one text per pair, or (context, candidate)
      "trained_on": {...} | null,           # free-form: dataset, rows, questions, date
      "model_name": "...", "revision": "..."  # optional, for the record
    }

Output rules (`formatting.OUTPUT_RULES`): `likert`, the model regresses agreement itself,
`u = clip(x, 1, 7)`; `logit`, `u = 1 + 6 sigmoid(x)`. A trainer writes the file with
`save_reward_model_metadata`. The same directory can be served by vLLM
(`vllm serve DIR --runner pooling`) and read with the `vllm` backend and the same `output` rule.

torch and transformers are imported when the model is built, never at import time. Nothing is
downloaded: `config.model` must be a local directory.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inference.base import ConfigError, RoundText, check_predictions
from inference.config import BackendConfig
from inference.reward_models import formatting

logger = logging.getLogger(__name__)

METADATA_FILE = "commonground_reward.json"
METADATA_FORMAT_VERSION = 1
HF_OUTPUT_RULES = ("likert", "logit")
INPUT_FORMATS = ("text", "pair")
_OWN_OPTIONS = {"device", "batch_size", "max_length"}
# Options meant for other backends that a shared config may still carry.
_IGNORED_OPTIONS = {"timeout", "retries", "api_key", "temperature", "max_tokens", "head_path"}


def save_reward_model_metadata(
    directory: str | os.PathLike[str],
    *,
    output: str,
    input_template: str = formatting.TEMPLATE_VERSION,
    input_format: str = "text",
    trained_on: Mapping[str, Any] | None = None,
    model_name: str | None = None,
    revision: str | None = None,
) -> Path:
    """Write `commonground_reward.json` into a model directory; returns its path."""
    metadata = {
        "format_version": METADATA_FORMAT_VERSION,
        "output": output,
        "input_template": input_template,
        "input_format": input_format,
        "trained_on": dict(trained_on) if trained_on is not None else None,
        "model_name": model_name,
        "revision": revision,
    }
    _check_metadata(metadata, where="the metadata to save")
    path = Path(directory) / METADATA_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return path


def load_reward_model_metadata(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check `commonground_reward.json`; `ConfigError` when missing or unusable."""
    path = Path(directory) / METADATA_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{str(directory)!r} has no {METADATA_FILE}: the reward backend cannot tell how to "
            "read this model's output; write it with save_reward_model_metadata()"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a JSON object")
    data.setdefault("input_format", "text")
    _check_metadata(data, where=str(path))
    return data


def _check_metadata(data: Mapping[str, Any], *, where: str) -> None:
    if data.get("format_version") != METADATA_FORMAT_VERSION:
        raise ConfigError(f"{where}: format_version must be {METADATA_FORMAT_VERSION}")
    if data.get("output") not in HF_OUTPUT_RULES:
        raise ConfigError(f"{where}: output must be one of {', '.join(HF_OUTPUT_RULES)}")
    if data.get("input_template") not in formatting.TEMPLATES:
        raise ConfigError(
            f"{where}: unknown input_template {data.get('input_template')!r}; "
            f"this version knows {', '.join(formatting.TEMPLATES)}"
        )
    if data.get("input_format") not in INPUT_FORMATS:
        raise ConfigError(f"{where}: input_format must be one of {', '.join(INPUT_FORMATS)}")


class TransformersRewardModel:
    """Predicted agreement from a local sequence-classification model (see the module doc)."""

    def __init__(
        self,
        model_dir: str | os.PathLike[str],
        *,
        device: str = "cpu",
        batch_size: int = 32,
        max_length: int = 512,
    ):
        directory = Path(model_dir)
        if not directory.is_dir():
            raise ConfigError(f"reward model directory {str(directory)!r} does not exist")
        self.metadata = load_reward_model_metadata(directory)
        self.directory = directory
        self.device = device
        self.batch_size = int(batch_size)
        self.max_length = int(max_length)
        if self.batch_size < 1 or self.max_length < 8:
            raise ConfigError("batch_size must be >= 1 and max_length >= 8")
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as exc:
            raise ConfigError(
                "the transformers reward backend needs the 'ml' extra (torch, transformers)"
            ) from exc
        self._torch = torch
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
            self.model = AutoModelForSequenceClassification.from_pretrained(
                directory, local_files_only=True
            )
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load a reward model from {directory}: {exc}") from exc
        if self.model.config.num_labels != 1:
            raise ConfigError(
                f"the reward model has {self.model.config.num_labels} outputs; it needs exactly "
                "one (num_labels=1)"
            )
        self.model.to(device)
        self.model.eval()

    @property
    def output(self) -> str:
        return self.metadata["output"]

    def predict(self, round_text: RoundText, candidates: Sequence[str]) -> np.ndarray:
        members = len(round_text.opinions)
        texts, second_texts = formatting.round_texts(
            round_text, candidates, pairs=self.metadata["input_format"] == "pair"
        )
        raw = self.raw_outputs(texts, second_texts)
        matrix = formatting.to_likert(raw, self.output).reshape(members, len(candidates))
        return check_predictions(matrix, members=members, candidates=len(candidates))

    def raw_outputs(
        self, texts: Sequence[str], second_texts: Sequence[str] | None = None
    ) -> np.ndarray:
        """The model's single output for each text (or each `(texts[i], second_texts[i])`)."""
        torch = self._torch
        values: list[np.ndarray] = []
        for start in range(0, len(texts), self.batch_size):
            stop = start + self.batch_size
            args = [list(texts[start:stop])]
            if second_texts is not None:
                args.append(list(second_texts[start:stop]))
            encoded = self.tokenizer(
                *args,
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            with torch.inference_mode():
                logits = self.model(**encoded).logits
            values.append(logits[:, 0].float().cpu().numpy())
        return np.concatenate(values)

    def describe(self) -> dict[str, Any]:
        return {
            "role": "reward",
            "backend": "transformers",
            "model": self.metadata.get("model_name") or self.directory.name,
            "revision": self.metadata.get("revision") or "unversioned",
            "output": self.output,
            "input_template": self.metadata["input_template"],
            "trained_on": self.metadata.get("trained_on"),
        }


def from_config(config: BackendConfig) -> TransformersRewardModel:
    """`config.model` is the local model directory. Options: `device` ("cpu"), `batch_size`
    (32), `max_length` (512 tokens)."""
    if not config.model:
        raise ConfigError("the transformers reward backend needs model: a local model directory")
    options = config.checked_options(
        "transformers reward", reads=_OWN_OPTIONS, ignores=_IGNORED_OPTIONS
    )
    return TransformersRewardModel(
        config.model,
        device=str(options.get("device") or "cpu"),
        batch_size=int(options.get("batch_size") or 32),
        max_length=int(options.get("max_length") or 512),
    )
