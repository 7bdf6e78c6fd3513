"""Mutual-information estimators for paired continuous samples, validated on Gaussians.

``estimate_mi(x, y, method=...)`` checks the rows and settings and returns an
:class:`~.mi_estimate.MIEstimate` in bits from one of two kinds: ``gaussian``, the closed-form
linear-Gaussian MI of the ridged covariances (:mod:`.closed_form`), or a neural bound from a
trained critic (``infonce``, ``dv``, ``smile``, and the IE paper's biased ``mine_paper``;
:mod:`.critics`). Each module's docstring says what its estimate is and how it is biased.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ...errors import MiTasksError
from .closed_form import DEFAULT_RIDGE, GAUSSIAN_PROJECTIONS, PROJECTIONS, gaussian_mi_from_cov
from .critics import CriticRun, mine_paper_estimate, neural_estimate
from .mi_estimate import MIN_SAMPLES, MIEstimate
from .threads import torch_threads

METHODS = ("gaussian", "infonce", "dv", "smile", "mine_paper")


def estimate_mi(
    x: Any,
    y: Any,
    *,
    method: str = "infonce",
    proj_dim: int | None = 32,
    projection: str = "pca",
    hidden: int = 64,
    embed: int = 32,
    steps: int = 300,
    batch_size: int = 256,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
    eval_fraction: float = 0.3,
    val_fraction: float = 0.2,
    eval_every: int = 20,
    eval_block: int = 2048,
    tau: float = 5.0,
    ridge: float = DEFAULT_RIDGE,
    bias_correction: bool = True,
    n_projections: int = 16,
    seed: int = 0,
    num_threads: int | None = 1,
) -> MIEstimate:
    """Estimate I(x; y) in bits from paired rows of ``x`` (N, Dx) and ``y`` (N, Dy).

    ``method="gaussian"``: the linear-Gaussian MI of all rows (no split, no training) from their
    float64 covariances, see :func:`gaussian_mi_from_cov` (``proj_dim``, ``projection`` — also
    ``shared_random`` —, ``n_projections``, ``ridge``, ``bias_correction``; the critic settings
    are ignored).
    ``method="mine_paper"``: the IE paper's biased protocol (all rows, full batch, maximum over
    ``steps``; ``bits`` = that maximum, ``train_bits`` = the last value, ``n_eval`` = 0).

    Neural bounds (``infonce``, ``dv``, ``smile``): rows are shuffled with ``seed`` and split:
    ``eval_fraction`` held out, the rest trains the critic for ``steps`` Adam steps on minibatches
    of ``batch_size`` (negatives = the other rows of the batch). ``bits`` is the bound on the
    held-out rows in blocks of up to ``eval_block`` (InfoNCE's cap is log2 of the block size,
    reported as ``upper_limit_bits``); ``train_bits`` is the same bound on as many train rows, so a
    large gap signals overfitting. ``proj_dim`` (None = keep all) reduces each side to that many
    PCA (``projection="pca"``, whitened) or random orthonormal directions after standardizing;
    both fitted on train rows.
    """
    _check_settings(method, projection, proj_dim, val_fraction, eval_fraction, steps=steps, batch_size=batch_size,
                    hidden=hidden, embed=embed, eval_block=eval_block, eval_every=eval_every)
    xa, ya = _as_matrix(x, "x"), _as_matrix(y, "y")
    if xa.shape[0] != ya.shape[0]:
        raise MiTasksError(f"x and y must hold the same samples row by row: got {xa.shape[0]} and {ya.shape[0]} rows")
    n = xa.shape[0]
    if method in ("gaussian", "mine_paper") and n < MIN_SAMPLES:
        raise MiTasksError(f"too few samples for an MI estimate: got {n} rows, need at least {MIN_SAMPLES}")
    if method == "gaussian":
        with torch_threads(num_threads):
            xt, yt = torch.from_numpy(xa), torch.from_numpy(ya)
            xt, yt = xt - xt.mean(0), yt - yt.mean(0)
            cxx, cyy, cxy = ((a.T @ b / n).numpy() for a, b in ((xt, xt), (yt, yt), (xt, yt)))
        return gaussian_mi_from_cov(cxx, cyy, cxy, n, proj_dim=proj_dim, projection=projection,
                                    n_projections=n_projections, ridge=ridge, bias_correction=bias_correction,
                                    seed=seed)
    if method == "mine_paper":
        return mine_paper_estimate(xa, ya, proj_dim, projection, hidden, steps, lr, seed, num_threads)
    critic = CriticRun(method=method, hidden=hidden, embed=embed, steps=steps, batch_size=batch_size, lr=lr,
                        weight_decay=weight_decay, val_fraction=val_fraction, eval_every=eval_every,
                        eval_block=eval_block, tau=tau, seed=seed)
    return neural_estimate(xa, ya, critic, proj_dim, projection, eval_fraction, num_threads)


def _check_settings(method: str, projection: str, proj_dim: int | None, val_fraction: float, eval_fraction: float,
                    **positive: int) -> None:
    """Every estimator setting checked before any work, each error naming the setting and its range."""
    if method not in METHODS:
        raise MiTasksError(f"unknown MI method {method!r}: use one of {', '.join(METHODS)}")
    allowed = GAUSSIAN_PROJECTIONS if method == "gaussian" else PROJECTIONS
    if projection not in allowed:
        raise MiTasksError(f"unknown projection {projection!r} for method {method!r}: use one of {', '.join(allowed)}")
    if proj_dim is not None and proj_dim < 1:
        raise MiTasksError(f"proj_dim must be >= 1 or None, got {proj_dim}")
    if not 0.0 <= val_fraction < 1.0:
        raise MiTasksError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    if not 0.0 < eval_fraction < 1.0:
        raise MiTasksError(f"eval_fraction must lie in (0, 1), got {eval_fraction}")
    for name, v in positive.items():
        if v < 1:
            raise MiTasksError(f"{name} must be >= 1, got {v}")
    if positive["batch_size"] < 2 or positive["eval_block"] < 2:
        raise MiTasksError("batch_size and eval_block must be >= 2: contrastive bounds need negatives")


def _as_matrix(a: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(a.detach().cpu().float().numpy() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise MiTasksError(f"{name} must be a numeric array of shape (N, D): {e}") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise MiTasksError(f"{name} must be (N, D) (one row per sample), got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise MiTasksError(f"{name} has no feature columns")
    if not np.isfinite(arr).all():
        raise MiTasksError(f"{name} contains NaN or inf; drop or recompute those rows (e.g. in float32)")
    return arr

