"""Candidates from a Hugging Face causal language model loaded in this process (CPU or GPU).

For small models, fine-tuned checkpoints and tests; a large model belongs behind vLLM. The model
and tokenizer are loaded with `from_pretrained` from `model` (a local directory or a hub name
already in the local cache) on first use, not when the generator is built. torch and
transformers are imported only here.

Samples are generated in batches of `batch_size`, left-padded, each with its own opinion order.
The sampling seed of a batch is the seed of its first sample (`torch.manual_seed`, inside
`torch.random.fork_rng` so the caller's random state is left alone): with `batch_size = 1` every
sample depends on `(seed, i)` only; with larger batches, on the batch it falls in as well.
Unusable answers are redrawn (in a batch of their own, with new seeds) up to
`bad_output_retries` times.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from inference.base import BadModelOutput, Candidate, ConfigError, RoundText
from inference.config import BackendConfig
from inference.generators.llm import (
    COMMON_OPTIONS,
    Options,
    SamplePlan,
    plan_samples,
    sample_candidate,
)
from inference.prompts import CRITIQUE_TEMPLATE_VERSION, OPINION_TEMPLATE_VERSION

logger = logging.getLogger(__name__)

DTYPES = ("auto", "float32", "float16", "bfloat16")


class TransformersGenerator:
    def __init__(
        self,
        *,
        model: str,
        revision: str | None = None,
        device: str = "cpu",
        dtype: str = "auto",
        temperature: float = 1.0,
        top_p: float | None = None,
        max_new_tokens: int = 256,
        batch_size: int = 8,
        opinion_template: str = OPINION_TEMPLATE_VERSION,
        critique_template: str = CRITIQUE_TEMPLATE_VERSION,
        chat_template: bool = True,
        parse_mode: str = "tagged",
        bad_output_retries: int = 1,
    ):
        if not model:
            raise ConfigError("the transformers generator needs a model (a directory or name)")
        if dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}")
        self.model_name = model
        self.revision = revision
        self.device_option = device
        self.dtype = dtype
        self.temperature = temperature
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.opinion_template = opinion_template
        self.critique_template = critique_template
        self.chat_template = chat_template
        self.parse_mode = parse_mode
        self.bad_output_retries = bad_output_retries
        self._loaded: tuple[Any, Any, Any] | None = None
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        return {
            "role": "generator",
            "backend": "transformers",
            "model": self.model_name,
            "revision": self.revision,
            "device": self.device_option,
            "templates": [self.opinion_template, self.critique_template],
            "temperature": self.temperature,
            "max_new_tokens": self.max_new_tokens,
        }

    # -- loading -------------------------------------------------------------------------------
    def load(self) -> tuple[Any, Any, Any]:
        """`(model, tokenizer, torch)`, loading them on first use (thread-safe)."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> tuple[Any, Any, Any]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = self.device_option
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype: Any = "auto" if self.dtype == "auto" else getattr(torch, self.dtype)
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_name, revision=self.revision)
            model = AutoModelForCausalLM.from_pretrained(
                self.model_name, revision=self.revision, dtype=dtype
            )
        except (OSError, ValueError) as exc:  # missing files; a malformed hub name
            raise ConfigError(f"cannot load model {self.model_name!r}: {exc}") from exc
        model.to(device)
        model.eval()
        # Decoder-only models must be padded on the left to generate in batches.
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            if tokenizer.eos_token_id is None:
                raise ConfigError(f"the tokenizer of {self.model_name!r} has no pad or eos token")
            tokenizer.pad_token = tokenizer.eos_token
        return model, tokenizer, torch

    # -- generation ----------------------------------------------------------------------------
    def generate(self, round_text: RoundText, *, n: int, seed: int) -> list[Candidate]:
        plans = plan_samples(
            round_text,
            n=n,
            seed=seed,
            opinion_template=self.opinion_template,
            critique_template=self.critique_template,
        )
        results: dict[int, Candidate] = {}
        errors: dict[int, BadModelOutput] = {}
        pending = list(plans)
        for attempt in range(self.bad_output_retries + 1):
            errors = {}
            for start in range(0, len(pending), self.batch_size):
                batch = pending[start : start + self.batch_size]
                for plan, (raw, finish_reason), batch_seed in self._run_batch(batch, seed, attempt):
                    try:
                        results[plan.sample_index] = sample_candidate(
                            plan=plan,
                            raw=raw,
                            finish_reason=finish_reason,
                            parse_mode=self.parse_mode,
                            backend="transformers",
                            model=self.model_name,
                            round_seed=seed,
                            seed=batch_seed,
                            attempts=attempt + 1,
                            revision=self.revision,
                            batch_size=len(batch),
                            temperature=self.temperature,
                            max_new_tokens=self.max_new_tokens,
                        )
                    except BadModelOutput as exc:
                        errors[plan.sample_index] = exc
            pending = [plan for plan in pending if plan.sample_index in errors]
            if not pending:
                break
            logger.warning(
                "transformers: %d sample(s) unusable on draw %d", len(pending), attempt + 1
            )
        if errors:
            index, error = min(errors.items())
            raise BadModelOutput(
                f"{len(errors)} of {n} sample(s) gave no usable statement in "
                f"{self.bad_output_retries + 1} draw(s); sample {index}: {error}",
                raw=error.raw,
            ) from error
        return [results[i] for i in range(n)]

    def uses_chat_template(self, tokenizer: Any) -> bool:
        """Whether prompts go through the tokenizer's chat template (option and tokenizer agree)."""
        return bool(self.chat_template and getattr(tokenizer, "chat_template", None))

    def prompt_text(self, plan: SamplePlan, tokenizer: Any) -> str:
        """The model's input: the tokenizer's chat template when it has one, else plain text."""
        if self.uses_chat_template(tokenizer):
            return tokenizer.apply_chat_template(
                plan.prompt.messages(), tokenize=False, add_generation_prompt=True
            )
        return plan.prompt.text()

    def _run_batch(
        self, batch: list[SamplePlan], round_seed: int, attempt: int
    ) -> list[tuple[SamplePlan, tuple[str, str], int]]:
        model, tokenizer, torch = self.load()
        texts = [self.prompt_text(plan, tokenizer) for plan in batch]
        inputs = tokenizer(
            texts,
            return_tensors="pt",
            padding=True,
            add_special_tokens=not self.uses_chat_template(tokenizer),
        ).to(model.device)
        prompt_length = inputs["input_ids"].shape[1]
        limit = _context_length(model.config)
        if limit is not None and prompt_length + self.max_new_tokens > limit:
            raise ConfigError(
                f"the prompt ({prompt_length} tokens) plus max_new_tokens "
                f"({self.max_new_tokens}) exceeds the model's context of {limit} tokens"
            )
        batch_seed = batch[0].seed(round_seed, attempt)
        sampling: dict[str, Any] = {"do_sample": self.temperature > 0}
        if self.temperature > 0:
            sampling["temperature"] = self.temperature
            if self.top_p is not None:
                sampling["top_p"] = self.top_p
        devices = [model.device.index or 0] if model.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(batch_seed)
            output = model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                **sampling,
            )
        generated = output[:, prompt_length:].tolist()
        return [
            (plan, _decode(tokens, tokenizer, self.max_new_tokens), batch_seed)
            for plan, tokens in zip(batch, generated, strict=True)
        ]


