"""Standard errors: lm-eval's formula for per-text means, a seeded bootstrap for corpus-level statistics.

Per-text metrics (recall, cosine, per-text Barber-Agakov terms, prompt entropy) are means over
texts, so their standard error is the sample standard deviation over sqrt(n), exactly what
lm-eval reports for its own ``mean`` metrics. Corpus-level numbers that are a cheap function of
per-text values (Fano's bound is a function of the mean recall) get a bootstrap over texts with a
fixed seed, so the same run always prints the same interval. Statistics of a set of rows that a
repeated row would distort (a Gram-matrix entropy, nearest-neighbour distances) get half-sampling
instead (:func:`half_sample_stderr`).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

BOOTSTRAP_ITERS = 1000
"""Resamples used for corpus-level standard errors (lm-eval's --bootstrap_iters caps it further)."""


def mean_stderr(values: Sequence[float] | np.ndarray) -> float:
    """Standard error of the mean over the finite values (sample sd with n-1, over sqrt(n)); NaN below 2 values."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return float("nan")
    return float(x.std(ddof=1) / math.sqrt(x.size))


def bootstrap_stderr(values: Sequence[float] | np.ndarray, statistic: Callable[[np.ndarray], np.ndarray],
                     iters: int = BOOTSTRAP_ITERS, seed: int = 0, chunk: int = 256) -> float:
    """Bootstrap standard error of ``statistic(mean of a resample)`` over the finite ``values``.

    ``statistic`` maps an array of resample means to an array of statistics (vectorised), so
    ``iters`` resamples cost ``iters × n`` additions. Seeded: the same values give the same answer.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < 2 or iters < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    stats = []
    for start in range(0, iters, chunk):
        k = min(chunk, iters - start)
        idx = rng.integers(0, x.size, size=(k, x.size))
        stats.append(np.asarray(statistic(x[idx].mean(axis=1)), dtype=np.float64))
    s = np.concatenate(stats)
    s = s[np.isfinite(s)]
    return float(s.std(ddof=1)) if s.size > 1 else float("nan")


HALF_SPLITS = 8
"""Random splits of the texts into two disjoint halves behind a half-sampling standard error."""


def half_sample_stderr(statistic: Callable[[np.ndarray], float], n: int, splits: int = HALF_SPLITS,
                       seed: int = 0) -> float:
    """Standard error of ``statistic(all n rows)`` from the differences between disjoint halves of the rows.

    Each of ``splits`` seeded permutations cuts the rows into two disjoint halves a and b; the two
    half-sample estimates are independent draws of the statistic at n/2 rows, so E(θa − θb)² =
    2·var(θ_{n/2}) = 4·var(θ_n) for any statistic whose variance falls as 1/n, and
    se² = mean over splits of (θa − θb)²/4. It needs neither smoothness in the rows (nearest-neighbour
    ratios are not smooth: the spread of subsample estimates around the full one overstates their
    error 1.3-1.8×) nor resampling with repeats (a repeated row is a duplicated text to a Gram-matrix
    entropy or a nearest-neighbour distance; a bootstrap inflates DiME 15× that way).
    NaN below 4 rows or without a split whose two halves both give a finite estimate.
    """
    m = n // 2
    if m < 2 or splits < 1:
        return float("nan")
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(splits):
        p = rng.permutation(n)
        diffs.append(statistic(np.sort(p[:m])) - statistic(np.sort(p[m:2 * m])))
    d = np.asarray(diffs, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan")
    return float(math.sqrt((d ** 2).mean() / 4.0))
