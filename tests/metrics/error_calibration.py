"""Do the printed standard errors hold? Each metric's mean reported error against its spread over independent draws.

Every metric that prints a ± is computed, through the code that prints it, on ``draws`` independent
samples of texts from a known generator; the ratio mean(reported standard error) / sd(estimates
over the draws) should be near 1 (an error bar 4× too small reads 0.25). Used by the quick test
(tests/metrics/test_error_calibration.py, small draws) and by benchmarks/error_calibration.py (the table in
docs/metrics.md). Recoverability's decoder is fitted once on its own draw and held fixed: its
errors cover the eval texts given the fitted decoder, as documented.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from mi_tasks.metrics.entropy.embeddings import DatasetEntropyScorer
from mi_tasks.metrics.entropy.probe import EntropyProbe
from mi_tasks.metrics.entropy.spectra import SPECTRA
from mi_tasks.metrics.geometry import curvature, dime, gride, infonce, lidar, twonn
from mi_tasks.metrics.geometry.cka import cka_with_error
from mi_tasks.metrics.recoverability.probe import RecoverabilityProbe
from mi_tasks.states.extraction import StateBatch


@dataclass(frozen=True)
class Calibration:
    """One metric's check: draws, what a draw holds, mean reported error, observed spread, their ratio."""

    family: str
    metric: str
    draws: int
    size: str
    mean_reported: float
    observed: float

    @property
    def ratio(self) -> float:
        return self.mean_reported / self.observed if self.observed > 0 else math.nan


# one draw -> {metric: (value, reported stderr)}
Draw = Callable[[np.random.Generator], dict[str, tuple[float, float]]]


def _gaussian_manifold(rng: np.random.Generator, n: int, d: int = 4, ambient: int = 16) -> np.ndarray:
    """n points of a d-dimensional Gaussian placed in a fixed ``ambient``-dimensional space (plus tiny noise)."""
    basis = np.linalg.qr(np.random.default_rng(7).standard_normal((ambient, d)))[0].T
    return rng.standard_normal((n, d)) @ basis + 1e-3 * rng.standard_normal((n, ambient))


def geometry_draw(n: int, tokens: int = 12, dim: int = 16) -> Draw:
    """Curvature of persistent random walks over tokens; TwoNN, GRIDE on a 4-d Gaussian; CKA of noisy copies."""
    def draw(rng: np.random.Generator) -> dict[str, tuple[float, float]]:
        walks = []
        for _ in range(n):
            steps = rng.standard_normal((tokens, dim)) + 2.0 * rng.standard_normal(dim)  # a drift: curvature < π/2
            walks.append(np.cumsum(steps, axis=0))
        points = _gaussian_manifold(rng, n)
        x = rng.standard_normal((n, 8))
        y = np.tanh(x @ np.random.default_rng(3).standard_normal((8, 8))) + 0.7 * rng.standard_normal((n, 8))
        out = {"curvature": curvature(walks), "twonn": twonn(points, seed=int(rng.integers(1 << 30))),
               "gride": gride(points, n1=2, seed=int(rng.integers(1 << 30))), "cka_to_last": cka_with_error(x, y)}
        return {k: (e.value, e.stderr) for k, e in out.items()}
    return draw


def views_draw(n: int, dim: int = 12, n_views: int = 4, noise: float = 0.8) -> Draw:
    """Views of a text = its latent vector + independent noise: LiDAR over all views, DiME and InfoNCE over two."""
    def draw(rng: np.random.Generator) -> dict[str, tuple[float, float]]:
        latent = rng.standard_normal((n, 1, dim)) * np.linspace(2.0, 0.2, dim)
        views = latent + noise * rng.standard_normal((n, n_views, dim))
        out = {"lidar": lidar(views), "dime": dime(views[:, 0], views[:, 1], seed=int(rng.integers(1 << 30))),
               "infonce": infonce(views[:, 0], views[:, 1], temperature=0.5)}
        return {k: (e.value, e.stderr) for k, e in out.items()}
    return draw


