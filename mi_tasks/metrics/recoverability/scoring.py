"""Scoring fitted decoders on a stream of eval batches: per-text recall, cosine, BLEU/ROUGE and cross-entropy.

:func:`score_decoders` reads the batches once and returns :class:`TextScores`: one value per layer
and text (the last row is the frequency prior), plus the eval corpus' target counts. Turning them
into corpus means, errors and bounds is :mod:`.assembly`'s job.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ...errors import MiTasksError
from ...states.extraction import StateBatch
from .decoders import recall_hits
from .fitting import FittedDecoders
from .text_metrics import bleu4, rouge_l

SCORES = ("recall", "cosine", "bleu4", "rougeL", "ce")
"""Per-text scores kept for every layer and the prior (``ce``: cross-entropy per target, bits)."""


@dataclass
class TextScores:
    """Per-text scores of every fitted layer and, in the last row, the prior; and what the eval targets were."""

    per: dict[str, np.ndarray]
    """(layers + 1, n_texts) per score of :data:`SCORES`."""
    token_counts: np.ndarray
    """How many eval texts hold each target id (ids below Fano's |V|)."""
    n_texts: int
    n_without: int
    """Eval texts with no target at all."""


def retarget(batches: Iterable[StateBatch], targets: Sequence[np.ndarray]) -> Iterator[StateBatch]:
    """The same batches with each text's targets replaced (new objects: cached passes stay as they were)."""
    for b in batches:
        yield dataclasses.replace(b, targets=[targets[i] for i in b.indices])


class _BatchScorer:
    """The per-text scores of one batch, given its gold targets on the fit's device."""

    def __init__(self, fitted: FittedDecoders, b: StateBatch, V: int, per: dict[str, np.ndarray],
                 text_metrics: bool) -> None:
        self.fitted, self.idx, self.gold, self.per, self.text_metrics = fitted, b.indices, b.targets, per, text_metrics
        dev = fitted.device
        self.ks = np.array([len(t) for t in self.gold])
        rows, cols, _ = fitted.vocab.sparse_rows(self.gold)
        self.n_oov = self.ks - np.bincount(rows, minlength=len(self.gold))
        self.y = fitted.vocab.multi_hot(self.gold, device=dev)
        self.r_t, self.c_t = torch.from_numpy(rows).to(dev), torch.from_numpy(cols).to(dev)
        self.log_eps_oov = math.log2(fitted.oov_mass / max(V - len(fitted.vocab), 1))
        self.log_in = math.log2(1.0 - fitted.oov_mass)

    def ce_bits(self, logq: torch.Tensor) -> np.ndarray:
        nat = torch.zeros(len(self.gold), dtype=torch.float64, device=self.fitted.device)
        nat.index_add_(0, self.r_t, logq[self.r_t, self.c_t].to(torch.float64))
        in_bits = nat.cpu().numpy() / math.log(2) + (self.ks - self.n_oov) * self.log_in
        return -(in_bits + self.n_oov * self.log_eps_oov) / np.maximum(self.ks, 1)

    def cosine(self, p: torch.Tensor) -> np.ndarray:
        dot = (p * self.y).sum(1).cpu().numpy()
        return dot / (np.sqrt(np.maximum(self.ks, 1)) * p.norm(dim=1).clamp_min(1e-12).cpu().numpy())

    def text_scores(self, top: torch.Tensor, slot: int) -> None:
        if not self.text_metrics:
            return
        top_ids = self.fitted.vocab.ids[top.cpu().numpy()]
        for r, (i, g) in enumerate(zip(self.idx, self.gold)):
            hyp = top_ids[r, :min(len(g), top_ids.shape[1])]
            self.per["bleu4"][slot, i] = bleu4(hyp, g)
            self.per["rougeL"][slot, i] = rouge_l(hyp, g)

    def layer(self, slot: int, scores: torch.Tensor, p: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        """Record row ``slot`` from the decoder's scores, presence probabilities and log-probabilities."""
        rec, top = recall_hits(scores, self.gold, self.fitted.vocab, self.y)
        self.per["recall"][slot, self.idx] = rec
        self.per["cosine"][slot, self.idx] = self.cosine(p)
        self.per["ce"][slot, self.idx] = self.ce_bits(logq)
        return top


def score_decoders(fitted: FittedDecoders, batches: Iterable[StateBatch], n_texts: int, V: int,
                   text_metrics: bool) -> TextScores:
    """Score batches whose targets are ids below ``V`` with every fitted layer and the prior."""
    L = len(fitted.layers)
    per = {k: np.zeros((L + 1, n_texts)) for k in SCORES}
    token_counts = np.zeros(V, dtype=np.int64)
    seen, n_without = np.zeros(n_texts, dtype=bool), 0
    dev = fitted.device
    log_prior = fitted.log_prior.to(dev)
    prior_top = torch.argsort(log_prior, descending=True, stable=True)
    prior_p = fitted.doc_freq.to(dev)
    for b in batches:
        if len(b.layers) != L:
            raise MiTasksError(f"eval states have {len(b.layers)} layers but the probe was fitted on {L}")
        seen[b.indices] = True
        for t in b.targets:
            if t.size and t.max() >= V:
                raise MiTasksError(f"token id {int(t.max())} is outside the vocabulary of size {V}")
            token_counts[t] += 1
        scorer = _BatchScorer(fitted, b, V, per, text_metrics)
        n_without += int((scorer.ks == 0).sum())
        states = b.states.to(dev)
        prior_scores = log_prior.expand(len(b.targets), -1)
        for j, dec in enumerate(fitted.decoders):
            if getattr(dec, "is_prior", False):  # the prior itself: the prior's numbers, bit for bit
                s, p, logq = prior_scores, prior_p.expand(len(b.targets), -1), prior_scores
            else:
                s = dec.scores(states[j])
                p, logq = fitted.bernoulli_cal[j].proba(s), fitted.softmax_cal[j].log_proba(s)
            scorer.text_scores(scorer.layer(j, s, p, logq), j)
        scorer.layer(L, prior_scores, prior_p.expand(len(b.targets), -1), prior_scores)
        scorer.text_scores(prior_top[: max(1, int(scorer.ks.max()))].expand(len(b.targets), -1), L)
    if not seen.all():
        raise MiTasksError(f"the eval stream covered {int(seen.sum())} of {n_texts} texts")
    return TextScores(per=per, token_counts=token_counts, n_texts=n_texts, n_without=n_without)
