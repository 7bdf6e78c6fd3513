"""Token recoverability per layer: fit linear decoders on a train corpus, score an eval corpus.

Estimator-style: ``RecoverabilityProbe(settings).fit(train_stream).score(eval_stream)``, the
streams being the passes of the train and eval corpora (:class:`~mi_tasks.states.stream.StateStream`),
returns a :class:`RecoverabilityResult` (per-layer table, ``to_dict()``). ``fit_arrays`` /
``score_arrays`` take plain state arrays instead of a model. Every score is also given for the
frequency prior (a decoder that ignores E), with each layer's lift over it.

``targets``: ``tokens`` (each text's own non-special token ids, the paper's definition) or ``words``
(:mod:`mi_tasks.metrics.recoverability.words`, one tokenization for every model, |V| = the word types of train and eval
texts), which is what compares models with different tokenizers.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .calibration import BernoulliCalibrator, SoftmaxCalibrator
from .decoders import DEFAULT_ALPHAS, BCETokenDecoder, RidgeTokenDecoder, recall_hits
from ...errors import MiTasksError, translate_errors
from ..result import LayerResult
from ...states.extraction import StateBatch
from ...states.stream import StateStream
from .bounds import entropy_bits, fano_is_vacuous, fano_mi_bits, unseen_mass
from ...states.layers import normalized_depth
from .memory_plan import MemoryPlan, check_device_memory, plan_recoverability, same_device
from ...states.state_store import StateStore
from .text_metrics import bleu4, rouge_l
from ..uncertainty import bootstrap_stderr, mean_stderr
from .coverage import FLAGS_KEY, assess_targets
from .vocabulary import DecoderVocabulary
from .settings import RecoverabilitySettings
from .words import TARGETS, WORD_TOKENIZATION, WordIndex

log = logging.getLogger("mi_tasks")

SCORE_KEYS = ("recall_at_k", "cosine", "bleu4", "rougeL", "fano_mi_bits", "fano_mi_bits_norm",
              "fano_mi_bits_empirical", "fano_mi_bits_empirical_norm", "ba_mi_bits", "ba_mi_bits_norm",
              "cross_entropy_bits")
LIFT_KEYS = ("recall_at_k", "cosine", "bleu4", "rougeL", "fano_mi_bits", "fano_mi_bits_empirical")
VACUOUS_SUFFIX = "_vacuous"
"""``<bound>_vacuous`` = 1.0 where Fano's bound is at most 0 (clamped): it then says nothing, and has no error."""


_API_FIX = "check the texts (a list of strings) and the extractor's settings"


def check_targets(targets: str, where: str = "") -> str:
    """``targets`` if it is one of :data:`~mi_tasks.metrics.recoverability.words.TARGETS`, else a one-line error naming the choices."""
    if targets not in TARGETS:
        raise MiTasksError(f"unknown targets {targets!r}{where}: use tokens (the model's own tokens) or words "
                           "(one word tokenization shared by every model)")
    return targets


def tokenizer_identity(tokenizer: Any) -> dict[str, Any]:
    """Name, size and a hash of a tokenizer's vocabulary: token targets compare only under the same hash."""
    try:
        vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: (kv[1], kv[0]))
        digest: str | None = hashlib.sha256(json.dumps(vocab, ensure_ascii=False).encode("utf-8")).hexdigest()
    except (AttributeError, NotImplementedError, TypeError):  # a tokenizer without a vocabulary listing
        digest = None
    return {"name": str(getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__),
            "class": type(tokenizer).__name__, "vocab_size": len(tokenizer), "sha256": digest}


def _retarget(batches: Iterable[StateBatch], targets: Sequence[np.ndarray]) -> Iterator[StateBatch]:
    """The same batches with each text's targets replaced (new objects: cached passes stay as they were)."""
    for b in batches:
        yield dataclasses.replace(b, targets=[targets[i] for i in b.indices])


def _array_batches(states: np.ndarray | torch.Tensor, targets: Sequence[np.ndarray], batch: int = 256) -> Iterator[StateBatch]:
    X = torch.as_tensor(np.asarray(states), dtype=torch.float32)
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3 or X.shape[1] != len(targets):
        raise MiTasksError(f"states must be (N, D) or (layers, N, D) with one target per text; got {tuple(X.shape)} "
                           f"and {len(targets)} targets")
    if not torch.isfinite(X).all():
        raise MiTasksError("states contain NaN or inf; recompute them in float32")
    layers = list(range(X.shape[0]))
    for s in range(0, X.shape[1], batch):
        idx = np.arange(s, min(s + batch, X.shape[1]))
        yield StateBatch(indices=idx, states=X[:, idx], targets=[np.asarray(targets[i], dtype=np.int64) for i in idx],
                         layers=layers)


