"""Standard errors: lm-eval's formula for per-text means, a seeded bootstrap for corpus-level statistics.

Per-text metrics (recall, cosine, per-text Barber-Agakov terms, prompt entropy) are means over
texts, so their standard error is the sample standard deviation over sqrt(n), exactly what
lm-eval reports for its own ``mean`` metrics. Corpus-level numbers that are a cheap function of
per-text values (Fano's bound is a function of the mean recall) get a bootstrap over texts with a
fixed seed, so the same run always prints the same interval.
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
