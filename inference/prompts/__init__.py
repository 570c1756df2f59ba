"""Prompt templates, the statement parser, and per-sample opinion orders and seeds."""

from inference.prompts.sampling import sample_seed, shuffled_order
from inference.prompts.statements import (
    CRITIQUE_TEMPLATE_VERSION,
    CRITIQUE_TEMPLATES,
    OPINION_TEMPLATE_VERSION,
    OPINION_TEMPLATES,
    PARSE_MODES,
    Prompt,
    check_template_versions,
    critique_prompt,
    opinion_prompt,
    parse_statement,
    round_prompt,
)

__all__ = [
    "CRITIQUE_TEMPLATES",
    "CRITIQUE_TEMPLATE_VERSION",
    "OPINION_TEMPLATES",
    "OPINION_TEMPLATE_VERSION",
    "PARSE_MODES",
    "Prompt",
    "check_template_versions",
    "critique_prompt",
    "opinion_prompt",
    "parse_statement",
    "round_prompt",
    "sample_seed",
    "shuffled_order",
]
