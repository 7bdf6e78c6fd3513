"""Intrinsic dimension of a point cloud (one layer's states): TwoNN and GRIDE from scikit-dimension.

Both estimators read ratios of nearest-neighbour distances, which are undefined for a point with an
exact duplicate (identical texts give identical pooled states). Duplicate rows are therefore dropped
before estimating and counted in ``Measurement.dropped``, instead of the library's warning.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ...errors import MiTasksError
from ..uncertainty import HALF_SPLITS, half_sample_stderr
from .arrays import as_states
from ..result import Measurement


def _skdim():
    try:
        import skdim
    except ImportError:
        raise MiTasksError("intrinsic dimension needs scikit-dimension: pip install 'mi-tasks[geometry]'") from None
    return skdim


def _unique_rows(points: np.ndarray, need: int, what: str) -> tuple[np.ndarray, int]:
    x = as_states(points, "points")
    u = np.unique(x, axis=0)
    if u.shape[0] < need:
        raise MiTasksError(f"{what} needs at least {need} distinct points, got {u.shape[0]} "
                           f"({x.shape[0] - u.shape[0]} duplicates dropped); pass more texts that differ from each other")
    return u, x.shape[0] - u.shape[0]


def _twonn_value(x: np.ndarray, discard_fraction: float) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(_skdim().id.TwoNN(discard_fraction=discard_fraction).fit(x).dimension_)


def _texts_error(stat, n: int, half_splits: int, seed: int) -> tuple[float, str]:
    """The half-sampling error over the points and how it was obtained (or why there is none)."""
    se = half_sample_stderr(stat, n, half_splits, seed) if half_splits >= 1 else float("nan")
    if math.isfinite(se):
        return se, f"half-sampling over texts ({half_splits} splits into disjoint halves)"
    return se, "none: half-sampling switched off or too few points for a half"


def twonn(points: np.ndarray, discard_fraction: float = 0.1, half_splits: int = HALF_SPLITS, seed: int = 0) -> Measurement:
    """TwoNN (Facco et al. 2017): slope of −ln(1 − F(μ)) against ln μ, μ = r₂/r₁, largest ratios discarded.

    ``discard_fraction=0.1`` is the study's setting (DADApy's default fraction 0.9 kept). Standard
    error: half-sampling over the points (:func:`half_sample_stderr`; ``half_splits=0`` for none),
    which covers the sampling of the texts. The asymptotic d/√k of the Pareto-shape fit assumes a
    uniform density on a flat manifold and is 2× too small on language-model states.
    """
    if not 0.0 <= discard_fraction < 1.0:
        raise MiTasksError(f"discard_fraction must be in [0, 1), got {discard_fraction}")
    x, dropped = _unique_rows(points, 3, "TwoNN")
    kept = int(x.shape[0] * (1.0 - discard_fraction))
    if kept < 2:
        raise MiTasksError(f"TwoNN keeps {kept} ratios of {x.shape[0]} points; pass more texts or lower discard_fraction")
    d = _twonn_value(x, discard_fraction)

    def stat(rows: np.ndarray) -> float:
        return _twonn_value(x[rows], discard_fraction) if int(rows.size * (1.0 - discard_fraction)) >= 2 else math.nan

    se, how = _texts_error(stat, x.shape[0], half_splits, seed)
    return Measurement(d, se, how, x.shape[0], dropped)


def _gride_fit(x: np.ndarray, n1: int, n2: int) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(_skdim().id.GRIDE(n1=n1, n2=n2).fit(x).dimension_)


def gride(points: np.ndarray, n1: int = 4, n2: int | None = None, half_splits: int = HALF_SPLITS,
          seed: int = 0) -> Measurement:
    """GRIDE (Denti et al. 2022): maximum likelihood on ratios of the n2-th to the n1-th neighbour distance.

    Default n1 = 4, n2 = 8: a larger scale than TwoNN's (1, 2), less sensitive to noise at the
    shortest distances. Standard error: half-sampling over the points, as for :func:`twonn` (the
    library's Fisher-information error treats neighbouring ratios as independent and is 2× too
    small on language-model states).
    """
    n2 = 2 * n1 if n2 is None else n2
    if not (isinstance(n1, int) and isinstance(n2, int) and 1 <= n1 < n2):
        raise MiTasksError(f"GRIDE needs integers 1 <= n1 < n2, got n1={n1}, n2={n2}")
    x, dropped = _unique_rows(points, n2 + 2, f"GRIDE (n1={n1}, n2={n2})")
    try:
        d = _gride_fit(x, n1, n2)
    except ValueError as err:
        raise MiTasksError(f"GRIDE (n1={n1}, n2={n2}) failed on {x.shape[0]} points ({err}); pass more texts") from None

    def stat(rows: np.ndarray) -> float:
        if rows.size < n2 + 2:
            return math.nan
        try:
            return _gride_fit(x[rows], n1, n2)
        except ValueError:
            return math.nan

    se, how = _texts_error(stat, x.shape[0], half_splits, seed)
    return Measurement(d, se, how, x.shape[0], dropped)
