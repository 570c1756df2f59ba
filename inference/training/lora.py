"""A LoRA recipe for the generator: peft adapters trained with TRL's `SFTTrainer` on the chat
examples `manage.py export_sft` writes, saved as an adapter vLLM serves with `--enable-lora`.

    python -m inference.training.lora --base MODEL_DIR --data sft.jsonl --out ADAPTER_DIR
        [--preset 70b|small] [--epochs N] [--max-steps N]

Presets (`PRESETS`):

- `70b`, the configuration this recipe is meant for: a 70B instruction model (e.g. Llama 3.x
  70B Instruct, as [B22]/[T24] fine-tuned a 70B model) on GPUs, bf16 weights, LoRA rank 16 on
  every attention and MLP projection, gradient checkpointing, an effective batch of 32 sequences
  of up to 2,048 tokens, learning rate 1e-4 with cosine decay, up to 3 epochs with a held-out
  tenth evaluated each epoch and training stopped when validation loss rises ([T24]). Run it
  across GPUs with `accelerate launch` and FSDP (README, "Fine-tuning the generator"); about
  140 GB of bf16 weights need at least two 80 GB GPUs.
- `small`: the same recipe scaled for a CPU or a small model (tests, smoke runs).

The adapter directory holds `adapter_config.json` and `adapter_model.safetensors` (peft), the
tokenizer, and `commonground_adapter.json` (base model, preset, data digest, examples, losses,
library versions). vLLM: `vllm serve BASE --enable-lora --lora-modules commonground=ADAPTER_DIR
--max-lora-rank 16`, then the `vllm` generator backend with `model: commonground`.

torch, datasets, peft, transformers and trl are imported when training starts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

ADAPTER_METADATA = "commonground_adapter.json"
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class LoraRecipe:
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = PROJECTIONS
    learning_rate: float = 1e-4
    epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides epochs
    max_length: int = 2048
    batch_size: int = 1  # per device
    gradient_accumulation: int = 32
    bf16: bool = True
    gradient_checkpointing: bool = True
    eval_fraction: float = 0.1  # held out to stop when validation loss rises
    early_stopping_patience: int = 1
    seed: int = 0


PRESETS = {
    "70b": LoraRecipe(),
    "small": LoraRecipe(
        rank=4,
        alpha=8,
        dropout=0.0,
        epochs=1.0,
        max_length=512,
        batch_size=2,
        gradient_accumulation=1,
        bf16=False,
        gradient_checkpointing=False,
        eval_fraction=0.0,
        learning_rate=1e-3,
    ),
}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train_lora(
    *, base: str | os.PathLike[str], data: Path, out: Path, recipe: LoraRecipe
) -> dict[str, Any]:
    """Train a LoRA adapter of `base` (a local model directory) on the chat JSONL `data`; write
    it to `out`; return the record also saved as `commonground_adapter.json`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import datasets
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, EarlyStoppingCallback
    from trl import SFTConfig, SFTTrainer

    data, out = Path(data), Path(out)
    if not data.read_text(encoding="utf-8").strip():
        raise ValueError(f"{data} has no examples")
    rows = datasets.load_dataset("json", data_files=str(data), split="train")
    rows = rows.select_columns(["messages"])
    evaluate = recipe.eval_fraction > 0 and len(rows) >= 10
    if evaluate:
        parts = rows.train_test_split(test_size=recipe.eval_fraction, seed=recipe.seed)
        train_rows, eval_rows = parts["train"], parts["test"]
    else:
        train_rows, eval_rows = rows, None
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = torch.bfloat16 if recipe.bf16 else torch.float32
    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype, local_files_only=True)
    strategy = "epoch" if evaluate else "no"
    config = SFTConfig(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=recipe.epochs,
        max_steps=recipe.max_steps,
        per_device_train_batch_size=recipe.batch_size,
        per_device_eval_batch_size=recipe.batch_size,
        gradient_accumulation_steps=recipe.gradient_accumulation,
        learning_rate=recipe.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0,
        max_length=recipe.max_length,
        bf16=recipe.bf16,
        gradient_checkpointing=recipe.gradient_checkpointing,
        eval_strategy=strategy,
        save_strategy=strategy,
        load_best_model_at_end=evaluate,
        metric_for_best_model="eval_loss" if evaluate else None,
        save_total_limit=2,
        logging_steps=1,
        report_to=[],
        seed=recipe.seed,
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=False,
    )
    lora = LoraConfig(
        r=recipe.rank,
        lora_alpha=recipe.alpha,
        lora_dropout=recipe.dropout,
        target_modules=list(recipe.target_modules),
        task_type="CAUSAL_LM",
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=train_rows,
        eval_dataset=eval_rows,
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[EarlyStoppingCallback(recipe.early_stopping_patience)] if evaluate else None,
    )
    result = trainer.train()
    trainer.save_model(str(out))
    tokenizer.save_pretrained(out)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    record = {
        "base": str(base),
        "recipe": asdict(recipe),
        "data": str(data),
        "data_sha256": _digest(data),
        "examples": {"train": len(train_rows), "eval": len(eval_rows) if eval_rows else 0},
        "steps": trainer.state.global_step,
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "train_loss": result.training_loss,
        "eval_loss": [h["eval_loss"] for h in trainer.state.log_history if "eval_loss" in h],
        "libraries": _versions(),
    }
    (out / ADAPTER_METADATA).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in ("torch", "transformers", "peft", "trl", "datasets", "accelerate"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.training.lora", description=__doc__)
    parser.add_argument("--base", required=True, help="Local directory of the base model.")
    parser.add_argument("--data", required=True, type=Path, help="export_sft's JSONL.")
    parser.add_argument("--out", required=True, type=Path, help="The adapter directory.")
    parser.add_argument("--preset", choices=PRESETS, default="70b")
    parser.add_argument("--epochs", type=float)
    parser.add_argument("--max-steps", type=int)
    args = parser.parse_args(argv)
    recipe = PRESETS[args.preset]
    if args.epochs is not None:
        recipe = replace(recipe, epochs=args.epochs)
    if args.max_steps is not None:
        recipe = replace(recipe, max_steps=args.max_steps)
    try:
        record = train_lora(base=args.base, data=args.data, out=args.out, recipe=recipe)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({k: record[k] for k in ("steps", "loss_first", "loss_last", "examples")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
