"""The default IE estimate: linear-Gaussian MI of consecutive states, from streamed moments.

Settings (``IE_PROJ_DIM``, ``IE_PROJECTION``, ``IE_RIDGE``) are chosen in docs/emergence.md;
:func:`gaussian_result` turns macro and micro moments into an :class:`~.result.EmergenceResult`.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from ...errors import MiTasksError
from ...states.layers import normalized_depth
from .closed_form import GAUSSIAN_DEFINITION, gaussian_mi_from_cov, standardized_projection
from .moments import StateMoments
from ..result import LayerRow
from .result import EmergenceResult

GAUSSIAN_KEYS = ("projection", "n_projections", "ridge", "bias_correction")
IE_PROJECTION = "shared_random"  # see docs/emergence.md: top-PCA subspaces differ between samples
IE_PROJ_DIM = 8
# the Gaussian channel's noise, as a fraction of the slice's mean variance (SNR 10 dB); see docs/emergence.md:
# at 1e-3 (estimate_mi's default) a lone token's micro MI sits at the cap and 2k-window samples differ by 0.3 bits
IE_RIDGE = 0.1


def gaussian_settings(proj_dim: int | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(kwargs) - set(GAUSSIAN_KEYS))
    if unknown:
        raise MiTasksError(f"estimator settings {unknown} do not apply to method 'gaussian' (it takes "
                           f"{', '.join(GAUSSIAN_KEYS)}); the critic settings belong to the neural methods")
    est: dict[str, Any] = {"method": "gaussian", "proj_dim": proj_dim, "projection": IE_PROJECTION,
                           "n_projections": 16, "ridge": IE_RIDGE, "bias_correction": True}
    est.update(kwargs)
    est["definition"] = GAUSSIAN_DEFINITION
    return est


def _pair_bits(mom: StateMoments, est: dict[str, Any]) -> list[float]:
    """Gaussian MI (bits) of every pair (j, k) of ``mom`` (x = state k, y = state j); PCA fitted once per state."""
    states = sorted({i for pair in mom.pairs for i in pair})
    covs = {j: mom.cov(j) for j in states}
    pca = ({j: standardized_projection(covs[j], est["proj_dim"], "pca") for j in states}
           if est["projection"] == "pca" else None)
    return [gaussian_mi_from_cov(covs[k], covs[j], mom.cross(p).T, mom.n, proj_dim=est["proj_dim"],
                                 projection=est["projection"], n_projections=est["n_projections"], ridge=est["ridge"],
                                 bias_correction=est["bias_correction"],
                                 frames=None if pca is None else [(pca[k], pca[j])]).bits
            for p, (j, k) in enumerate(mom.pairs)]


def micro_moments(flat: np.ndarray, index: np.ndarray, pairs: list[tuple[int, int]],
                   micro_mode: str) -> list[StateMoments]:
    """Moments of the micro states weighted by token counts: all N·T positions pooled, or one set per position."""
    cols = [index.ravel()] if micro_mode == "pooled" else [index[:, t] for t in range(index.shape[1])]
    return [StateMoments.of_arrays(flat, pairs, np.bincount(c, minlength=flat.shape[1]).astype(np.float64))
            for c in cols]


def gaussian_result(macro: StateMoments, micro: list[StateMoments], labels: list[int], L: int, T: int,
                     micro_mode: str, est: dict[str, Any], seed: int) -> EmergenceResult:
    t0 = time.perf_counter()
    mac = _pair_bits(macro, est)
    mic = np.mean([_pair_bits(m, est) for m in micro], axis=0)
    out = []
    for (j, _), a, b in zip(macro.pairs, mac, mic):
        out.append(LayerRow(labels[j], normalized_depth(labels[j], L),
                            {"ie_bits": float(a - b), "mi_macro_bits": float(a), "mi_micro_bits": float(b)}))
    meta = {"window": T, "n_windows": int(round(macro.n)), "micro_mode": micro_mode, "estimator": est,
            "mi_definition": est["definition"], "n_micro_positions": int(round(micro[0].n)) * len(micro),
            "num_layers": L, "seed": seed, "timings": {"estimator_s": time.perf_counter() - t0}}
    return EmergenceResult(layers=out, meta=meta)
