"""Social choice over a group's predictions: isoelastic welfare and Schulze with TBRC.

Pure functions, numpy in and numpy out, inputs checked on entry (METHOD.md §2 and §3). Each
vectorised function has a plain-Python twin (`welfare_loop`, `schulze_loop`) that follows the
textbook steps one number at a time: the tests check that both agree and `python -m inference
bench` times one beside the other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

TIE_BREAKING = ("tbrc", "ties_allowed", "random")

# Keeps the boolean [voters, candidates, candidates] block of one step of the pairwise count
# near 16 MB, whatever the number of voters.
_PAIRWISE_CELLS_PER_CHUNK = 1 << 24


# --------------------------------------------------------------------------------------------
# Welfare


def welfare(utilities: Any, alpha: float) -> np.ndarray:
    """Equally-distributed equivalent (EDE) welfare of each candidate.

    `utilities` is an array `[participants, candidates]` of positive, finite numbers (predicted
    agreement on the 1-7 scale). `alpha >= 0` is the inequality aversion of the isoelastic
    family: `0` is the mean (utilitarian), `1` the geometric mean (Nash), `math.inf` the
    minimum (Rawlsian); in general

        EDE_alpha(c) = ((1/n) * sum_i u[i, c] ** (1 - alpha)) ** (1 / (1 - alpha)).

    Returns a float array `[candidates]` on the scale of the utilities, between the minimum
    and the mean of each column, ranking candidates exactly as the welfare W_alpha does.

    Computed in log space around the column's extreme (its minimum when alpha > 1, its maximum
    when alpha < 1), so that every power is at most 1: alpha = 50 or 1e6 does not overflow, and
    alpha close to 1 goes smoothly into the geometric mean (expm1/log1p).

    Raises `ValueError` when `utilities` is not 2-D, has no participant or no candidate, holds
    a value that is not a finite positive number, or when `alpha` is not a number >= 0.
    """
    u = _check_utilities(utilities)
    alpha = check_alpha(alpha)
    if alpha == 0:
        return u.mean(axis=0)
    if alpha == math.inf:
        return u.min(axis=0)
    log_u = np.log(u)
    if alpha == 1:
        return np.exp(log_u.mean(axis=0))
    gamma = 1.0 - alpha
    extreme = log_u.max(axis=0) if gamma > 0 else log_u.min(axis=0)
    shifted = gamma * (log_u - extreme)  # <= 0 everywhere, == 0 at the extreme
    log_mean_power = np.log1p(np.expm1(shifted).mean(axis=0))
    return np.exp(extreme + log_mean_power / gamma)


def welfare_loop(utilities: Any, alpha: float) -> list[float]:
    """`welfare` one number at a time in plain Python: the reference and the bench baseline."""
    rows = _check_utilities(utilities).tolist()
    alpha = check_alpha(alpha)
    n = len(rows)
    result = []
    for c in range(len(rows[0])):
        column = [row[c] for row in rows]
        if alpha == 0:
            result.append(sum(column) / n)
        elif alpha == math.inf:
            result.append(min(column))
        elif alpha == 1:
            result.append(math.exp(sum(math.log(x) for x in column) / n))
        else:
            # Normalised by the minimum so that large alpha does not overflow.
            low = min(column)
            mean_power = sum((x / low) ** (1.0 - alpha) for x in column) / n
            result.append(low * mean_power ** (1.0 / (1.0 - alpha)))
    return result


def _check_utilities(utilities: Any) -> np.ndarray:
    try:
        u = np.asarray(utilities, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"utilities must be numbers: {exc}") from None
    if u.ndim != 2:
        raise ValueError(f"utilities must be 2-D [participants, candidates], got shape {u.shape}")
    if u.shape[0] == 0 or u.shape[1] == 0:
        raise ValueError(f"utilities need a participant and a candidate, got shape {u.shape}")
    if not np.all(np.isfinite(u)):
        raise ValueError("utilities contain NaN or infinity")
    if u.min() <= 0:
        raise ValueError("utilities must be positive (welfare is defined for u > 0)")
    return u


# The names that text may give the infinite alpha (the minimum, Rawls' maximin).
ALPHA_INFINITY_NAMES = ("inf", "infinity", "∞", "rawls", "min")


def check_alpha(alpha: Any, *, text: bool = False) -> float:
    """The welfare alpha `alpha` stands for, as a float (`math.inf` for the minimum): the one
    parser of alpha, used by the mediation, its config, the study settings and the forms.

    Accepted: a number >= 0, Python or numpy, `math.inf` included (not a bool, not NaN). With
    `text` (a config file, the environment, a form), also a string holding such a number or one
    of `ALPHA_INFINITY_NAMES`, in any case, with blanks around. Anything else: `ValueError`.
    """
    given = alpha
    if text and isinstance(alpha, str):
        word = alpha.strip().lower()
        if word in ALPHA_INFINITY_NAMES:
            return math.inf
        try:
            alpha = float(word)
        except ValueError:
            alpha = None
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise ValueError(f"alpha must be a number >= 0 or inf, not {given!r}")
    alpha = float(alpha)
    if math.isnan(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a number >= 0 or inf, not {given!r}")
    return alpha


# --------------------------------------------------------------------------------------------
# Rankings


def rankings_from_predictions(predictions: Any) -> np.ndarray:
    """Each participant's ranking of the candidates from predicted agreement.

    `predictions` is a finite array `[participants, candidates]`, higher = more agreement.
    Returns an int array of the same shape, 0 = best. Exactly equal predictions get equal rank,
    and ranks are *dense*: a participant who predicts (7, 5, 7, 2) ranks (0, 1, 0, 2).

    Raises `ValueError` for a wrongly shaped or non-finite array.
    """
    try:
        x = np.asarray(predictions, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"predictions must be numbers: {exc}") from None
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"predictions must be 2-D [participants, candidates], got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("predictions contain NaN or infinity")
    return _dense_rank_rows(-x)


def _dense_rank_rows(keys: np.ndarray) -> np.ndarray:
    """Dense rank of each row's values, smallest = 0, equal values equal rank."""
    rows, cols = keys.shape
    order = np.argsort(keys, axis=1, kind="stable")
    ordered = np.take_along_axis(keys, order, axis=1)
    steps = np.zeros((rows, cols), dtype=np.int64)
    steps[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ranks = np.empty((rows, cols), dtype=np.int64)
    np.put_along_axis(ranks, order, np.cumsum(steps, axis=1), axis=1)
    return ranks


# --------------------------------------------------------------------------------------------
# Schulze with TBRC


def schulze(
    rankings: Any, *, tie_breaking: str = "tbrc", seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Schulze social ranking of the candidates, and a strict ranking after tie-breaking.

    `rankings` is an integer array `[voters, candidates]`, 0 = best, equal numbers are ties
    (only the order of a voter's numbers matters). A row of all -1 is a voter who gave no
    ranking: it is left out, not counted as ties. Any other negative number is an error.

    Returns `(tied, untied)`, two int arrays `[candidates]`, 0 = best:

    - `tied`: the Schulze ranking with ties. Candidates are ordered by how many others they
      are at least as good as (p[x, y] >= p[y, x] on the strongest paths), dense ranks.
    - `untied`: the ties of `tied` broken by `tie_breaking`:
      `"tbrc"` takes the ballots in a seeded shuffled order and breaks remaining ties in the
      order each gives, then finishes with a seeded random order; `"random"` uses the seeded
      random order alone; `"ties_allowed"` breaks nothing (`untied` equals `tied`).
      Ballots are put into a canonical order before the shuffle, so the result depends on the
      ballots and the seed, not on the order in which the voters are listed. The same seed gives
      the same result; `seed=None` draws fresh entropy.

    With no ballot left, every candidate is tied at 0.

    Raises `ValueError` for a wrongly shaped or non-integer array, negative ranks other than a
    whole row of -1, or an unknown `tie_breaking`.
    """
    ballots = _check_rankings(rankings, tie_breaking)
    n_candidates = ballots.shape[1]
    d = _pairwise_preferences(ballots)
    p = np.where(d > d.T, d, 0)
    for i in range(n_candidates):
        p = np.maximum(p, np.minimum.outer(p[:, i], p[i, :]))
    at_least_as_good = (p >= p.T).sum(axis=1)
    tied = np.unique(-at_least_as_good, return_inverse=True)[1].astype(np.int64)
    return tied, _break_ties(tied, ballots, tie_breaking, seed)


def _pairwise_preferences(ballots: np.ndarray) -> np.ndarray:
    """d[x, y] = number of ballots ranking x strictly above y."""
    n_voters, n_candidates = ballots.shape
    d = np.zeros((n_candidates, n_candidates), dtype=np.int64)
    # Voters on the last, contiguous axis: the comparison and the count then run over
    # contiguous memory; a uint16 count is exact for chunks of at most 65,535 voters.
    by_candidate = np.ascontiguousarray(ballots.T)
    chunk = min(65_535, max(1, _PAIRWISE_CELLS_PER_CHUNK // (n_candidates * n_candidates)))
    for start in range(0, n_voters, chunk):
        block = by_candidate[:, start : start + chunk]
        above = np.less(block[:, None, :], block[None, :, :])
        d += np.add.reduce(above.view(np.uint8), axis=2, dtype=np.uint16)
    return d


def _break_ties(
    tied: np.ndarray, ballots: np.ndarray, tie_breaking: str, seed: int | None
) -> np.ndarray:
    if tie_breaking == "ties_allowed":
        return tied.copy()
    rng = np.random.default_rng(seed)
    n_candidates = tied.size
    ranking = tied.copy()
    if tie_breaking == "tbrc" and len(ballots):
        ballots = _canonical_order(ballots)
        for index in rng.permutation(len(ballots)):
            if np.unique(ranking).size == n_candidates:
                return ranking
            ranking = _untie_with(ranking, ballots[index])
    if np.unique(ranking).size == n_candidates:
        return ranking
    return _untie_with(ranking, rng.permutation(n_candidates))


def _canonical_order(ballots: np.ndarray) -> np.ndarray:
    """The ballots sorted lexicographically, so that the voters' order no longer matters.

    Each row is compared as one string of big-endian bytes, which orders non-negative integers
    as numbers: one sort instead of a sort per column.
    """
    big_endian = np.ascontiguousarray(ballots, dtype=ballots.dtype.newbyteorder(">"))
    rows = big_endian.view(np.dtype((np.void, big_endian.strides[0]))).ravel()
    return ballots[np.argsort(rows, kind="stable")]


def _untie_with(ranking: np.ndarray, ballot: np.ndarray) -> np.ndarray:
    """Order candidates tied in `ranking` as `ballot` orders them; dense ranks again."""
    order = np.lexsort((ballot, ranking))
    keys = np.stack([ranking[order], ballot[order]])
    steps = np.zeros(ranking.size, dtype=np.int64)
    steps[1:] = np.any(keys[:, 1:] != keys[:, :-1], axis=0)
    untied = np.empty(ranking.size, dtype=np.int64)
    untied[order] = np.cumsum(steps)
    return untied


def _check_rankings(rankings: Any, tie_breaking: str) -> np.ndarray:
    """Validated ballots, the rows of all -1 removed, in the smallest unsigned dtype."""
    if tie_breaking not in TIE_BREAKING:
        raise ValueError(f"tie_breaking must be one of {', '.join(TIE_BREAKING)}")
    r = np.asarray(rankings)
    if r.dtype == bool or not (
        np.issubdtype(r.dtype, np.integer) or np.issubdtype(r.dtype, np.floating)
    ):
        raise ValueError(f"rankings must be an integer array, got dtype {r.dtype}")
    if r.ndim != 2 or r.shape[1] == 0:
        raise ValueError(f"rankings must be 2-D [voters, candidates], got shape {r.shape}")
    if np.issubdtype(r.dtype, np.floating):
        if not np.all(np.isfinite(r)) or np.any(r != np.round(r)):
            raise ValueError("rankings must be whole numbers")
        r = r.astype(np.int64)
    r = r[~np.all(r == -1, axis=1)]
    if not r.size:
        return r.astype(np.uint8)
    if r.min() < 0:
        raise ValueError("ranks must be >= 0 (a voter without a ranking is a row of all -1)")
    if r.max() > np.iinfo(np.uint16).max:
        r = _dense_rank_rows(r)
    top = r.max()
    dtype = np.uint8 if top <= 255 else np.uint16 if top <= 65_535 else np.int64
    return r.astype(dtype)


def schulze_loop(
    rankings: Sequence[Sequence[int]] | np.ndarray,
    *,
    tie_breaking: str = "tbrc",
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`schulze` step by step in plain Python: the reference and the bench baseline.

    Same contract and, for the same input and seed, the same result as `schulze` (it draws the
    same random numbers in the same order).
    """
    checked = _check_rankings(rankings, tie_breaking)
    ballots = checked.tolist()
    n = checked.shape[1]
    d = [[0] * n for _ in range(n)]
    for ballot in ballots:
        for x in range(n):
            for y in range(n):
                if ballot[x] < ballot[y]:
                    d[x][y] += 1
    p = [[d[x][y] if d[x][y] > d[y][x] else 0 for y in range(n)] for x in range(n)]
    for i in range(n):
        for j in range(n):
            if j == i:
                continue
            for k in range(n):
                if k != i and k != j:
                    p[j][k] = max(p[j][k], min(p[j][i], p[i][k]))
    counts = [sum(1 for y in range(n) if p[x][y] >= p[y][x]) for x in range(n)]
    levels = sorted(set(counts), reverse=True)
    tied = [levels.index(count) for count in counts]
    if tie_breaking == "ties_allowed":
        return np.array(tied, dtype=np.int64), np.array(tied, dtype=np.int64)

    def untie(ranking: list[int], ballot: list[int]) -> list[int]:
        pairs = sorted(set(zip(ranking, ballot, strict=True)))
        return [pairs.index(pair) for pair in zip(ranking, ballot, strict=True)]

    rng = np.random.default_rng(seed)
    ranking = list(tied)
    if tie_breaking == "tbrc" and ballots:
        shuffled = _canonical_order(checked).tolist()
        for index in rng.permutation(len(shuffled)).tolist():
            if len(set(ranking)) == n:
                break
            ranking = untie(ranking, shuffled[index])
    if len(set(ranking)) < n:
        ranking = untie(ranking, rng.permutation(n).tolist())
    return np.array(tied, dtype=np.int64), np.array(ranking, dtype=np.int64)
