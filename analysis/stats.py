"""Small statistics used by every section: the group bootstrap, spread, welfare, rank correlation.

Pure numpy; each function states its contract."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from analysis.definitions import CONFIDENCE, MIN_GROUPS_FOR_INTERVAL
from inference.aggregation import welfare

ALPHAS: tuple[tuple[str, float], ...] = (("0", 0.0), ("1", 1.0), ("inf", math.inf))


def group_bootstrap(
    data: Any,
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    resamples: int,
    seed: int,
    level: float = CONFIDENCE,
) -> tuple[float, float]:
    """Percentile bootstrap interval over groups.

    `data` is `[groups, k]`: per group, the k sums the statistic needs (e.g. wins and
    comparisons). Groups are drawn with replacement, `resamples` times, from
    `numpy.random.default_rng(seed)`; `statistic` maps `[resamples, groups, k]` to
    `[resamples]`. Returns the (1 - level)/2 and 1 - (1 - level)/2 quantiles (linear
    interpolation) of the resampled statistic. The draws are those of
    `scipy.stats.bootstrap(..., paired=True, method="percentile", rng=seed)` with one
    resampling batch, so both give the same interval.
    """
    data = np.asarray(data, dtype=float)
    if data.ndim != 2 or data.shape[0] == 0:
        raise ValueError("data must be [groups, k] with at least one group")
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    n = data.shape[0]
    rng = np.random.default_rng(seed)
    index = rng.integers(0, n, (resamples, n))
    values = np.asarray(statistic(data[index]), dtype=float)
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def interval(
    data: Any,
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    resamples: int,
    seed: int,
    min_groups: int = MIN_GROUPS_FOR_INTERVAL,
) -> tuple[list[float] | None, str | None]:
    """`([low, high], None)`, or `(None, note)` when fewer than `min_groups` groups contribute:
    an interval over so few clusters would not mean much, and the note says so."""
    groups = len(data)
    if groups < min_groups:
        return None, (
            f"no interval: {groups} group{'s contribute' if groups != 1 else ' contributes'}, "
            f"fewer than the {min_groups} a bootstrap over groups needs"
        )
    low, high = group_bootstrap(data, statistic, resamples=resamples, seed=seed)
    return [low, high], None


def ratio(columns: np.ndarray) -> np.ndarray:
    """Statistic for `[.., groups, 2]` of (sum, count): pooled mean sum(sums)/sum(counts)."""
    return columns[..., 0].sum(axis=-1) / columns[..., 1].sum(axis=-1)


def mean_abs_pairwise(values: Sequence[float]) -> float | None:
    """Mean absolute difference over every pair (i < j) of `values`; None with fewer than 2.

    Ours (METHOD.md §6 "divisiveness"): 0 when all values are equal."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 2:
        return None
    diffs = np.abs(x[:, None] - x[None, :])
    return float(diffs.sum() / (n * (n - 1)))


def ede(values: Sequence[float]) -> dict[str, float]:
    """EDE at alpha = 0, 1 and inf of one statement's observed agreements (1-7, all > 0), keyed
    "0", "1", "inf" (METHOD.md §2; `inference.aggregation.welfare` computes it)."""
    u = np.asarray(values, dtype=float).reshape(-1, 1)
    return {key: float(welfare(u, alpha)[0]) for key, alpha in ALPHAS}


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho (Pearson correlation of average ranks); None with fewer than 3 pairs or
    when either side has no variation."""
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    if len(a) < 3:
        return None
    ra, rb = rankdata(a), rankdata(b)  # average ranks for ties
    if np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def split_by(frame, key: str | list[str], *columns: str):
    """Yield `(key value, [numpy array per column])` for each distinct `key` of `frame`, in key
    order: `groupby` without building a DataFrame per group (the report loops over thousands)."""
    keys = [key] if isinstance(key, str) else list(key)
    if frame.empty:
        return
    ordered = frame.sort_values(keys, kind="stable")
    codes = np.zeros(len(ordered), dtype=np.int64)
    for k in keys:
        column_codes, _ = pd.factorize(ordered[k], sort=False)
        codes = codes * (column_codes.max() + 1) + column_codes
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    arrays = [ordered[c].to_numpy(dtype=float) for c in columns]
    first = ordered[keys].to_numpy(dtype=object)
    bounds = [*starts[1:], len(ordered)]
    for start, end in zip(starts, bounds, strict=True):
        value = first[start][0] if isinstance(key, str) else tuple(first[start])
        yield value, [a[start:end] for a in arrays]


def preference(a: float, b: float) -> float:
    """1 when a > b, 0.5 when equal, 0 when a < b."""
    return 1.0 if a > b else 0.5 if a == b else 0.0


def rounded(value: float | None, digits: int = 4) -> float | None:
    """A float for JSON: rounded, None for missing or not-a-number."""
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        return None
    return round(value, digits)
