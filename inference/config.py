"""Build backends from a plain config, never at import time.

A config is data (a dict, a JSON file, environment variables); `build_generator` and
`build_reward_model` turn it into objects. Each backend module exposes
`from_config(config: BackendConfig)`, imported only when that backend is asked for, so that
choosing the embedded backends never imports torch or an HTTP client it does not need.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from inference.aggregation import check_alpha
from inference.base import ConfigError, Generator, RewardModel

GENERATOR_BACKENDS = {
    "extractive": "inference.generators.extractive",
    "vllm": "inference.generators.vllm",
    "transformers": "inference.generators.hf",
    "fake": "inference.generators.fake",
}
REWARD_BACKENDS = {
    "embedding": "inference.reward_models.embedding",
    "vllm": "inference.reward_models.vllm",
    "transformers": "inference.reward_models.hf",
    "llm-ranking": "inference.reward_models.llm_ranking",
    "fake": "inference.reward_models.fake",
}
AGGREGATIONS = ("welfare", "schulze")


@dataclass(frozen=True)
class BackendConfig:
    """Which backend, where it is served, which model, and backend-specific `options`.

    Common options: `timeout` (total seconds for one request to a model server, retries and
    pauses included: `inference.http`), `retries`, `temperature`, `max_tokens`,
    `template_version`, `device`, `head_path` (embedding head), `api_key`.
    """

    backend: str
    url: str | None = None
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | str) -> BackendConfig:
        if isinstance(data, str):
            return cls(backend=data)
        if not isinstance(data, Mapping) or "backend" not in data:
            raise ConfigError("a backend config needs a 'backend' name")
        unknown = set(data) - {"backend", "url", "model", "options"}
        if unknown:
            raise ConfigError(f"unknown backend config keys: {', '.join(sorted(unknown))}")
        options = data.get("options") or {}
        if not isinstance(options, Mapping):
            raise ConfigError("backend 'options' must be an object")
        return cls(
            backend=str(data["backend"]),
            url=data.get("url") or None,
            model=data.get("model") or None,
            options=dict(options),
        )

    def checked_options(
        self, name: str, *, reads: Iterable[str], ignores: Iterable[str]
    ) -> dict[str, Any]:
        """A copy of `options`, or `ConfigError` for an option that backend `name` neither
        `reads` nor `ignores` (one meant for another backend that a shared config may carry):
        a typo is refused, not silently dropped."""
        unknown = set(self.options) - set(reads) - set(ignores)
        if unknown:
            raise ConfigError(f"unknown {name} options: {', '.join(sorted(unknown))}")
        return dict(self.options)


@dataclass(frozen=True)
class MediationConfig:
    """Everything `inference.mediation.mediate` needs besides the round's text.

    `aggregation` is `"welfare"` (isoelastic EDE with inequality aversion `alpha`, `math.inf` for
    the minimum) or `"schulze"` (Schulze over the predicted rankings, TBRC tie-break seeded by
    `seed`). `n_candidates = 1` means no reranking: the first sample wins.
    """

    generator: BackendConfig = field(default_factory=lambda: BackendConfig("extractive"))
    reward: BackendConfig = field(default_factory=lambda: BackendConfig("embedding"))
    n_candidates: int = 16
    aggregation: str = "welfare"
    alpha: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.generator.backend not in GENERATOR_BACKENDS:
            raise ConfigError(
                f"unknown generator backend {self.generator.backend!r}; "
                f"choose one of {', '.join(GENERATOR_BACKENDS)}"
            )
        if self.reward.backend not in REWARD_BACKENDS:
            raise ConfigError(
                f"unknown reward backend {self.reward.backend!r}; "
                f"choose one of {', '.join(REWARD_BACKENDS)}"
            )
        if not isinstance(self.n_candidates, int) or not 1 <= self.n_candidates <= 256:
            raise ConfigError("n_candidates must be a whole number from 1 to 256")
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(f"aggregation must be one of {', '.join(AGGREGATIONS)}")
        try:
            check_alpha(self.alpha)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MediationConfig:
        if not isinstance(data, Mapping):
            raise ConfigError("a mediation config must be a JSON object")
        unknown = set(data) - {
            "generator",
            "reward",
            "n_candidates",
            "aggregation",
            "alpha",
            "seed",
        }
        if unknown:
            raise ConfigError(f"unknown mediation config keys: {', '.join(sorted(unknown))}")
        kwargs: dict[str, Any] = {}
        if "generator" in data:
            kwargs["generator"] = BackendConfig.from_dict(data["generator"])
        if "reward" in data:
            kwargs["reward"] = BackendConfig.from_dict(data["reward"])
        if "n_candidates" in data:
            kwargs["n_candidates"] = _as_int(data["n_candidates"], "n_candidates")
        if "aggregation" in data:
            kwargs["aggregation"] = str(data["aggregation"])
        if "alpha" in data:
            kwargs["alpha"] = _as_alpha(data["alpha"])
        if "seed" in data:
            kwargs["seed"] = _as_int(data["seed"], "seed")
        return cls(**kwargs)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MediationConfig:
        """Read the variables documented in the README's configuration table."""

        def backend(prefix: str, default: str) -> BackendConfig:
            options: dict[str, Any] = {}
            if env.get(f"{prefix}_TIMEOUT"):
                options["timeout"] = float(env[f"{prefix}_TIMEOUT"])
            if env.get(f"{prefix}_API_KEY"):
                options["api_key"] = env[f"{prefix}_API_KEY"]
            if prefix == "REWARD" and env.get("REWARD_HEAD_PATH"):
                options["head_path"] = env["REWARD_HEAD_PATH"]
            return BackendConfig(
                backend=env.get(f"{prefix}_BACKEND") or default,
                url=env.get(f"{prefix}_URL") or None,
                model=env.get(f"{prefix}_MODEL") or None,
                options=options,
            )

        return cls(
            generator=backend("GENERATOR", "extractive"),
            reward=backend("REWARD", "embedding"),
            n_candidates=_as_int(env.get("MEDIATION_CANDIDATES") or 16, "MEDIATION_CANDIDATES"),
            aggregation=env.get("MEDIATION_AGGREGATION") or "welfare",
            alpha=_as_alpha(env.get("MEDIATION_ALPHA") or 1.0),
        )

    def merged(self, overrides: Mapping[str, Any] | None) -> MediationConfig:
        """This config with the keys of `overrides` (same shape as `from_dict`) replaced."""
        if not overrides:
            return self
        base = self.to_dict()
        for key, value in overrides.items():
            if key in ("generator", "reward") and isinstance(value, Mapping):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        return MediationConfig.from_dict(base)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["alpha"] == math.inf:
            data["alpha"] = "inf"
        for role in ("generator", "reward"):
            data[role]["options"] = {
                k: v for k, v in data[role]["options"].items() if k != "api_key"
            }
        return data

    def with_seed(self, seed: int) -> MediationConfig:
        return replace(self, seed=seed)


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a whole number")
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from exc
    if isinstance(value, float) and value != number:
        raise ConfigError(f"{name} must be a whole number, not {value!r}")
    return number


def _as_alpha(value: Any) -> float:
    try:
        return check_alpha(value, text=True)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _load(registry: Mapping[str, str], config: BackendConfig, role: str) -> Any:
    try:
        module_path = registry[config.backend]
    except KeyError:
        raise ConfigError(
            f"unknown {role} backend {config.backend!r}; choose one of {', '.join(registry)}"
        ) from None
    module = importlib.import_module(module_path)
    return module.from_config(config)


def build_generator(config: BackendConfig) -> Generator:
    """The generator `config` names (one of `GENERATOR_BACKENDS`), built now; `ConfigError` for
    an unknown backend or options it refuses."""
    return _load(GENERATOR_BACKENDS, config, "generator")


def build_reward_model(config: BackendConfig) -> RewardModel:
    """The reward model `config` names (one of `REWARD_BACKENDS`), built now; `ConfigError` for
    an unknown backend or options it refuses."""
    return _load(REWARD_BACKENDS, config, "reward")
