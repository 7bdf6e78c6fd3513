"""IE from plain state arrays: validation, then the Gaussian MI (via moments) or a trained critic per term."""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ...errors import MiTasksError
from ...states.layers import normalized_depth
from .estimators import METHODS, estimate_mi
from .gaussian import IE_PROJ_DIM, gaussian_result, gaussian_settings, micro_moments
from .moments import StateMoments
from ..result import LayerRow
from .result import EmergenceResult

MICRO_MODES = ("pooled", "per_position")
IE_MI_STEPS = 200  # critic steps of a neural IE estimator (the gaussian default trains nothing)


def emergence_from_states(macro: Any, micro: Any, *, micro_index: Any = None, layers: Sequence[int] | None = None,
                          num_layers: int | None = None, micro_mode: str = "pooled", mi_estimator: str = "gaussian",
                          proj_dim: int | None = IE_PROJ_DIM, mi_steps: int = IE_MI_STEPS, seed: int = 0, progress: bool = True,
                          estimator_kwargs: dict[str, Any] | None = None) -> EmergenceResult:
    """IE from plain arrays. ``macro`` (S, N, D): states at S state indices ``layers`` (default 0..S−1).

    ``micro`` is (S, N, T, D), or (S, U, D) unique-token states with ``micro_index`` (N, T) into U.
    IE is computed for every l in ``layers`` whose l+1 is also in ``layers``; ``num_layers``
    (default max(layers)) sets the depth l/L. ``mi_estimator="gaussian"`` (default) takes
    ``estimator_kwargs`` ``projection``, ``n_projections``, ``ridge``, ``bias_correction``; its
    pooled micro term uses all N·T positions. The neural estimators train ``mi_steps`` per estimate;
    their pooled micro term uses one seeded random position per window (same N and split as the
    macro term).
    """
    if micro_mode not in MICRO_MODES:
        raise MiTasksError(f"unknown micro mode {micro_mode!r}: use one of {', '.join(MICRO_MODES)}")
    if mi_estimator not in METHODS:
        raise MiTasksError(f"unknown mi_estimator {mi_estimator!r}: use one of {', '.join(METHODS)}")
    macro, flat, index = _checked_states(macro, micro, micro_index)
    S, T = macro.shape[0], index.shape[1]
    labels = list(range(S)) if layers is None else [int(l) for l in layers]
    if len(labels) != S:
        raise MiTasksError(f"layers names {len(labels)} states but macro holds {S}")
    L = int(num_layers) if num_layers is not None else max(labels)
    pairs = [(j, labels.index(l + 1)) for j, l in enumerate(labels) if l + 1 in labels]
    if not pairs:
        raise MiTasksError(f"IE needs consecutive states l and l+1; layers {labels} hold no such pair")
    if mi_estimator == "gaussian":
        est = gaussian_settings(proj_dim, dict(estimator_kwargs or {}))
        return gaussian_result(StateMoments.of_arrays(macro, pairs), micro_moments(flat, index, pairs, micro_mode),
                                labels, L, T, micro_mode, est, seed)
    est = dict(method=mi_estimator, proj_dim=proj_dim, steps=mi_steps, seed=seed, **(estimator_kwargs or {}))
    return _critic_result(macro, flat, index, pairs, labels, L, micro_mode, est, progress)


def _checked_states(macro: Any, micro: Any, micro_index: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(macro (S, N, D), micro states (S, U, D), index (N, T) into U) as float32 arrays, shapes and values checked."""
    macro = np.asarray(macro, dtype=np.float32)
    micro = np.asarray(micro, dtype=np.float32)
    if macro.ndim != 3:
        raise MiTasksError(f"macro must be (layers, N, D), got shape {macro.shape}")
    S, N, _ = macro.shape
    if micro_index is None:
        if micro.ndim != 4 or micro.shape[:2] != (S, N):
            raise MiTasksError(f"micro must be (layers, N, T, D) matching macro {macro.shape}, got {micro.shape}")
        T = micro.shape[2]
        flat = micro.reshape(S, N * T, micro.shape[3])
        index = np.arange(N * T).reshape(N, T)
    else:
        index = np.asarray(micro_index)
        if micro.ndim != 3 or micro.shape[0] != S or index.ndim != 2 or index.shape[0] != N:
            raise MiTasksError(f"with micro_index (N, T), micro must be (layers, U, D); got micro {micro.shape}, "
                               f"index {index.shape}, macro {macro.shape}")
        if index.min() < 0 or index.max() >= micro.shape[1]:
            raise MiTasksError("micro_index points outside the micro states")
        flat = micro
    if not (np.isfinite(macro).all() and np.isfinite(flat).all()):
        raise MiTasksError("states contain NaN or inf; recompute them in float32")
    return macro, flat, index


def _critic_result(macro: np.ndarray, flat: np.ndarray, index: np.ndarray, pairs: list[tuple[int, int]],
                   labels: list[int], L: int, micro_mode: str, est: dict[str, Any], progress: bool) -> EmergenceResult:
    """IE with a trained critic per MI term (``est``: estimate_mi's settings, ``method`` among the neural ones)."""
    N, T = index.shape
    positions = np.random.default_rng(est["seed"]).integers(0, T, size=N)
    rows_pooled = index[np.arange(N), positions]
    out, t_est = [], time.perf_counter()
    for j, k in tqdm(pairs, desc="IE estimators", unit="layer", disable=not progress, leave=False):
        mi_macro = estimate_mi(macro[k], macro[j], **est).bits
        if micro_mode == "pooled":
            mi_micro = estimate_mi(flat[k][rows_pooled], flat[j][rows_pooled], **est).bits
        else:
            mi_micro = float(np.mean([estimate_mi(flat[k][index[:, t]], flat[j][index[:, t]], **est).bits
                                      for t in range(T)]))
        l = labels[j]
        out.append(LayerRow(l, normalized_depth(l, L),
                            {"ie_bits": mi_macro - mi_micro, "mi_macro_bits": mi_macro, "mi_micro_bits": mi_micro}))
    method, proj_dim = est["method"], est["proj_dim"]
    definition = (f"{method} estimate with a trained critic on states projected to proj_dim={proj_dim} "
                  + ("(full batch, maximum over training: biased upward)" if method == "mine_paper"
                     else "(held-out bound)"))
    meta = {"window": T, "n_windows": N, "micro_mode": micro_mode, "estimator": est, "mi_definition": definition,
            "num_layers": L, "seed": est["seed"], "timings": {"estimator_s": time.perf_counter() - t_est}}
    return EmergenceResult(layers=out, meta=meta)
