"""Intrinsic dimension of a point cloud (one layer's states): TwoNN and GRIDE from scikit-dimension.

Both estimators read ratios of nearest-neighbour distances, which are undefined for a point with an
exact duplicate (identical texts give identical pooled states). Duplicate rows are therefore dropped
before estimating and counted in ``Estimate.dropped``, instead of the library's warning.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ...errors import MiTasksError
from .arrays import as_states
from .estimate import Estimate


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


def twonn(points: np.ndarray, discard_fraction: float = 0.1) -> Estimate:
    """TwoNN (Facco et al. 2017): slope of −ln(1 − F(μ)) against ln μ, μ = r₂/r₁, largest ratios discarded.

    ``discard_fraction=0.1`` is the study's setting (DADApy's default fraction 0.9 kept). The
    standard error d/√k (k ratios kept) is the asymptotic error of the Pareto-shape estimate.
    """
    if not 0.0 <= discard_fraction < 1.0:
        raise MiTasksError(f"discard_fraction must be in [0, 1), got {discard_fraction}")
    x, dropped = _unique_rows(points, 3, "TwoNN")
    kept = int(x.shape[0] * (1.0 - discard_fraction))
    if kept < 2:
        raise MiTasksError(f"TwoNN keeps {kept} ratios of {x.shape[0]} points; pass more texts or lower discard_fraction")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = float(_skdim().id.TwoNN(discard_fraction=discard_fraction).fit(x).dimension_)
    return Estimate(d, d / math.sqrt(kept), "asymptotic d/sqrt(k), k ratios kept", x.shape[0], dropped)


def gride(points: np.ndarray, n1: int = 4, n2: int | None = None) -> Estimate:
    """GRIDE (Denti et al. 2022): maximum likelihood on ratios of the n2-th to the n1-th neighbour distance.

    Default n1 = 4, n2 = 8: a larger scale than TwoNN's (1, 2), less sensitive to noise at the
    shortest distances. The standard error is the library's, from the observed Fisher information.
    """
    n2 = 2 * n1 if n2 is None else n2
    if not (isinstance(n1, int) and isinstance(n2, int) and 1 <= n1 < n2):
        raise MiTasksError(f"GRIDE needs integers 1 <= n1 < n2, got n1={n1}, n2={n2}")
    x, dropped = _unique_rows(points, n2 + 2, f"GRIDE (n1={n1}, n2={n2})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = _skdim().id.GRIDE(n1=n1, n2=n2).fit(x)
        except ValueError as err:
            raise MiTasksError(f"GRIDE (n1={n1}, n2={n2}) failed on {x.shape[0]} points ({err}); pass more texts") from None
    return Estimate(float(fit.dimension_), float(fit.error_), "observed Fisher information (scikit-dimension)",
                    x.shape[0], dropped)