@dataclass
class RecoverabilityResult(LayerResult):
    """Per-layer scores, the frequency prior's scores, and the settings that produced them."""

    prior: dict[str, float] = field(kw_only=True)
    per_text: dict[str, np.ndarray] | None = field(default=None, repr=False)
    """Per-text scores (rows: layers, then the prior) for harness samples; not part of ``to_dict``."""

    KIND = "recoverability"
    TABLE_METRICS = ("recall_at_k", "lift_recall_at_k", "cosine", "bleu4", "rougeL",
                     "fano_mi_bits", "fano_mi_bits_empirical", "ba_mi_bits")

    def best(self, metric: str = "recall_at_k") -> dict[str, float]:
        return max(self.layers, key=lambda r: r[metric])

    def _extras(self) -> dict[str, Any]:
        return {"prior": dict(self.prior)}

    def _extra_rows(self) -> list[tuple[str, dict[str, Any]]]:
        return [("prior", self.prior)]

    def _cell(self, row: dict[str, Any], metric: str) -> str:
        return "vacuous" if row.get(metric + VACUOUS_SUFFIX) else super()._cell(row, metric)

    def _notes(self, metrics: Sequence[str]) -> list[str]:
        notes = [f"caveat: {flag}" for flag in self.meta.get(FLAGS_KEY) or ()]
        if any(r.get(m + VACUOUS_SUFFIX) for r in [*self.layers, self.prior] for m in metrics):
            notes.append("vacuous: Fano's bound is at most 0 there (H(t) < H_b(P_e) + P_e log2(|V|-1)), so it says nothing")
        return notes


