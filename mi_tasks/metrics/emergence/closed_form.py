"""The closed-form linear-Gaussian MI: no training, a function of covariances only.

``gaussian`` (the default of Information Emergence) is the linear-Gaussian MI
I_G(X;Y) = −½ Σ_i log2(1 − ρ_i²) of the canonical correlations ρ_i of the projected,
ridge-regularised states: the exact MI of the Gaussian with the same (regularised) covariance,
i.e. of (X̃ + ε_x, Ỹ + ε_y) with independent isotropic noise ε of variance ``ridge`` times the
mean projected variance. X̃ = ``proj_dim`` directions of the z-scored X: each side's top
principal directions (``projection="pca"``, not whitened), or seeded random orthonormal frames,
the same one on both sides (``"shared_random"``, for x and y in one coordinate system) or one
per side (``"random"``), with the MI averaged over ``n_projections`` frames. Finite for
deterministic or rank-deficient states, a function of the covariances only (computed in float64
from means and covariances, so many rows are cheap), and it converges as rows grow. The plug-in
value is biased upward by ≈ k_x·k_y/(2n ln2) bits; by default the exact Gaussian (Wishart)
expectation of that bias is subtracted (``bias_correction``).

It also holds what checks every estimator against a known answer: the MI of correlated Gaussians
in closed form, and samples of them.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg
from scipy.special import digamma

from ...errors import MiTasksError
from .mi_estimate import BIAS_NOTES, LN2, MIEstimate
from .threads import blas_threads

PROJECTIONS = ("pca", "random")
"""Directions a projection can keep: the top principal ones, or a seeded random frame."""
GAUSSIAN_PROJECTIONS = (*PROJECTIONS, "shared_random")
DEFAULT_RIDGE = 1e-3
GAUSSIAN_DEFINITION = (
    "linear-Gaussian MI: -1/2 sum_i log2(1 - rho_i^2) over the canonical correlations of k = proj_dim "
    "directions of the z-scored states (projection: pca = each side's top-k principal directions; "
    "shared_random = the same seeded random orthonormal k-frame on both sides, averaged over n_projections "
    "frames), each covariance block ridged by ridge * its mean eigenvalue (= exact MI of the Gaussian with that "
    "covariance, i.e. with isotropic Gaussian noise of that variance added); minus the Gaussian (Wishart) "
    "plug-in bias when bias_correction"
)


def gaussian_mi_bits(rho: float, dim: int) -> float:
    """Closed-form MI (bits) of x, y in R^dim with unit variances and corr(x_i, y_i) = rho, independent across i."""
    if not -1.0 < rho < 1.0:
        raise MiTasksError(f"rho must lie strictly between -1 and 1, got {rho}")
    if dim < 1:
        raise MiTasksError(f"dim must be >= 1, got {dim}")
    return float(-0.5 * dim * math.log2(1.0 - rho * rho))


def rho_for_bits(bits: float, dim: int) -> float:
    """The per-dimension correlation that gives ``bits`` of MI in ``dim`` dimensions (inverse of the above)."""
    if bits < 0 or dim < 1:
        raise MiTasksError(f"need bits >= 0 and dim >= 1, got bits={bits}, dim={dim}")
    return float(math.sqrt(1.0 - 2.0 ** (-2.0 * bits / dim)))


def sample_correlated_gaussians(n: int, dim: int, rho: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` pairs (x, y) with x ~ N(0, I), y = rho·x + sqrt(1 − rho²)·noise, float32 (N, dim) each."""
    gaussian_mi_bits(rho, dim)  # validates rho and dim
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    y = rho * x + math.sqrt(1.0 - rho * rho) * rng.standard_normal((n, dim))
    return x.astype(np.float32), y.astype(np.float32)



