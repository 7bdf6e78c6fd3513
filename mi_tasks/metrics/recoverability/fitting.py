"""Fitting every layer's token decoder from one stream of train batches: what a fit needs and what it gives.

:func:`fit_decoders` reads the batches once and returns :class:`FittedDecoders`, everything that
scoring and the result read afterwards (the decoders, the frequency prior, the calibrators and
the counts). How to fit is a :class:`FitConfig`; the probe makes one from its settings. Nothing
here knows about models, passes or memory budgets: the probe decides which layers a call sees.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ...errors import MiTasksError
from ...states.extraction import StateBatch
from .bounds import unseen_mass
from .calibration import BernoulliCalibrator, SoftmaxCalibrator
from .decoders import BCETokenDecoder, RidgeTokenDecoder
from .vocabulary import DecoderVocabulary


@dataclass(frozen=True)
class FitConfig:
    """How the decoders are fitted: ``method`` ridge or bce, the ridge penalties, the calibration slice, the seed."""

    method: str
    alphas: tuple[float, ...]
    calibration_fraction: float
    max_calibration: int
    seed: int
    bce: dict[str, Any] = field(default_factory=dict)

    def calibration_mask(self, n: int) -> np.ndarray:
        """Which of ``n`` train texts are held out to choose the penalty and calibrate (seeded; none below 10 texts)."""
        k = min(self.max_calibration, int(round(self.calibration_fraction * n))) if n >= 10 else 0
        mask = np.zeros(n, dtype=bool)
        if k > 0:
            mask[np.random.default_rng(self.seed).choice(n, size=k, replace=False)] = True
        return mask


@dataclass
class FittedDecoders:
    """One fit of a run of layers: the decoders, the frequency prior and the calibrators, on ``device``."""

    vocab: DecoderVocabulary
    layers: list[int]
    decoders: list[Any]
    log_prior: torch.Tensor
    """log π over the decoder vocabulary: a token drawn uniformly from a train text's distinct targets (smoothed)."""
    doc_freq: torch.Tensor
    """Smoothed share of train texts holding each token: the prior's presence probabilities."""
    oov_mass: float
    """Probability mass left for tokens the train corpus never showed (Good-Turing)."""
    softmax_cal: list[SoftmaxCalibrator]
    bernoulli_cal: list[BernoulliCalibrator]
    n_fit: int
    n_calibration: int
    device: torch.device


class _TrainTally:
    """What one read of the train batches collects: ridge statistics (or kept states for BCE), the
    calibration slice, and the token counts the prior is made of."""

    def __init__(self, vocab: DecoderVocabulary, config: FitConfig, n_texts: int, device: torch.device) -> None:
        self.vocab, self.config, self.device = vocab, config, device
        self.cal_mask = config.calibration_mask(n_texts)
        self.layers: list[int] | None = None
        self.decoders: list[Any] = []
        self.cal_states: list[torch.Tensor] = []
        self.cal_targets: list[np.ndarray] = []
        self.fit_states: list[torch.Tensor] = []
        self.fit_targets: list[np.ndarray] = []
        self.weight = torch.zeros(len(vocab), dtype=torch.float64)
        self.docfreq = torch.zeros(len(vocab), dtype=torch.float64)
        self.n_fit, self.n_tokens = 0, 0

    def add(self, b: StateBatch) -> None:
        if self.layers is None:
            self.layers = list(b.layers)
            if self.config.method == "ridge":
                self.decoders = [RidgeTokenDecoder(self.vocab, self.config.alphas) for _ in self.layers]
        cal = self.cal_mask[b.indices]
        states = b.states.to(self.device)
        if cal.any():
            sel = torch.from_numpy(np.flatnonzero(cal)).to(self.device)
            self.cal_states.append(states[:, sel])
            self.cal_targets.extend(t for t, c in zip(b.targets, cal) if c)
        if (~cal).any():
            sel = torch.from_numpy(np.flatnonzero(~cal)).to(self.device)
            tg = [t for t, c in zip(b.targets, cal) if not c]
            if self.config.method == "ridge":
                for j, dec in enumerate(self.decoders):
                    dec.partial_fit(states[j, sel], tg)
            else:
                self.fit_states.append(states[:, sel].clone())
                self.fit_targets.extend(tg)
            _, cols, w = self.vocab.sparse_rows(tg)
            self.weight.index_add_(0, torch.from_numpy(cols), torch.from_numpy(w))
            self.docfreq.index_add_(0, torch.from_numpy(cols), torch.ones(cols.size, dtype=torch.float64))
            self.n_fit += len(tg)
            self.n_tokens += sum(len(t) for t in tg)


def fit_decoders(batches: Iterable[StateBatch], vocab: DecoderVocabulary, n_texts: int, config: FitConfig,
                 device: torch.device) -> FittedDecoders:
    """Fit every layer of the stream at once on ``device`` (batches are moved there); ``indices`` run over 0..n_texts-1."""
    tally = _TrainTally(vocab, config, n_texts, device)
    for b in batches:
        tally.add(b)
    if tally.layers is None or tally.n_fit == 0:
        raise MiTasksError("the train corpus gave no texts to fit on; use a larger train corpus")
    layers = tally.layers
    pi = tally.weight + 0.5 / (tally.n_tokens / tally.n_fit)
    log_prior = torch.log(pi / pi.sum()).to(torch.float32)
    doc_freq = ((tally.docfreq + 0.5) / (tally.n_fit + 1.0)).to(torch.float32)
    x_cal = torch.cat(tally.cal_states, dim=1) if tally.cal_states else None
    cal_targets = tally.cal_targets
    decoders = tally.decoders
    if config.method == "bce":
        x_fit = torch.cat(tally.fit_states, dim=1)
        decoders = [BCETokenDecoder(vocab, **config.bce).fit(x_fit[j], tally.fit_targets) for j in range(len(layers))]
    else:
        for j, dec in enumerate(decoders):  # the prior is a candidate: the penalty without bound
            dec.select_alpha(None if x_cal is None else x_cal[j], cal_targets, prior_scores=log_prior.to(device))
    softmax_cal = [SoftmaxCalibrator(log_prior) for _ in layers]
    bernoulli_cal = [BernoulliCalibrator(torch.logit(doc_freq)) for _ in layers]
    if x_cal is not None and cal_targets:
        rows, cols, w = vocab.sparse_rows(cal_targets)
        y_cal = vocab.multi_hot(cal_targets, device=device)
        for j, dec in enumerate(decoders):
            if getattr(dec, "is_prior", False):  # the prior itself: its calibration is the identity
                continue
            s = dec.scores(x_cal[j])
            softmax_cal[j].fit(s, rows, cols, w)
            bernoulli_cal[j].fit(s, y_cal)
    return FittedDecoders(vocab=vocab, layers=layers, decoders=decoders, log_prior=log_prior, doc_freq=doc_freq,
                          oov_mass=unseen_mass(tally.docfreq.numpy()), softmax_cal=softmax_cal,
                          bernoulli_cal=bernoulli_cal, n_fit=tally.n_fit, n_calibration=len(cal_targets), device=device)