def entropy_draw(n: int, tokens: tuple[int, int] = (4, 16), dim: int = 24, layers: int = 2) -> Draw:
    """Prompt entropy and effective rank of token states of random rank, through the entropy probe's own code."""
    def draw(rng: np.random.Generator) -> dict[str, tuple[float, float]]:
        t_max = tokens[1]
        lengths = rng.integers(tokens[0], t_max + 1, size=n)
        rank = rng.integers(1, 6, size=n)
        x = np.zeros((layers, n, t_max, dim), dtype=np.float32)
        for i in range(n):
            for j in range(layers):
                x[j, i, :lengths[i]] = (rng.standard_normal((lengths[i], rank[i] + j)) @
                                        rng.standard_normal((rank[i] + j, dim)) + 0.3 * rng.standard_normal((lengths[i], dim)))
        mask = torch.as_tensor(np.arange(t_max)[None, :] < lengths[:, None])
        states = torch.as_tensor(x)
        spectra = torch.stack([SPECTRA(states[j], mask) for j in range(layers)])
        pooled = (states * mask[None, :, :, None]).sum(2) / mask.sum(1)[None, :, None]
        batch = StateBatch(indices=np.arange(n), states=pooled, targets=[np.empty(0, np.int64)] * n,
                           layers=list(range(layers)), reduced={SPECTRA.name: spectra}, n_tokens=mask.sum(1))
        row = EntropyProbe(random_baseline=False).score_stream([batch], n, layers).layers[-1]
        return {m: (row[m], row.stderr(m)) for m in ("prompt_entropy", "prompt_effective_rank")}
    return draw


def embedding_entropy_draw(n: int, dim: int = 64) -> Draw:
    """Dataset entropy and effective rank of anisotropic Gaussian embeddings (an offset mean, scales 1 to 0.05),
    through the MTEB task's scorer (:class:`~mi_tasks.metrics.entropy.embeddings.DatasetEntropyScorer`)."""
    scales = np.linspace(1.0, 0.05, dim)

    def draw(rng: np.random.Generator) -> dict[str, tuple[float, float]]:
        x = (rng.standard_normal((n, dim)) * scales + 0.3).astype(np.float32)
        scores = DatasetEntropyScorer([], [f"text {i}" for i in range(n)], seed=int(rng.integers(2**31))).score(None, x).scores
        return {m: (scores[m], scores.stderr(m)) for m in ("dataset_entropy", "dataset_effective_rank")}
    return draw


RECOVERABILITY_METRICS = ("recall_at_k", "lift_recall_at_k", "cosine", "cross_entropy_bits", "fano_mi_bits",
                          "fano_mi_bits_empirical", "ba_mi_bits")


def _token_texts(rng: np.random.Generator, n: int, vocab: int, emb: np.ndarray, noise: float):
    """Texts of 3-10 distinct Zipf-drawn tokens; a text's state is the mean of its tokens' embeddings plus noise (2 layers)."""
    p = 1.0 / np.arange(1, vocab + 1)
    p /= p.sum()
    targets = [rng.choice(vocab, size=int(rng.integers(3, 11)), p=p, replace=False) for _ in range(n)]
    mean = np.stack([emb[t].mean(0) for t in targets])
    states = np.stack([mean + noise * rng.standard_normal(mean.shape), mean + 3 * noise * rng.standard_normal(mean.shape)])
    return states.astype(np.float32), targets


def recoverability_draw(n: int, vocab: int = 80, dim: int = 24, train: int = 1500, noise: float = 0.15) -> Draw:
    """The probe fitted once on its own draw of ``train`` texts; each draw scores ``n`` new texts with it."""
    emb = np.random.default_rng(11).standard_normal((vocab, dim))
    states, targets = _token_texts(np.random.default_rng(12), train, vocab, emb, noise)
    probe = RecoverabilityProbe(seed=0, text_metrics=False).fit_arrays(states, targets, vocab_size=vocab)

    def draw(rng: np.random.Generator) -> dict[str, tuple[float, float]]:
        s, t = _token_texts(rng, n, vocab, emb, noise)
        row = probe.score_arrays(s, t).layers[-1]
        return {m: (row[m], row.stderr(m)) for m in RECOVERABILITY_METRICS}
    return draw


def calibrate(family: str, draw: Draw, draws: int, size: str, seed: int = 0) -> list[Calibration]:
    """Each metric of ``draw``: mean reported error over ``draws`` independent draws against the sd of its values."""
    values: dict[str, list[tuple[float, float]]] = {}
    for child in np.random.SeedSequence(seed).spawn(draws):
        for metric, pair in draw(np.random.default_rng(child)).items():
            values.setdefault(metric, []).append(pair)
    out = []
    for metric, pairs in values.items():
        v, se = np.array(pairs, dtype=np.float64).T
        out.append(Calibration(family, metric, draws, size, float(np.nanmean(se)), float(np.std(v, ddof=1))))
    return out


def table(rows: list[Calibration]) -> str:
    """The Markdown table of docs/metrics.md."""
    lines = ["| family | metric | draws | one draw | mean reported SE | sd over draws | ratio |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.family} | {r.metric} | {r.draws} | {r.size} | {r.mean_reported:.4g} | {r.observed:.4g} | {r.ratio:.2f} |"
              for r in rows]
    return "\n".join(lines) + "\n"