class RecoverabilityProbe:
    """Linear token decoders per layer, fitted from one streamed pass over a train corpus.

    ``settings`` (:class:`~mi_tasks.metrics.recoverability.settings.RecoverabilitySettings`, or its
    fields as keywords, checked as task YAMLs are): ``fit`` ridge (closed form from sufficient
    statistics; default) or bce (the paper's BCE + Adam; keeps train states in memory);
    ``targets`` tokens (the model's own; default) or words (the same words for every model, see
    :mod:`mi_tasks.metrics.recoverability.words`; ``fit_arrays``/``score_arrays`` then take the
    texts); ``text_metrics`` (BLEU-4 / ROUGE-L, a Python loop per text and layer);
    ``calibration_fraction`` (a seeded slice of the train corpus held out from the fit to choose
    the penalty and calibrate probabilities); ``memory_budget_gb`` (a bound on the decoders held
    at once: layers are then fitted in groups from train states kept on disk in ``spill_dir``; see
    :mod:`mi_tasks.metrics.recoverability.memory_plan`); ``decoder_device`` (where the statistics,
    solve and scoring run; None: where the states are, the model's device for a pass, the CPU for
    plain arrays). Array-level knobs: ``alphas`` (ridge penalties relative to the standardized
    data scale), ``max_calibration``, ``bce_epochs``/``bce_lr``/``bce_batch_size``.
    """

    def __init__(self, settings: RecoverabilitySettings | None = None, *, seed: int = 0,
                 alphas: Sequence[float] = DEFAULT_ALPHAS, max_calibration: int = 500, bce_epochs: int = 10,
                 bce_lr: float = 1e-3, bce_batch_size: int = 256, spill_dir: str | None = None, **values: Any) -> None:
        s = RecoverabilitySettings.given(settings, " for RecoverabilityProbe", **values)
        self.settings = s
        self.fit_method = s.fit
        self.targets = s.targets
        self.alphas = tuple(alphas)
        self.calibration_fraction = s.calibration_fraction
        self.max_calibration = max_calibration
        self.seed = seed
        self.bce = dict(epochs=bce_epochs, lr=bce_lr, batch_size=bce_batch_size, seed=seed)
        self.text_metrics = s.text_metrics
        self.memory_budget_gb = s.memory_budget_gb
        self.spill_dir = spill_dir
        self.decoder_device = None if s.decoder_device is None else torch.device(s.decoder_device)
        self.meta: dict[str, Any] = {}
        self._store: StateStore | None = None

    # ---------------------------------------------------------------- fitting
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
                   plan: MemoryPlan | None = None) -> "RecoverabilityProbe":
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

    def _fit_all(self, batches: Iterable[StateBatch], vocab: DecoderVocabulary, n_texts: int) -> "RecoverabilityProbe":
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

    @translate_errors("RecoverabilityProbe.fit could not read the train corpus through the model", _API_FIX)
    def fit(self, train: StateStream) -> "RecoverabilityProbe":
        """Fit every layer of ``train`` (the train corpus' pass), streamed once."""
        texts = train.texts
        enc = train.encoded
        word_ids = self._word_train_targets(texts) if self.targets == "words" else None
        vocab = _vocabulary(word_ids if word_ids is not None else (enc.content_ids(i) for i in range(len(enc))),
                            self.targets)
        if word_ids is None:
            self.vocab_size_ = train.vocab_size
        self.meta = {**train.describe(), "train_truncated": enc.n_truncated,
                     "tokenizer": tokenizer_identity(train.tokenizer)}
        self.meta.pop("include_special")
        if train.corpus is not None:
            self.meta["train_corpus"] = train.corpus.describe()
        self.num_layers_ = train.num_layers
        # the plan, known before any forward pass: layers, width and the decoder vocabulary of the train corpus
        self.device_ = self.decoder_device or train.device
        plan = self._plan(len(train.layers), train.hidden_size, vocab, len(enc), self.device_)
        batches = train.batches(keep_on_device=same_device(self.device_, train.device))
        if word_ids is not None:
            batches = _retarget(batches, word_ids)
        return self.fit_stream(batches, vocab, len(enc), plan)

    def _word_train_targets(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Word ids of the train texts; the index they start is extended (on a copy) by each eval corpus."""
        self.words_ = WordIndex()
        ids = self.words_.targets(texts)
        self.vocab_size_ = len(self.words_)
        return ids

    def fit_arrays(self, states: np.ndarray | torch.Tensor, targets: Sequence[np.ndarray] | Sequence[str],
                   vocab_size: int | None = None) -> "RecoverabilityProbe":
        """Fit from plain arrays: states (N, D) or (layers, N, D); targets = token ids per text and the
        tokenizer's ``vocab_size``, or with ``targets="words"`` the texts themselves."""
        if len(targets) == 0:
            raise MiTasksError("no training texts: give at least one state and target")
        if self.targets == "words":
            ids = self._word_train_targets(_checked_texts(targets, "fit_arrays"))
        else:
            if vocab_size is None:
                raise MiTasksError("fit_arrays with token targets needs vocab_size (the tokenizer's |V|)")
            ids = list(targets)  # type: ignore[arg-type]
            self.vocab_size_ = int(vocab_size)
        X = np.asarray(states)
        self.num_layers_ = max(1, (X.shape[0] if X.ndim == 3 else 1) - 1)
        vocab = _vocabulary(ids, self.targets)
        return self.fit_stream(_array_batches(X, ids), vocab, len(ids))

    # ---------------------------------------------------------------- scoring
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
                sub = RecoverabilityProbe(dataclasses.replace(self.settings, memory_budget_gb=None), alphas=self.alphas,
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

    def _assemble(self, per: dict[str, np.ndarray], token_counts: np.ndarray, n_texts: int, V: int,
                  n_without: int = 0) -> RecoverabilityResult:
        h_emp = entropy_bits(token_counts)
        h_uni = math.log2(V)
        in_vocab = np.zeros(V, dtype=bool)
        in_vocab[self.vocab.ids[self.vocab.ids < V]] = True
        coverage = assess_targets(token_counts, in_vocab, n_texts, n_without, self.targets)  # refuses a corpus without targets

        def summary(slot: int) -> dict[str, float]:
            rec = float(per["recall"][slot].mean())
            ce = float(per["ce"][slot].mean())
            out = {
                "recall_at_k": rec,
                "cosine": float(per["cosine"][slot].mean()),
                "bleu4": float(per["bleu4"][slot].mean()) if self.text_metrics else float("nan"),
                "rougeL": float(per["rougeL"][slot].mean()) if self.text_metrics else float("nan"),
                "fano_mi_bits": fano_mi_bits(1.0 - rec, V),
                "fano_mi_bits_empirical": fano_mi_bits(1.0 - rec, V, h_emp),
                "cross_entropy_bits": ce,
            }
            out["fano_mi_bits_norm"] = out["fano_mi_bits"] / h_uni
            out["fano_mi_bits_empirical_norm"] = out["fano_mi_bits_empirical"] / h_emp if h_emp > 0 else 0.0
            # Standard errors: per-text means as lm-eval computes them; Fano's bounds (functions of the
            # mean recall) by a seeded bootstrap over texts.
            recalls = per["recall"][slot]
            out["recall_at_k_stderr"] = mean_stderr(recalls)
            out["cosine_stderr"] = mean_stderr(per["cosine"][slot])
            out["cross_entropy_bits_stderr"] = mean_stderr(per["ce"][slot])
            out["fano_mi_bits_stderr"] = bootstrap_stderr(
                recalls, lambda m: np.array([fano_mi_bits(1.0 - float(r), V) for r in m]), seed=self.seed)
            out["fano_mi_bits_empirical_stderr"] = bootstrap_stderr(
                recalls, lambda m: np.array([fano_mi_bits(1.0 - float(r), V, h_emp) for r in m]), seed=self.seed)
            for key, h in (("fano_mi_bits", None), ("fano_mi_bits_empirical", h_emp)):
                vacuous = fano_is_vacuous(1.0 - rec, V, h)
                out[key + VACUOUS_SUFFIX] = float(vacuous)
                if vacuous:  # 0 is the clamp, not a measurement: no standard error
                    out[key + "_stderr"] = float("nan")
            return out

        L = len(self.layers_)
        prior = summary(L)
        prior["ba_mi_bits"] = 0.0
        prior["ba_mi_bits_norm"] = 0.0
        rows = []
        for j, layer in enumerate(self.layers_):
            r = {"layer": int(layer), "depth": normalized_depth(layer, self.num_layers_), **summary(j)}
            r["ba_mi_bits"] = prior["cross_entropy_bits"] - r["cross_entropy_bits"]
            r["ba_mi_bits_stderr"] = mean_stderr(per["ce"][L] - per["ce"][j])  # paired: the same texts
            r["lift_recall_at_k_stderr"] = mean_stderr(per["recall"][j] - per["recall"][L])
            r["ba_mi_bits_norm"] = r["ba_mi_bits"] / h_emp if h_emp > 0 else 0.0
            for k in LIFT_KEYS:
                r[f"lift_{k}"] = r[k] - prior[k]
            dec = self.decoders[j]
            if isinstance(dec, RidgeTokenDecoder):
                r["ridge_alpha"] = float(dec.alpha_)
                r["prior_fallback"] = float(dec.is_prior)
            rows.append(r)
        total = token_counts.sum()
        meta = dict(self.meta)
        meta.update({
            "fit": self.fit_method, "seed": self.seed, "targets": self.targets,
            "target_definition": WORD_TOKENIZATION if self.targets == "words" else
            "tokens: the model's own non-special token ids, each once per text",
            "vocab_size": V, "decoder_vocab_size": len(self.vocab),
            "n_train_fit": self.n_fit_, "n_calibration": self.n_calibration_, "n_eval": n_texts,
            "coverage_tokens": float(token_counts[in_vocab].sum() / total) if total else 0.0,
            "coverage_types": float(((token_counts > 0) & in_vocab).sum() / max((token_counts > 0).sum(), 1)),
            "unigram_entropy_bits": h_emp, "log2_vocab": h_uni, "oov_mass": self.oov_mass_, **coverage,
        })
        if self.fit_method == "bce":
            meta["bce"] = dict(self.bce)
        else:
            meta["alphas"] = list(self.alphas)
        return RecoverabilityResult(layers=rows, prior=prior, meta=meta, per_text=per)

    @translate_errors("RecoverabilityProbe.score could not read the eval corpus through the model", _API_FIX)
    def score(self, evaluation: StateStream) -> RecoverabilityResult:
        """Score every fitted layer on ``evaluation`` (the eval corpus' pass)."""
        self._check_fitted()
        if evaluation.layers != list(self.layers_):
            raise MiTasksError(f"the eval pass reads layers {evaluation.layers} but the probe was fitted on {self.layers_}")
        batches = evaluation.batches(keep_on_device=same_device(self.device_, evaluation.device))
        result = self.score_stream(batches, evaluation.n_texts, texts=evaluation.texts)
        result.meta["eval_truncated"] = evaluation.n_truncated
        if evaluation.corpus is not None:
            result.meta["eval_corpus"] = evaluation.corpus.describe()
        return result

    def score_arrays(self, states: np.ndarray | torch.Tensor, targets: Sequence[np.ndarray] | Sequence[str]
                     ) -> RecoverabilityResult:
        """Score plain arrays shaped like those given to :meth:`fit_arrays` (token ids, or texts with word targets)."""
        if len(targets) == 0:
            raise MiTasksError("no eval texts: give at least one state and target")
        if self.targets == "words":
            texts = _checked_texts(targets, "score_arrays")
            return self.score_stream(_array_batches(states, [np.empty(0, np.int64)] * len(texts)), len(texts), texts=texts)
        return self.score_stream(_array_batches(states, targets), len(targets))  # type: ignore[arg-type]


def _checked_texts(targets: Sequence[Any], where: str) -> list[str]:
    if not all(isinstance(t, str) for t in targets):
        raise MiTasksError(f"{where} with targets='words' takes the texts (strings) as targets, not token ids")
    return list(targets)


def _vocabulary(targets: Iterable[np.ndarray], kind: str) -> DecoderVocabulary:
    """The decoder vocabulary of the train targets; an empty one is an error naming what was empty."""
    try:
        return DecoderVocabulary.from_targets(targets)
    except ValueError:
        what = f"holds no word ({WORD_TOKENIZATION})" if kind == "words" else "has no non-special tokens"
        raise MiTasksError(f"the train corpus {what}; use a corpus of real text") from None
