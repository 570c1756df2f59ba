"""Per-sample randomness: each candidate gets its own opinion order and its own seed.

Both are derived from the round's seed and the sample's index alone, so sample `i` is the same
whichever other samples were drawn, in whatever order, on whichever machine.
"""

from __future__ import annotations

import numpy as np

_MASK64 = (1 << 64) - 1


def _rng(seed: int, sample_index: int, stream: int) -> np.random.Generator:
    # SeedSequence needs non-negative entries; negative seeds are folded onto 64 bits.
    return np.random.default_rng([seed & _MASK64, sample_index & _MASK64, stream])


def shuffled_order(n_opinions: int, seed: int, sample_index: int) -> list[int]:
    """A seeded permutation of `range(n_opinions)`: the order the opinions are shown in."""
    if n_opinions < 0:
        raise ValueError("n_opinions must be >= 0")
    return [int(i) for i in _rng(seed, sample_index, 0).permutation(n_opinions)]


def sample_seed(seed: int, sample_index: int, attempt: int = 0) -> int:
    """The sampling seed of one sample, a non-negative 31-bit integer (what servers accept).

    `attempt` > 0 gives the seeds of redraws after an unusable answer.
    """
    return int(_rng(seed, sample_index, 1 + attempt).integers(0, 2**31 - 1))