def wishart_bias_bits(n: float, dx: int, dy: int) -> float:
    """Expected upward bias (bits) of the plug-in Gaussian MI from ``n`` rows of Gaussian data.

    ½[B(dx) + B(dy) − B(dx + dy)] with B(d) = E[log det S] − log det Σ = Σ_{i=1..d} ψ((n − i)/2)
    + d·log(2/(n − 1)) for a sample covariance S on n − 1 degrees of freedom; ≈ dx·dy/(2n ln2).
    Exact for Gaussian rows and no ridge; NaN when n <= dx + dy (undefined).
    """
    if n <= dx + dy:
        return float("nan")

    def b(d: int) -> float:
        return float(np.sum(digamma((n - np.arange(1, d + 1)) / 2.0)) + d * math.log(2.0 / (n - 1)))

    return 0.5 * (b(dx) + b(dy) - b(dx + dy)) / LN2


def _inv_std(cov: np.ndarray) -> np.ndarray:
    """1/std per coordinate; (near-)zero-variance coordinates are left unscaled."""
    std = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    std[std < 1e-8 * max(1.0, float(std.max(initial=0.0)))] = 1.0
    return 1.0 / std


def random_frames(d: int, dim: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` seeded random orthonormal (d, dim) frames (frame r drawn from seed + r)."""
    with blas_threads(1):
        return [np.linalg.qr(np.random.default_rng(seed + r).standard_normal((d, dim)))[0] for r in range(count)]


def standardized_projection(cov: Any, dim: int | None, kind: str = "pca", seed: int = 0) -> np.ndarray:
    """(D, k) map from centred rows to ``dim`` directions of the z-scored variable.

    ``kind="pca"``: the top-``dim`` eigenvectors of the correlation matrix (not whitened, so the
    directions keep their variances); ``"random"``: a seeded random orthonormal frame. ``dim``
    None or >= D keeps the z-scoring alone. Coordinates with (near-)zero variance are left unscaled.
    """
    cov = np.asarray(cov, dtype=np.float64)
    inv = _inv_std(cov)
    d = cov.shape[0]
    if dim is None or dim >= d:
        return np.diag(inv)
    if kind == "pca":
        with blas_threads(1):
            _, vecs = scipy.linalg.eigh(cov * inv[:, None] * inv[None, :], subset_by_index=[d - dim, d - 1])
        w = vecs[:, ::-1]  # eigh returns ascending eigenvalues
    elif kind == "random":
        w = random_frames(d, dim, 1, seed)[0]
    else:
        raise MiTasksError(f"unknown projection {kind!r}: use one of {', '.join(PROJECTIONS)}")
    return np.ascontiguousarray(w * inv[:, None])


def projection_pairs(cxx: np.ndarray, cyy: np.ndarray, dim: int | None, kind: str = "pca", count: int = 16,
                     seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (px, py) maps the Gaussian MI is averaged over (one pair for ``pca``, ``count`` for the random kinds).

    ``pca``: each side's own top-``dim`` principal directions; ``random``: independent random frames
    per side; ``shared_random``: the same random frame for both sides (for x and y in one
    coordinate system, e.g. residual-stream states of adjacent layers; needs Dx == Dy).
    """
    if kind not in GAUSSIAN_PROJECTIONS:
        raise MiTasksError(f"unknown projection {kind!r}: use one of {', '.join(GAUSSIAN_PROJECTIONS)}")
    dx, dy = cxx.shape[0], cyy.shape[0]
    if kind == "pca" or dim is None or dim >= min(dx, dy):
        return [(standardized_projection(cxx, dim, "pca"), standardized_projection(cyy, dim, "pca"))]
    if count < 1:
        raise MiTasksError(f"n_projections must be >= 1, got {count}")
    ix, iy = _inv_std(cxx)[:, None], _inv_std(cyy)[:, None]
    if kind == "shared_random":
        if dx != dy:
            raise MiTasksError(f"projection='shared_random' needs x and y of one dimension, got {dx} and {dy}")
        return [(w * ix, w * iy) for w in random_frames(dx, dim, count, seed)]
    return [(w * ix, v * iy) for w, v in zip(random_frames(dx, dim, count, seed),
                                              random_frames(dy, dim, count, seed + count))]


def canonical_correlations(sxx: np.ndarray, syy: np.ndarray, sxy: np.ndarray, ridge: float) -> np.ndarray:
    """Canonical correlations of the blocks after adding ``ridge`` × (mean eigenvalue) to each diagonal block."""
    def chol(s: np.ndarray) -> np.ndarray:
        k = s.shape[0]
        scale = float(np.trace(s)) / k
        reg = s + ridge * (scale if scale > 0 else 1.0) * np.eye(k)
        try:
            return np.linalg.cholesky(reg)
        except np.linalg.LinAlgError:
            raise MiTasksError("a covariance block is singular (deterministic or rank-deficient states): "
                               "use ridge > 0") from None

    with blas_threads(1):
        lx, ly = chol(sxx), chol(syy)
        t = np.linalg.solve(ly, np.linalg.solve(lx, sxy).T).T  # Lx^-1 Sxy Ly^-T
        rho = np.linalg.svd(t, compute_uv=False)
    return np.clip(rho, 0.0, 1.0 - 1e-15)


def gaussian_mi_from_cov(cxx: Any, cyy: Any, cxy: Any, n: float, *, proj_dim: int | None = 16,
                         projection: str = "pca", n_projections: int = 16, ridge: float = DEFAULT_RIDGE,
                         bias_correction: bool = True, frames: list[tuple[np.ndarray, np.ndarray]] | None = None,
                         seed: int = 0) -> MIEstimate:
    """Linear-Gaussian MI (bits) from the covariances of x (Dx×Dx), y (Dy×Dy) and x–y (Dx×Dy) over ``n`` rows.

    For each projection pair of :func:`projection_pairs` (or the given ``frames``): ridge each
    block by ``ridge`` × its mean eigenvalue, take −½ Σ log2(1 − ρ_i²) of the canonical
    correlations and subtract :func:`wishart_bias_bits` when ``bias_correction`` (skipped, and
    recorded so, when n <= k_x + k_y); ``bits`` is the mean over the pairs, ``train_bits`` the
    mean plug-in value.
    """
    if not ridge >= 0:
        raise MiTasksError(f"ridge must be >= 0, got {ridge}")
    if proj_dim is not None and proj_dim < 1:
        raise MiTasksError(f"proj_dim must be >= 1 or None, got {proj_dim}")
    cxx, cyy, cxy = (np.asarray(a, dtype=np.float64) for a in (cxx, cyy, cxy))
    if cxy.shape != (cxx.shape[0], cyy.shape[0]):
        raise MiTasksError(f"cross-covariance shape {cxy.shape} does not match {cxx.shape} and {cyy.shape}")
    frames = projection_pairs(cxx, cyy, proj_dim, projection, n_projections, seed) if frames is None else frames
    plugins, rho_max = [], 0.0
    for px, py in frames:
        with blas_threads(1):
            sxx, syy, sxy = px.T @ cxx @ px, py.T @ cyy @ py, px.T @ cxy @ py
        rho = canonical_correlations(sxx, syy, sxy, ridge)
        plugins.append(float(-0.5 * np.sum(np.log1p(-rho * rho)) / LN2))
        rho_max = max(rho_max, float(rho.max(initial=0.0)))
    plugin = float(np.mean(plugins))
    kx, ky = frames[0][0].shape[1], frames[0][1].shape[1]
    bias = wishart_bias_bits(n, kx, ky) if bias_correction else float("nan")
    corrected = bool(bias_correction and math.isfinite(bias))
    bits = plugin - bias if corrected else plugin
    if not math.isfinite(bits):
        raise MiTasksError("the Gaussian MI is not finite; use ridge > 0")
    settings = dict(proj_dim=proj_dim, projection=projection, n_projections=len(frames), ridge=ridge,
                    bias_correction=corrected, bias_bits=bias if corrected else 0.0, k_x=kx, k_y=ky,
                    dim_x=cxx.shape[0], dim_y=cyy.shape[0], n=float(n), rho_max=rho_max,
                    definition=GAUSSIAN_DEFINITION)
    return MIEstimate(bits=bits, train_bits=plugin, method="gaussian", n_train=int(round(n)), n_eval=0,
                      upper_limit_bits=None, bias=BIAS_NOTES["gaussian"], settings=settings)
