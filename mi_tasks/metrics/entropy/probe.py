"""Representation (matrix) entropy per layer: prompt and dataset entropy, effective rank, Diff-eRank.

Definitions as in docs/metrics.md (Wei et al. 2024; Skean et al. 2025). For a state matrix Z, centred over
rows with rows L2-normalised, the trace-normalised Gram matrix has eigenvalues λ (sum 1). Rényi
entropy of order α is −Σ λ ln λ for α = 1 and ln(Σ λ^α)/(1−α) otherwise; it is normalised by
ln min(N, D) and its exponential is the effective rank. *Prompt* entropy is taken per text over
its token states and averaged over texts; *dataset* entropy over the texts' pooled vectors.
Diff-eRank compares with a randomly initialised copy of the same architecture, seeded, as its
authors compute it: exp(mean over texts of H_random) − exp(mean over texts of H_trained), H the
per-text entropy in nats (``diff_erank``); the mean over texts of the per-text differences
exp(H_random) − exp(H_trained) is kept as ``diff_erank_mean_of_differences``.
Token spectra come from the eval pass (the :data:`~mi_tasks.metrics.entropy.spectra.SPECTRA` reducer
asked of it): no second run. Which
tokens they cover follows the extractor's ``include_special`` (the authors keep BOS).
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ...errors import MiTasksError
from .settings import EntropySettings
from ...states.extraction import StateBatch
from ...states.stream import StateStream
from ...states.layers import normalized_depth
from .spectra import SPECTRA, matrix_spectrum
from ..result import LayerResult, LayerRow, Measurement
from ..uncertainty import mean_stderr

MEAN_OF_SCORED_TEXTS = "mean over texts with 2 or more tokens (the others dropped)"


def renyi_entropy(eigenvalues: np.ndarray | torch.Tensor, alpha: float = 1.0) -> np.ndarray:
    """Rényi entropy in nats of spectra with unit sum, along the last axis (zeros are ignored)."""
    lam = np.clip(np.asarray(eigenvalues, dtype=np.float64), 0.0, None)
    total = lam.sum(-1, keepdims=True)
    lam = np.divide(lam, total, out=np.zeros_like(lam), where=total > 0)
    if alpha <= 0:
        raise MiTasksError(f"Rényi order alpha must be > 0, got {alpha}")
    if abs(alpha - 1.0) < 1e-12:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(lam > 0, lam * np.log(np.where(lam > 0, lam, 1.0)), 0.0)
        return -terms.sum(-1)
    return np.log(np.power(lam, alpha, where=lam > 0, out=np.zeros_like(lam)).sum(-1)) / (1.0 - alpha)


def normalized_entropy(eigenvalues: np.ndarray, n: np.ndarray | int, d: int, alpha: float = 1.0) -> np.ndarray:
    """Entropy divided by ln min(N, D); NaN where min(N, D) < 2 (a single row has no spread)."""
    h = renyi_entropy(eigenvalues, alpha)
    cap = np.log(np.minimum(np.asarray(n, dtype=np.float64), d))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(cap > 0, h / np.where(cap > 0, cap, 1.0), np.nan)


def matrix_entropy(states: np.ndarray | torch.Tensor, alpha: float = 1.0, normalize: bool = True) -> float:
    """Entropy of one state matrix (N, D) as docs/metrics.md defines it (normalised by default)."""
    x = np.asarray(states)
    eig = matrix_spectrum(x)
    if normalize:
        return float(normalized_entropy(eig, x.shape[0], x.shape[1], alpha))
    return float(renyi_entropy(eig, alpha))


def effective_rank(states: np.ndarray | torch.Tensor, alpha: float = 1.0) -> float:
    """exp(entropy in nats) of one state matrix: between 1 and min(N, D)."""
    return float(math.exp(matrix_entropy(states, alpha, normalize=False)))


@dataclass
class EntropyResult(LayerResult):
    """Per-layer entropy scores (``layers``: list of dicts with layer, depth and the metrics) and settings."""

    per_text: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    METRICS = ("prompt_entropy", "prompt_effective_rank", "dataset_entropy", "dataset_effective_rank",
               "diff_erank", "erank_trained", "erank_random", "diff_erank_mean_of_differences",
               "random_prompt_effective_rank", "dataset_diff_erank")
    KIND = "entropy"
    TABLE_METRICS = METRICS


class _Accumulator:
    """Collects per-text prompt entropies and pooled vectors from a stream of batches."""

    def __init__(self, alpha: float, n_texts: int) -> None:
        self.alpha, self.n = alpha, n_texts
        self.layers: list[int] | None = None
        self.prompt: np.ndarray | None = None
        self.prompt_raw: np.ndarray | None = None
        self.pooled: np.ndarray | None = None
        self.n_tokens = np.zeros(n_texts, dtype=np.int64)
        self.seen = np.zeros(n_texts, dtype=bool)

    def add(self, b: StateBatch) -> None:
        if SPECTRA.name not in b.reduced or b.n_tokens is None:
            raise MiTasksError("entropy needs token spectra: stream batches with reducers=(SPECTRA,) "
                               "(mi_tasks.metrics.entropy.spectra)")
        if self.layers is None:
            self.layers = list(b.layers)
            L, D = b.states.shape[0], b.states.shape[2]
            self.prompt = np.full((L, self.n), np.nan)
            self.prompt_raw = np.full((L, self.n), np.nan)
            self.pooled = np.zeros((L, self.n, D), dtype=np.float32)
        idx = np.asarray(b.indices)
        n_tok = b.n_tokens.numpy()
        d = b.states.shape[2]
        spec = b.reduced[SPECTRA.name].numpy()
        self.prompt_raw[:, idx] = renyi_entropy(spec, self.alpha)
        self.prompt[:, idx] = normalized_entropy(spec, n_tok[None, :], d, self.alpha)
        self.pooled[:, idx] = b.states.numpy()
        self.n_tokens[idx] = n_tok
        self.seen[idx] = True

    def check(self) -> None:
        if self.layers is None:
            raise MiTasksError("the entropy stream held no texts")
        if not self.seen.all():
            raise MiTasksError(f"the entropy stream covered {int(self.seen.sum())} of {self.n} texts")


def dataset_entropy(pooled: np.ndarray, alpha: float) -> tuple[float, float]:
    eig = matrix_spectrum(pooled)
    h = float(renyi_entropy(eig, alpha))
    return float(normalized_entropy(eig, pooled.shape[0], pooled.shape[1], alpha)), math.exp(h)


class EntropyProbe:
    """Representation entropy of a model's layers on a corpus (scikit-learn-like ``score``).

    alpha: Rényi order (1 = Shannon/von Neumann). random_baseline: also score a randomly
    initialised copy of the architecture (seeded) for Diff-eRank, on at most ``random_limit``
    texts (a seeded sample) to keep the extra pass small. Dataset entropy keeps the pooled
    vectors of the scored texts in memory (n_layers × N × D float32).
    """

    def __init__(self, settings: EntropySettings | None = None, *, seed: int = 0, **values: Any) -> None:
        s = EntropySettings.given(settings, " for EntropyProbe", **values)
        self.settings = s
        self.alpha, self.random_baseline, self.random_limit, self.seed = float(s.alpha), s.random_baseline, s.random_limit, seed

    def score_stream(self, batches: Iterable[StateBatch], n_texts: int, num_layers: int) -> EntropyResult:
        """Entropy of streamed batches (with spectra) over texts 0..n_texts-1, no random baseline."""
        acc = _Accumulator(self.alpha, n_texts)
        for b in batches:
            acc.add(b)
        acc.check()
        rows = []
        for j, layer in enumerate(acc.layers):
            ds, ds_rank = dataset_entropy(acc.pooled[j], self.alpha)
            prompt = acc.prompt[j]
            valid = np.isfinite(prompt)
            n, dropped = int(valid.sum()), int(valid.size - valid.sum())
            ranks = np.exp(acc.prompt_raw[j][valid])
            rows.append(LayerRow(layer, normalized_depth(layer, num_layers), {
                "prompt_entropy": Measurement(float(prompt[valid].mean()) if n else float("nan"),
                                              mean_stderr(prompt[valid]), MEAN_OF_SCORED_TEXTS, n, dropped),
                "prompt_effective_rank": Measurement(float(ranks.mean()) if n else float("nan"), mean_stderr(ranks),
                                                     MEAN_OF_SCORED_TEXTS, n, dropped),
                "dataset_entropy": ds, "dataset_effective_rank": ds_rank}))
        meta = {"alpha": self.alpha, "n_texts": n_texts, "num_layers": num_layers,
                "n_texts_under_2_tokens": int((acc.n_tokens < 2).sum()),
                "mean_tokens": float(acc.n_tokens.mean())}
        result = EntropyResult(layers=rows, meta=meta, per_text={"prompt_entropy": acc.prompt,
                                                                 "prompt_log_erank": acc.prompt_raw})
        result._pooled = acc.pooled  # type: ignore[attr-defined] - kept for the Diff-eRank subset
        return result

    def baseline_indices(self, n_texts: int) -> np.ndarray:
        """The seeded sample of texts the random copy is run on (sorted)."""
        if self.random_limit is None or n_texts <= self.random_limit:
            return np.arange(n_texts)
        return np.sort(np.random.default_rng(self.seed).choice(n_texts, size=self.random_limit, replace=False))

    def add_random_baseline(self, result: EntropyResult, random_batches: Iterable[StateBatch], subset: np.ndarray) -> EntropyResult:
        """Add Diff-eRank: ``random_batches`` stream the random copy over ``subset`` (indices 0..len-1).

        Per layer, over the texts of ``subset`` with a prompt entropy under both models (two or
        more tokens): ``erank_trained`` / ``erank_random`` = exp(mean per-text entropy in nats),
        ``diff_erank`` = erank_random − erank_trained (Wei et al.'s formula);
        ``diff_erank_mean_of_differences`` = mean of exp(H_random) − exp(H_trained) per text (this
        package's earlier ``diff_erank``; by Jensen each mean of exps exceeds the exp of the mean
        when entropies vary across texts, so the two differences disagree, in either direction).
        ``dataset_diff_erank`` = eRank of the random copy's pooled-vector matrix − that of the
        trained model, both over ``subset``: one matrix each, so there is no mean to take.
        """
        rand = self.score_stream(random_batches, len(subset), result.meta["num_layers"])
        trained_log = result.per_text["prompt_log_erank"][:, subset]
        random_log = rand.per_text["prompt_log_erank"]
        # texts with a prompt entropy (two or more tokens) under both models, as prompt_entropy counts them
        scored = (np.isfinite(result.per_text["prompt_entropy"][:, subset]) & np.isfinite(rand.per_text["prompt_entropy"])
                  & np.isfinite(trained_log) & np.isfinite(random_log))
        pooled = result._pooled[:, subset]  # type: ignore[attr-defined]
        nan = float("nan")
        for j, row in enumerate(result.layers):
            ok = scored[j]
            h_t, h_r = trained_log[j][ok], random_log[j][ok]
            erank_t = math.exp(h_t.mean()) if ok.any() else nan
            erank_r = math.exp(h_r.mean()) if ok.any() else nan
            row["erank_trained"], row["erank_random"] = erank_t, erank_r
            row["diff_erank"] = erank_r - erank_t
            row["diff_erank_mean_of_differences"] = float((np.exp(h_r) - np.exp(h_t)).mean()) if ok.any() else nan
            row["random_prompt_effective_rank"] = float(np.exp(h_r).mean()) if ok.any() else nan
            row["dataset_diff_erank"] = rand.layers[j]["dataset_effective_rank"] - dataset_entropy(pooled[j], self.alpha)[1]
        result.meta.update({"random_baseline": True, "random_seed": self.seed, "random_texts": int(len(subset)),
                            "diff_erank_texts": int(scored.all(0).sum())})
        return result

    def score(self, evaluation: StateStream) -> EntropyResult:
        """Entropy of ``evaluation`` (a pass with the SPECTRA reducer), plus Diff-eRank from a random copy's pass."""
        evaluation.with_reducers((SPECTRA,))
        result = self.score_stream(evaluation.batches(), evaluation.n_texts, evaluation.num_layers)
        if self.random_baseline:
            subset = self.baseline_indices(evaluation.n_texts)
            baseline = evaluation.random_copy(subset, self.seed, desc="random-init states")
            result = self.add_random_baseline(result, baseline.batches(), subset)
        described = evaluation.describe()
        result.meta.update({"model": described["model"], "pooling": described["pooling"],
                            "max_length": described["max_length"], "eval_truncated": evaluation.n_truncated,
                            "include_special": described["include_special"]})
        if evaluation.corpus is not None:
            result.meta["eval_corpus"] = evaluation.corpus.describe()
        return result
