"""Input checks and the shared linear algebra of the geometry metrics (float64 inside)."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ...errors import MiTasksError


def as_states(x: np.ndarray, name: str = "states", ndim: int = 2, min_rows: int = 1) -> np.ndarray:
    """``x`` as a finite float64 array of ``ndim`` dimensions with at least ``min_rows`` rows."""
    a = np.asarray(x)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise MiTasksError(f"{name} must be a numeric array, got dtype {a.dtype}; pass hidden states as numpy floats")
    a = a.astype(np.float64, copy=False)
    if a.ndim != ndim:
        raise MiTasksError(f"{name} must have {ndim} dimensions, got shape {a.shape}")
    if a.shape[0] < min_rows:
        raise MiTasksError(f"{name} needs at least {min_rows} rows, got {a.shape[0]}; pass more texts")
    if not np.isfinite(a).all():
        raise MiTasksError(f"{name} contain NaN or inf; check the model's dtype (reload in float32)")
    return a


def as_tensor_states(x: np.ndarray | torch.Tensor, name: str = "states", ndim: int = 2,
                     min_rows: int = 1) -> torch.Tensor:
    """``x`` as a finite float64 tensor, checked as :func:`as_states` checks arrays.

    A tensor stays on its device (the model's, when the pass kept its states there), so the
    metric's linear algebra runs where the states are; a numpy array becomes a CPU tensor.
    """
    if not isinstance(x, torch.Tensor):
        return torch.from_numpy(as_states(x, name, ndim, min_rows))
    if x.is_complex() or not (x.is_floating_point() or x.dtype in (torch.int8, torch.int16, torch.int32, torch.int64,
                                                                    torch.uint8)):
        raise MiTasksError(f"{name} must be a real numeric tensor, got dtype {x.dtype}; pass hidden states as floats")
    if x.ndim != ndim:
        raise MiTasksError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    if x.shape[0] < min_rows:
        raise MiTasksError(f"{name} needs at least {min_rows} rows, got {x.shape[0]}; pass more texts")
    t = x.detach().to(torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise MiTasksError(f"{name} contain NaN or inf; check the model's dtype (reload in float32)")
    return t


def centre_unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows centred on their mean, then scaled to unit L2 length (rows of zero length stay zero).

    The authors apply this to every text's token states before entropy and curvature.
    """
    z = x - x.mean(axis=0, keepdims=True)
    norm = np.linalg.norm(z, axis=1, keepdims=True)
    return np.divide(z, norm, out=np.zeros_like(z), where=norm > 0)


def spectrum_entropy(eigenvalues: np.ndarray, alpha: float = 1.0) -> float:
    """Rényi entropy (nats) of the positive eigenvalues rescaled to sum 1; Shannon at alpha = 1.

    This is matrix-based entropy as the study's library computes it: eigenvalues that are not
    positive (round-off) are left out before the rescaling.
    """
    if alpha <= 0:
        raise MiTasksError(f"Rényi order alpha must be > 0, got {alpha}")
    lam = np.asarray(eigenvalues, dtype=np.float64)
    lam = lam[lam > 0]
    if lam.size == 0:
        return float("nan")
    lam = lam / lam.sum()
    if abs(alpha - 1.0) < 1e-12:
        return float(-(lam * np.log(lam)).sum())
    return float(np.log((lam ** alpha).sum()) / (1.0 - alpha))


def psd_entropy(matrix: np.ndarray | torch.Tensor, alpha: float = 1.0) -> float:
    """Matrix-based entropy of a symmetric positive semi-definite matrix (its spectrum's entropy).

    The eigenvalues come from torch, on the matrix's device: numpy's OpenBLAS eigensolver spin-waits
    on shared cores (50x slower than torch's for a 256 × 256 Gram matrix on 2 busy vCPUs).
    """
    t = matrix if isinstance(matrix, torch.Tensor) else torch.from_numpy(np.asarray(matrix, dtype=np.float64))
    return spectrum_entropy(torch.linalg.eigvalsh(t.to(torch.float64)).cpu().numpy(), alpha)


def max_entropy_normalised(h: float, n: int, d: int) -> float:
    """``h`` divided by ln min(n, d), the study's 'maxEntropy' normalisation; NaN if min(n, d) < 2."""
    cap = math.log(min(n, d)) if min(n, d) >= 2 else 0.0
    return h / cap if cap > 0 else float("nan")


def grouped_jackknife(statistic: Callable[[np.ndarray], float], n: int, groups: int = 10) -> float:
    """Delete-a-group jackknife standard error of ``statistic(row indices)`` over ``n`` rows.

    Rows are dealt into ``groups`` groups by index (row i in group i mod groups), so the answer is
    deterministic. Each group left out once: se² = (G-1)/G · Σ (θ₋g − mean θ₋)². NaN below 2 groups.
    """
    g = min(groups, n)
    if g < 2:
        return float("nan")
    idx = np.arange(n)
    return jackknife_stderr([statistic(idx[idx % g != k]) for k in range(g)])


def jackknife_stderr(leave_one_out: Sequence[float]) -> float:
    """se² = (G-1)/G · Σ (θ₋g − mean θ₋)² of the G leave-a-group-out values (non-finite ones left out)."""
    thetas = np.asarray(leave_one_out, dtype=np.float64)
    thetas = thetas[np.isfinite(thetas)]
    if thetas.size < 2:
        return float("nan")
    return float(math.sqrt((thetas.size - 1) / thetas.size * ((thetas - thetas.mean()) ** 2).sum()))
