"""Mediation for group deliberation, as a library: plain Python and numpy, no Django.

    from inference import MediationConfig, RoundText, build_generator, build_reward_model, mediate

    config = MediationConfig()  # the embedded backends: extractive generator, embedding reward
    round_text = RoundText(  # checked here, once: ValueError for a round no backend can use
        question="Should towns close their centres to cars on Saturdays?",
        opinions=["Yes, ...", "No, ..."],
    )
    result = mediate(
        round_text,
        generator=build_generator(config.generator),
        reward_model=build_reward_model(config.reward),
    )
    result.candidates[result.winner].text

Every backend takes that one `RoundText` (`Generator.generate(round_text, n=, seed=)`,
`RewardModel.predict(round_text, candidates)`) and trusts it. `welfare` and `schulze` are the
aggregations on their own (numpy in, numpy out). Backends import their heavy libraries only when
they are built.
"""

from inference.aggregation import check_alpha, schulze, welfare
from inference.base import (
    BackendUnavailable,
    BadModelOutput,
    Candidate,
    ConfigError,
    Generator,
    InferenceError,
    RewardModel,
    RoundText,
)
from inference.config import BackendConfig, MediationConfig, build_generator, build_reward_model
from inference.mediation import MediationResult, mediate, mediate_with_config

__all__ = [
    "BackendConfig",
    "BackendUnavailable",
    "BadModelOutput",
    "Candidate",
    "ConfigError",
    "Generator",
    "InferenceError",
    "MediationConfig",
    "MediationResult",
    "RewardModel",
    "RoundText",
    "build_generator",
    "build_reward_model",
    "check_alpha",
    "mediate",
    "mediate_with_config",
    "schulze",
    "welfare",
]