def _decode(tokens: list[int], tokenizer: Any, max_new_tokens: int) -> tuple[str, str]:
    """The text up to the first end-of-sequence token, and vLLM's finish_reason for it."""
    eos = tokenizer.eos_token_id
    eos_ids = set(eos) if isinstance(eos, list) else {eos}
    for k, token in enumerate(tokens):
        if token in eos_ids:
            return tokenizer.decode(tokens[:k], skip_special_tokens=True), "stop"
    finish_reason = "length" if len(tokens) >= max_new_tokens else "stop"
    return tokenizer.decode(tokens, skip_special_tokens=True), finish_reason


def _context_length(config: Any) -> int | None:
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def from_config(config: BackendConfig) -> TransformersGenerator:
    if not config.model:
        raise ConfigError(
            "the transformers generator needs a model (GENERATOR_MODEL): a directory written by "
            "save_pretrained, or a model name already in the local cache"
        )
    options = Options(config.options, "transformers generator")
    opinion_template, critique_template = options.templates()
    kwargs: dict[str, Any] = {
        "model": config.model,
        "revision": options.text("revision", None),
        "device": options.text("device", "cpu"),
        "dtype": options.text("dtype", "auto", choices=DTYPES),
        "temperature": options.number("temperature", 1.0, low=0.0, high=5.0),
        "top_p": options.number("top_p", None, low=0.0, high=1.0),
        "max_new_tokens": options.whole("max_new_tokens", None, low=1)
        or options.whole("max_tokens", 256, low=1),
        "batch_size": options.whole("batch_size", 8, low=1),
        "opinion_template": opinion_template,
        "critique_template": critique_template,
        "chat_template": options.flag("chat_template", True),
        "parse_mode": options.parse_mode(),
        "bad_output_retries": options.whole("bad_output_retries", 1, low=0),
    }
    options.finish(ignored=COMMON_OPTIONS)
    return TransformersGenerator(**kwargs)
