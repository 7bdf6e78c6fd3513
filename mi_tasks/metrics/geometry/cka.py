"""Linear CKA (Kornblith et al. 2019) between layers of a model, and between two models at matched depth.

CKA(X, Y) = ‖Ycᵀ Xc‖²_F / (‖Xcᵀ Xc‖_F · ‖Ycᵀ Yc‖_F) with Xc, Yc the column-centred states of the
same n texts; equivalently the cosine between the centred Gram matrices. It is 1 for identical
representations and invariant to orthogonal transforms and isotropic scaling. CKA of the states of
n sampled texts is a statistic of those texts like any other: :func:`cka_with_error` gives its
delete-a-group jackknife error over the texts (it is a smooth function of second moments).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...errors import MiTasksError
from .arrays import as_states, grouped_jackknife
from ..result import Measurement


def _centred(x: np.ndarray, name: str) -> np.ndarray:
    a = as_states(x, name, min_rows=2)
    return a - a.mean(axis=0, keepdims=True)


def _same_texts(mats: Sequence[np.ndarray]) -> None:
    rows = {m.shape[0] for m in mats}
    if len(rows) > 1:
        raise MiTasksError(f"CKA compares states of the same texts, got row counts {sorted(rows)}; pass the same texts")


def _ratio(cross: float, self_x: float, self_y: float) -> float:
    denom = np.sqrt(self_x * self_y)
    return float(cross / denom) if denom > 0 else float("nan")


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of two (n, D) state matrices of the same texts; NaN if either is constant."""
    xc, yc = _centred(x, "x"), _centred(y, "y")
    _same_texts([xc, yc])
    n = xc.shape[0]
    if n <= min(xc.shape[1], yc.shape[1]):
        kx, ky = xc @ xc.T, yc @ yc.T
        return _ratio((kx * ky).sum(), (kx * kx).sum(), (ky * ky).sum())
    cxy, cxx, cyy = yc.T @ xc, xc.T @ xc, yc.T @ yc
    return _ratio((cxy * cxy).sum(), (cxx * cxx).sum(), (cyy * cyy).sum())


def cka_with_error(x: np.ndarray, y: np.ndarray, jackknife_groups: int = 10) -> Measurement:
    """Linear CKA of two (n, D) state matrices of the same texts, with a jackknife error over the texts.

    Standard error: delete-a-group jackknife, ``jackknife_groups`` groups of texts (0 for none);
    each left-out fit re-centres the remaining texts. It covers the sampling of the texts (0 when
    ``y`` is ``x``, whose CKA is 1 on every subset).
    """
    a, b = as_states(x, "x", min_rows=2), as_states(y, "y", min_rows=2)
    _same_texts([a, b])
    n = a.shape[0]

    def stat(rows: np.ndarray) -> float:
        return linear_cka(a[rows], b[rows])

    value = stat(np.arange(n))
    if jackknife_groups >= 2 and n >= 4:
        return Measurement(value, grouped_jackknife(stat, n, jackknife_groups),
                        f"jackknife over {min(jackknife_groups, n)} groups of texts", n)
    return Measurement(value, float("nan"), "none: jackknife switched off or under 4 texts", n)


def cka_matrix(states: Sequence[np.ndarray]) -> np.ndarray:
    """(L, L) linear CKA between every pair of layers' (n, D_l) states of the same texts.

    Takes the cheaper of two routes: centred n × n Gram matrices once per layer (cost ~ L·n²·D,
    memory L·n² floats) when there are fewer texts than dimensions, otherwise feature-space cross
    products per pair (cost ~ L²·n·D²).
    """
    mats = [_centred(s, f"states[{i}]") for i, s in enumerate(states)]
    if not mats:
        raise MiTasksError("cka_matrix needs at least one layer's states")
    _same_texts(mats)
    n, d = mats[0].shape[0], max(m.shape[1] for m in mats)
    big_l = len(mats)
    out = np.empty((big_l, big_l))
    if n <= d:
        grams = [m @ m.T for m in mats]
        norms = [np.sqrt((g * g).sum()) for g in grams]
        for i in range(big_l):
            for j in range(i, big_l):
                denom = norms[i] * norms[j]
                out[i, j] = out[j, i] = (grams[i] * grams[j]).sum() / denom if denom > 0 else np.nan
        return out
    selfs = [np.sqrt(((m.T @ m) ** 2).sum()) for m in mats]
    for i in range(big_l):
        for j in range(i, big_l):
            c = mats[j].T @ mats[i]
            denom = selfs[i] * selfs[j]
            out[i, j] = out[j, i] = (c * c).sum() / denom if denom > 0 else np.nan
    return out


def matched_depth_cka(states_a: Sequence[np.ndarray], depths_a: Sequence[float],
                      states_b: Sequence[np.ndarray], depths_b: Sequence[float]) -> list[dict[str, float | int]]:
    """Linear CKA between model A's layers and model B's layer nearest in normalised depth (0 = embeddings, 1 = last).

    One row per layer of A: its index and depth, the matched layer of B and its depth, and the CKA.
    Both models must have read the same texts (same rows).
    """
    da, db = np.asarray(depths_a, dtype=np.float64), np.asarray(depths_b, dtype=np.float64)
    if da.size != len(states_a) or db.size != len(states_b):
        raise MiTasksError("matched_depth_cka needs one depth per layer for each model")
    if da.size == 0 or db.size == 0:
        raise MiTasksError("matched_depth_cka needs at least one layer per model")
    rows = []
    for i, depth in enumerate(da):
        j = int(np.argmin(np.abs(db - depth)))
        rows.append({"layer_a": i, "depth_a": float(depth), "layer_b": j, "depth_b": float(db[j]),
                     "cka": linear_cka(states_a[i], states_b[j])})
    return rows
