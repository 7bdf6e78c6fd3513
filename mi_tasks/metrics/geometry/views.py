"""Metrics on augmented views of the same texts: LiDAR, DiME and InfoNCE (as the study computes them).

Each takes one vector per view of each text (V views; 2 for DiME and InfoNCE). The views come from
``mi_tasks.data.augment``; each view costs one extra forward pass, which is why these metrics are
a separate task from the ones read off the main pass. ``mi_views`` gives them the study's vectors by
default (a view's token rows centred, unit length, averaged: the ``unit_token_mean`` reducer).
Every standard error here covers the sampling of the texts (and DiME's shuffles).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import logsumexp

from ...errors import MiTasksError
from ..uncertainty import HALF_SPLITS, half_sample_stderr, mean_stderr
from .arrays import (as_states, as_tensor_states, jackknife_stderr, max_entropy_normalised, psd_entropy,
                     spectrum_entropy)
from ..result import Measurement

LIDAR_DELTA = 1e-4
"""Ridge added to the within-text scatter (the LiDAR paper's and the study's δ)."""


def _span_coordinates(rows: torch.Tensor) -> torch.Tensor:
    """(N, r) coordinates of the centred rows in an orthonormal basis of the space they span, r ≤ min(N, D).

    LiDAR is unchanged by a rotation of the state space, and in the directions no row reaches the
    between-text scatter is zero, so those directions add only zero eigenvalues: the whole
    problem lives in the rows' span. With fewer rows than dimensions the coordinates come from
    the N × N Gram matrix (XXᵀ = P Σ Pᵀ gives X = (P Σ^½) Qᵀ with Q orthonormal), cost N²·D + N³
    instead of D³; otherwise the rows are their own coordinates. Directions whose Gram eigenvalue is
    at round-off level (below λ_max · max(N, D) · ε, as a numerical rank is decided) carry nothing.
    """
    x = rows - rows.mean(0)
    n_rows, d = x.shape
    if n_rows > d:
        return x
    evals, evecs = torch.linalg.eigh(x @ x.T)
    keep = evals > evals[-1].clamp_min(0) * max(n_rows, d) * torch.finfo(x.dtype).eps
    return evecs[:, keep] * evals[keep].sqrt()


def _lda_eigenvalues(means: torch.Tensor, within_scatter: torch.Tensor, n_rows: int, delta: float) -> torch.Tensor:
    """Eigenvalues of Sw^-½ Sb Sw^-½ (nonzero ones, plus round-off zeros) from the texts' view means.

    Sb = B'B/n with B the means about their mean; Sw = within_scatter / n_rows + δI = LLᵀ. The
    matrix L⁻¹ Sb L⁻ᵀ = YYᵀ/n, Y = L⁻¹Bᵀ, has the nonzero eigenvalues of YᵀY/n: the smaller of the two.
    """
    b = means - means.mean(0)
    eye = torch.eye(within_scatter.shape[0], dtype=b.dtype, device=b.device)
    chol = torch.linalg.cholesky(within_scatter / n_rows + delta * eye)
    y = torch.linalg.solve_triangular(chol, b.T, upper=False)
    small = y.T @ y if y.shape[1] <= y.shape[0] else y @ y.T
    return torch.linalg.eigvalsh(small / b.shape[0])


def _lidar_leave_group_out(means: torch.Tensor, within: torch.Tensor, total: torch.Tensor, delta: float,
                           groups: int) -> list[np.ndarray]:
    """LDA eigenvalues with each group of texts left out (text i in group i mod groups), from one basis.

    The rows of a subset span a subspace of the whole set's span, so the coordinates of the whole
    set serve every subset: ``means`` (n, r) the texts' view means (a text's does not depend on
    the others), ``within`` (n, V, r) the views about them, ``total`` their r × r scatter. A
    subset's within-text scatter is the total minus the left-out group's: each group costs one
    r × r Cholesky factorisation, never a pass over D.
    """
    n, v, r = within.shape
    idx = torch.arange(n, device=within.device)
    out = []
    for k in range(groups):
        out_k, keep = idx % groups == k, idx % groups != k
        wk = within[out_k].reshape(-1, r)
        scatter = total - wk.T @ wk
        out.append(_lda_eigenvalues(means[keep], scatter, int(keep.sum()) * v, delta).cpu().numpy())
    return out


def lidar(views: np.ndarray | torch.Tensor, delta: float = LIDAR_DELTA, alpha: float = 1.0, normalise: bool = True,
          jackknife_groups: int = 10) -> Measurement:
    """LiDAR (Thilak et al. 2023) of (n_texts, V, D) views: entropy of the LDA matrix Sw^-1/2 Sb Sw^-1/2.

    Sb is the scatter of the texts' view means about their mean (÷ n), Sw the scatter of views about
    their text's mean (÷ n·V) plus δ·I. Normalised by ln min(n, D) as in the study. Standard error:
    delete-a-group jackknife over texts (``jackknife_groups`` groups; 0 for none).

    Computed in the span of the n·V rows (no D × D matrix when n·V < D) and, for a tensor, on its
    device in float64; the jackknife reuses that span and updates the within-text scatter per group.
    """
    x = as_tensor_states(views, "views", ndim=3, min_rows=2)
    n, v, d = x.shape
    if v < 2:
        raise MiTasksError(f"LiDAR needs at least 2 views per text, got {v}; raise the number of views")
    if delta <= 0:
        raise MiTasksError(f"LiDAR's delta must be > 0, got {delta}")

    def stat(eigenvalues: np.ndarray, n_texts: int) -> float:
        h = spectrum_entropy(eigenvalues, alpha)
        return max_entropy_normalised(h, n_texts, d) if normalise else h

    c = _span_coordinates(x.reshape(n * v, d)).reshape(n, v, -1)
    means = c.mean(1)
    within = c - means[:, None]
    flat = within.reshape(n * v, -1)
    total = flat.T @ flat
    value = stat(_lda_eigenvalues(means, total, n * v, delta).cpu().numpy(), n)
    g = min(jackknife_groups, n)
    if g >= 2:
        left_out = _lidar_leave_group_out(means, within, total, delta, g)
        thetas = [stat(e, n - len(range(k, n, g))) for k, e in enumerate(left_out)]
        return Measurement(value, jackknife_stderr(thetas), f"jackknife over {g} groups of texts", n)
    return Measurement(value, float("nan"), "none: jackknife switched off (jackknife_groups < 2)", n)


def _pair(view_a: np.ndarray, view_b: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    a = as_states(view_a, f"{what} view_a", min_rows=2)
    b = as_states(view_b, f"{what} view_b", min_rows=2)
    if a.shape != b.shape:
        raise MiTasksError(f"{what} needs two views of the same texts, got shapes {a.shape} and {b.shape}")
    return a, b


def _dime_nats(ka: np.ndarray, kb: np.ndarray, rng: np.random.Generator, n_shuffles: int, alpha: float) -> float:
    """Mean over ``n_shuffles`` permutations P of H(Ka ∘ P·Kb·Pᵀ), minus H(Ka ∘ Kb) (nats)."""
    n = ka.shape[0]
    joint = psd_entropy(ka * kb, alpha)
    shuffled = [psd_entropy(ka * kb[np.ix_(p, p)], alpha) for p in (rng.permutation(n) for _ in range(n_shuffles))]
    return float(np.mean(shuffled) - joint)


def dime(view_a: np.ndarray, view_b: np.ndarray, seed: int = 0, n_shuffles: int = 10, alpha: float = 1.0,
         normalise: bool = True, half_splits: int = HALF_SPLITS) -> Measurement:
    """DiME (Skean et al. 2023): mean over shuffles of H(Ka ∘ P·Kb·Pᵀ) − H(Ka ∘ Kb), Grams over texts.

    Ka = A·Aᵀ and Kb = B·Bᵀ are the linear Gram matrices of the two views (n × n), ∘ the
    elementwise product, H the matrix-based entropy and P a seeded random permutation of the texts
    (``n_shuffles`` of them, the study's 10). Normalised by ln min(n, D).

    Standard error: half-sampling over texts (:func:`half_sample_stderr`, ``half_splits`` splits;
    0 for none), each half with its own ``n_shuffles`` shuffles, so it covers both the sampling of
    the texts and the shuffles. The spread of the shuffles alone is 4-20× smaller than the spread
    over texts; a bootstrap over texts would repeat texts, and a repeated row of a Gram matrix
    raises its entropy terms, inflating the error.
    """
    a, b = _pair(view_a, view_b, "DiME")
    if n_shuffles < 1:
        raise MiTasksError(f"DiME needs n_shuffles >= 1, got {n_shuffles}")
    n, d = a.shape
    ka, kb = a @ a.T, b @ b.T
    rng = np.random.default_rng(seed)

    def nats(rows: np.ndarray) -> float:
        return _dime_nats(ka[np.ix_(rows, rows)], kb[np.ix_(rows, rows)], rng, n_shuffles, alpha)

    scale = max_entropy_normalised(1.0, n, d) if normalise else 1.0  # the full sample's ln min(n, D), halves included
    value = nats(np.arange(n)) * scale
    se = half_sample_stderr(nats, n, half_splits, seed) * scale if half_splits >= 1 else float("nan")
    if math.isfinite(se):
        return Measurement(value, se, f"half-sampling over texts ({half_splits} splits into halves; "
                                   f"{n_shuffles} shuffles each)", n)
    return Measurement(value, se, "none: half-sampling switched off or under 4 texts", n)


def infonce(view_a: np.ndarray, view_b: np.ndarray, temperature: float = 0.1, cosine: bool = True) -> Measurement:
    """InfoNCE loss of matched views: mean over texts i of −log softmax_j(s(aᵢ, bⱼ) / τ)ᵢ (τ = 0.1, the study's).

    Lower is better: 0 when each text's own view dominates, ln n when the views carry nothing.
    ``s`` is the cosine similarity (rows scaled to unit length, as InfoNCE is used in contrastive
    learning): the authors' function takes the dot product of whatever it is given, and on raw
    language-model states, whose norms reach the hundreds, that loss grows with the norm (10^6 on
    SmolLM2's mean-pooled states) rather than with how alike the views are. ``cosine=False`` gives
    their raw form. Identical unit views give ln(1 + Σ_{j≠i} e^((cos_ij − 1)/τ)) per text.
    ``infonce_mi_bound`` turns it into the mutual-information lower bound. The standard error is
    over the per-text terms (sd/√n); they share negatives, so it is approximate.
    """
    a, b = _pair(view_a, view_b, "InfoNCE")
    if temperature <= 0:
        raise MiTasksError(f"InfoNCE's temperature must be > 0, got {temperature}")
    if cosine:
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), np.finfo(np.float64).tiny)
        b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), np.finfo(np.float64).tiny)
    logits = a @ b.T / temperature
    per_text = logsumexp(logits, axis=1) - np.diag(logits)
    return Measurement(float(per_text.mean()), mean_stderr(per_text),
                    "mean over texts (sd/sqrt n; texts share negatives, approximate)", a.shape[0])


def infonce_mi_bound(loss: float, n: int) -> tuple[float, float]:
    """(ln n − loss, 1 − loss / ln n): the InfoNCE bound on I(view a; view b) in nats and the study's normalised form."""
    if n < 2:
        raise MiTasksError(f"the InfoNCE bound needs at least 2 texts, got {n}")
    return math.log(n) - loss, 1.0 - loss / math.log(n)
