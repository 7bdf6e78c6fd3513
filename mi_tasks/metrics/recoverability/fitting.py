"""Fitting the per-layer token decoders from a stream of train batches (all layers at once, or in groups from disk)."""
from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from .calibration import BernoulliCalibrator, SoftmaxCalibrator
from .decoders import BCETokenDecoder, RidgeTokenDecoder
from ...errors import MiTasksError
from ...states.extraction import StateBatch
from .bounds import unseen_mass
from .memory_plan import MemoryPlan, check_device_memory, plan_recoverability
from ...states.state_store import StateStore
from .vocabulary import DecoderVocabulary


log = logging.getLogger("mi_tasks")


class DecoderFitting:
    """The fitting half of :class:`~mi_tasks.metrics.recoverability.probe.RecoverabilityProbe`."""

    def _calibration_mask(self, n: int) -> np.ndarray:
        k = min(self.max_calibration, int(round(self.calibration_fraction * n))) if n >= 10 else 0
        mask = np.zeros(n, dtype=bool)
        if k > 0:
            mask[np.random.default_rng(self.seed).choice(n, size=k, replace=False)] = True
        return mask

    def _plan(self, n_layers: int, hidden: int, vocab: DecoderVocabulary, n_texts: int,
              device: torch.device) -> MemoryPlan:
        """The memory plan for these shapes (bounded for ridge fits only), logged and kept in the results."""
        plan = plan_recoverability(n_layers, hidden, len(vocab), n_texts, 0,
                                   self.memory_budget_gb if self.fit_method == "ridge" else None, device=str(device))
        log.info(plan.describe())
        check_device_memory(plan)
        self.plan_ = plan
        self.meta["memory_plan"] = plan.to_dict()
        return plan

    def fit_stream(self, batches: Iterable[StateBatch], vocab: DecoderVocabulary, n_texts: int,
                   plan: MemoryPlan | None = None) -> "DecoderFitting":
        """Fit from a stream of batches whose ``indices`` run over 0..n_texts-1.

        ``plan``: the memory plan when the caller made it before the stream (``fit`` does, before the
        model runs); otherwise the first batch's shapes fix it. When all layers fit, they are fitted now, from the stream; otherwise
        the stream's states go to disk and each group of layers is fitted and scored in turn when
        :meth:`score_stream` runs (same numbers: every layer's fit sees the same batches in order).
        """
        it = iter(batches)
        first = next(it, None)
        if first is None:
            raise MiTasksError("the train corpus gave no texts to fit on; use a larger train corpus")
        self.device_ = self.decoder_device or first.states.device
        if plan is None:
            plan = self._plan(len(first.layers), int(first.states.shape[-1]), vocab, n_texts, self.device_)
        stream = itertools.chain([first], it)
        if plan.n_groups == 1:
            return self._fit_all(stream, vocab, n_texts)
        self.vocab, self.layers_, self.n_texts_ = vocab, list(first.layers), n_texts
        self._close_store()
        self._store = StateStore.from_stream(stream, n_texts, self.spill_dir)
        self.decoders = []
        return self

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _fit_all(self, batches: Iterable[StateBatch], vocab: DecoderVocabulary, n_texts: int) -> "DecoderFitting":
        """Fit every layer of the stream at once, on ``self.device_`` (batches are moved there)."""
        self.vocab = vocab
        dev = self.device_
        cal_mask = self._calibration_mask(n_texts)
        self.layers_: list[int] | None = None
        cal_states: list[torch.Tensor] = []
        cal_targets: list[np.ndarray] = []
        fit_states: list[torch.Tensor] = []
        fit_targets: list[np.ndarray] = []
        weight = torch.zeros(len(vocab), dtype=torch.float64)
        docfreq = torch.zeros(len(vocab), dtype=torch.float64)
        n_fit, n_tokens = 0, 0
        self.decoders: list[Any] = []
        for b in batches:
            if self.layers_ is None:
                self.layers_ = list(b.layers)
                if self.fit_method == "ridge":
                    self.decoders = [RidgeTokenDecoder(vocab, self.alphas) for _ in self.layers_]
            cal = cal_mask[b.indices]
            states = b.states.to(dev)
            if cal.any():
                sel = torch.from_numpy(np.flatnonzero(cal)).to(dev)
                cal_states.append(states[:, sel])
                cal_targets.extend(t for t, c in zip(b.targets, cal) if c)
            if (~cal).any():
                sel = torch.from_numpy(np.flatnonzero(~cal)).to(dev)
                tg = [t for t, c in zip(b.targets, cal) if not c]
                if self.fit_method == "ridge":
                    for j, dec in enumerate(self.decoders):
                        dec.partial_fit(states[j, sel], tg)
                else:
                    fit_states.append(states[:, sel].clone())
                    fit_targets.extend(tg)
                rows, cols, w = vocab.sparse_rows(tg)
                weight.index_add_(0, torch.from_numpy(cols), torch.from_numpy(w))
                docfreq.index_add_(0, torch.from_numpy(cols), torch.ones(cols.size, dtype=torch.float64))
                n_fit += len(tg)
                n_tokens += sum(len(t) for t in tg)
        if self.layers_ is None or n_fit == 0:
            raise MiTasksError("the train corpus gave no texts to fit on; use a larger train corpus")
        self.n_fit_, self.n_calibration_ = n_fit, len(cal_targets)
        # Frequency prior over the decoder vocabulary (token t drawn uniformly from a text's unique tokens).
        mean_k = n_tokens / n_fit
        pi = weight + 0.5 / mean_k
        self.log_prior_ = torch.log(pi / pi.sum()).to(torch.float32)
        d = (docfreq + 0.5) / (n_fit + 1.0)
        self.doc_freq_ = d.to(torch.float32)
        self.oov_mass_ = unseen_mass(docfreq.numpy())
        X_cal = torch.cat(cal_states, dim=1) if cal_states else None
        if self.fit_method == "bce":
            X_fit = torch.cat(fit_states, dim=1)
            self.decoders = [BCETokenDecoder(vocab, **self.bce).fit(X_fit[j], fit_targets) for j in range(len(self.layers_))]
        else:
            for j, dec in enumerate(self.decoders):  # the prior is a candidate: the penalty without bound
                dec.select_alpha(None if X_cal is None else X_cal[j], cal_targets, prior_scores=self.log_prior_.to(dev))
        self.softmax_cal_ = [SoftmaxCalibrator(self.log_prior_) for _ in self.layers_]
        self.bernoulli_cal_ = [BernoulliCalibrator(torch.logit(self.doc_freq_)) for _ in self.layers_]
        if X_cal is not None and cal_targets:
            rows, cols, w = vocab.sparse_rows(cal_targets)
            y_cal = vocab.multi_hot(cal_targets, device=dev)
            for j, dec in enumerate(self.decoders):
                if getattr(dec, "is_prior", False):  # the prior itself: its calibration is the identity
                    continue
                s = dec.scores(X_cal[j])
                self.softmax_cal_[j].fit(s, rows, cols, w)
                self.bernoulli_cal_[j].fit(s, y_cal)
        return self
