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
import scipy.linalg
from scipy.special import logsumexp

from ...errors import MiTasksError
from ..uncertainty import mean_stderr
from .arrays import (HALF_SPLITS, as_states, grouped_jackknife, half_sample_stderr, max_entropy_normalised, psd_entropy,
                     spectrum_entropy)
from .estimate import Estimate

LIDAR_DELTA = 1e-4
"""Ridge added to the within-text scatter (the LiDAR paper's and the study's δ)."""


def _lda_entropy(views: np.ndarray, delta: float, alpha: float) -> float:
    n, v, d = views.shape
    class_means = views.mean(axis=1)
    between = class_means - class_means.mean(axis=0)
    s_b = between.T @ between / n
    within = (views - class_means[:, None, :]).reshape(n * v, d)
    s_w = within.T @ within / (n * v) + delta * np.eye(d)
    # eigenvalues of Sw^-1/2 Sb Sw^-1/2 are the generalised eigenvalues of (Sb, Sw): one solve
    return spectrum_entropy(scipy.linalg.eigh(s_b, s_w, eigvals_only=True), alpha)


def lidar(views: np.ndarray, delta: float = LIDAR_DELTA, alpha: float = 1.0, normalise: bool = True,
          jackknife_groups: int = 10) -> Estimate:
    """LiDAR (Thilak et al. 2023) of (n_texts, V, D) views: entropy of the LDA matrix Sw^-1/2 Sb Sw^-1/2.

    Sb is the scatter of the texts' view means about their mean (÷ n), Sw the scatter of views about
    their text's mean (÷ n·V) plus δ·I. Normalised by ln min(n, D) as in the study. Standard error:
    delete-a-group jackknife over texts (``jackknife_groups`` groups; 0 for none).
    """
    x = as_states(views, "views", ndim=3, min_rows=2)
    n, v, d = x.shape
    if v < 2:
        raise MiTasksError(f"LiDAR needs at least 2 views per text, got {v}; raise the number of views")
    if delta <= 0:
        raise MiTasksError(f"LiDAR's delta must be > 0, got {delta}")

    def stat(rows: np.ndarray) -> float:
        h = _lda_entropy(x[rows], delta, alpha)
        return max_entropy_normalised(h, rows.size, d) if normalise else h

    value = stat(np.arange(n))
    if jackknife_groups >= 2:
        return Estimate(value, grouped_jackknife(stat, n, jackknife_groups),
                        f"jackknife over {min(jackknife_groups, n)} groups of texts", n)
    return Estimate(value, float("nan"), "none: jackknife switched off (jackknife_groups < 2)", n)


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
         normalise: bool = True, half_splits: int = HALF_SPLITS) -> Estimate:
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
        return Estimate(value, se, f"half-sampling over texts ({half_splits} splits into halves; "
                                   f"{n_shuffles} shuffles each)", n)
    return Estimate(value, se, "none: half-sampling switched off or under 4 texts", n)


def infonce(view_a: np.ndarray, view_b: np.ndarray, temperature: float = 0.1, cosine: bool = True) -> Estimate:
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
    return Estimate(float(per_text.mean()), mean_stderr(per_text),
                    "mean over texts (sd/sqrt n; texts share negatives, approximate)", a.shape[0])


def infonce_mi_bound(loss: float, n: int) -> tuple[float, float]:
    """(ln n − loss, 1 − loss / ln n): the InfoNCE bound on I(view a; view b) in nats and the study's normalised form."""
    if n < 2:
        raise MiTasksError(f"the InfoNCE bound needs at least 2 texts, got {n}")
    return math.log(n) - loss, 1.0 - loss / math.log(n)
