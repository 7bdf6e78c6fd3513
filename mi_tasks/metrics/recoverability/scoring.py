"""Scoring fitted decoders on a stream of eval batches: per-text recall, cosine, BLEU/ROUGE and cross-entropy."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch

from .decoders import recall_hits
from ...errors import MiTasksError
from ...states.extraction import StateBatch
from ...states.state_store import StateStore
from .text_metrics import bleu4, rouge_l
from .result import RecoverabilityResult

def _retarget(batches: Iterable[StateBatch], targets: Sequence[np.ndarray]) -> Iterator[StateBatch]:
    """The same batches with each text's targets replaced (new objects: cached passes stay as they were)."""
    for b in batches:
        yield dataclasses.replace(b, targets=[targets[i] for i in b.indices])


class DecoderScoring:
    """The scoring half of :class:`~mi_tasks.metrics.recoverability.probe.RecoverabilityProbe`."""

    def _check_fitted(self) -> None:
        if not getattr(self, "decoders", None) and self._store is None:
            raise MiTasksError("the probe is not fitted: call fit() on a train corpus first")

    def _score_groups(self, batches: Iterable[StateBatch], n_texts: int, V: int) -> RecoverabilityResult:
        """Fit and score one group of layers at a time from the stored train states (see ``fit_stream``)."""
        train = self._store
        evals = StateStore.from_stream(batches, n_texts, self.spill_dir)
        if evals.layers != self.layers_:
            evals.close()
            raise MiTasksError(f"eval states have layers {evals.layers} but the probe was fitted on {self.layers_}")
        parts: list[RecoverabilityResult] = []
        try:
            size = self.plan_.group_size
            for start in range(0, len(self.layers_), size):
                stop = min(start + size, len(self.layers_))
                sub = type(self)(dataclasses.replace(self.settings, memory_budget_gb=None), alphas=self.alphas,
                                          max_calibration=self.max_calibration, seed=self.seed)
                sub.vocab_size_, sub.num_layers_, sub.device_ = self.vocab_size_, self.num_layers_, self.device_
                sub._fit_all(train.batches(start, stop), self.vocab, self.n_texts_)
                parts.append(sub._score_ids(evals.batches(start, stop), n_texts, V))
                del sub
        finally:
            evals.close()
        first = parts[0]
        per = {k: np.concatenate([p.per_text[k][:-1] for p in parts] + [first.per_text[k][-1:]]) for k in first.per_text}
        meta = {**first.meta, **self.meta}  # the groups' shared scores' meta, plus the model and the plan
        return RecoverabilityResult(layers=[r for p in parts for r in p.layers], prior=first.prior, meta=meta,
                                    per_text=per)

    def score_stream(self, batches: Iterable[StateBatch], n_texts: int,
                     texts: Sequence[str] | None = None) -> RecoverabilityResult:
        """Score a stream of eval batches; ``texts`` (in index order) are needed with word targets."""
        self._check_fitted()
        V = self.vocab_size_
        if self.targets == "words":
            if texts is None or len(texts) != n_texts:
                raise MiTasksError("word targets are taken from the eval texts: pass texts= (one per scored text) "
                                   "to score_stream")
            if getattr(self, "words_", None) is None:
                raise MiTasksError("this probe has no word index: fit word targets with fit() or fit_arrays()")
            index = self.words_.copy()  # eval words extend a copy: the fitted probe is unchanged
            batches = _retarget(batches, index.targets(texts))
            V = len(index)  # Fano's |V|: the word types of the train and eval texts
        return self._score_ids(batches, n_texts, V)

    def _score_ids(self, batches: Iterable[StateBatch], n_texts: int, V: int) -> RecoverabilityResult:
        """Score batches whose targets are ids below ``V``."""
        if self._store is not None:
            return self._score_groups(batches, n_texts, V)
        vocab, L = self.vocab, len(self.layers_)
        log_eps_oov = math.log2(self.oov_mass_ / max(V - len(vocab), 1))
        log_in = math.log2(1.0 - self.oov_mass_)
        per = {k: np.zeros((L + 1, n_texts)) for k in ("recall", "cosine", "bleu4", "rougeL", "ce")}
        token_counts = np.zeros(V, dtype=np.int64)
        seen, n_without = np.zeros(n_texts, dtype=bool), 0
        dev = self.device_
        log_prior = self.log_prior_.to(dev)
        prior_top = torch.argsort(log_prior, descending=True, stable=True)
        prior_p = self.doc_freq_.to(dev)
        for b in batches:
            idx, gold = b.indices, b.targets
            if len(b.layers) != L:
                raise MiTasksError(f"eval states have {len(b.layers)} layers but the probe was fitted on {L}")
            seen[idx] = True
            for t in gold:
                if t.size and t.max() >= V:
                    raise MiTasksError(f"token id {int(t.max())} is outside the vocabulary of size {V}")
                token_counts[t] += 1
            ks = np.array([len(t) for t in gold])
            n_without += int((ks == 0).sum())
            rows, cols, _ = vocab.sparse_rows(gold)
            n_oov = ks - np.bincount(rows, minlength=len(gold))
            y = vocab.multi_hot(gold, device=dev)
            r_t, c_t = torch.from_numpy(rows).to(dev), torch.from_numpy(cols).to(dev)
            states = b.states.to(dev)

            def ce_bits(logq: torch.Tensor) -> np.ndarray:
                nat = torch.zeros(len(gold), dtype=torch.float64, device=dev)
                nat.index_add_(0, r_t, logq[r_t, c_t].to(torch.float64))
                in_bits = nat.cpu().numpy() / math.log(2) + (ks - n_oov) * log_in
                return -(in_bits + n_oov * log_eps_oov) / np.maximum(ks, 1)

            def cosine(p: torch.Tensor) -> np.ndarray:
                dot = (p * y).sum(1).cpu().numpy()
                return dot / (np.sqrt(np.maximum(ks, 1)) * p.norm(dim=1).clamp_min(1e-12).cpu().numpy())

            def text_scores(top: torch.Tensor, slot: int) -> None:
                if not self.text_metrics:
                    return
                top_ids = vocab.ids[top.cpu().numpy()]
                for r, (i, g) in enumerate(zip(idx, gold)):
                    hyp = top_ids[r, :min(len(g), top_ids.shape[1])]
                    per["bleu4"][slot, i] = bleu4(hyp, g)
                    per["rougeL"][slot, i] = rouge_l(hyp, g)

            prior_scores = log_prior.expand(len(gold), -1)
            for j, dec in enumerate(self.decoders):
                if getattr(dec, "is_prior", False):  # the prior itself: the prior's numbers, bit for bit
                    s = prior_scores
                    p, logq = prior_p.expand(len(gold), -1), prior_scores
                else:
                    s = dec.scores(states[j])
                    p, logq = self.bernoulli_cal_[j].proba(s), self.softmax_cal_[j].log_proba(s)
                rec, top = recall_hits(s, gold, vocab, y)
                per["recall"][j, idx] = rec
                per["cosine"][j, idx] = cosine(p)
                per["ce"][j, idx] = ce_bits(logq)
                text_scores(top, j)
            rec, _ = recall_hits(prior_scores, gold, vocab, y)
            per["recall"][L, idx] = rec
            per["cosine"][L, idx] = cosine(prior_p.expand(len(gold), -1))
            per["ce"][L, idx] = ce_bits(prior_scores)
            text_scores(prior_top[: max(1, int(ks.max()))].expand(len(gold), -1), L)
        if not seen.all():
            raise MiTasksError(f"the eval stream covered {int(seen.sum())} of {n_texts} texts")
        return self._assemble(per, token_counts, n_texts, V, n_without)
