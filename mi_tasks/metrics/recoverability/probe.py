"""Token recoverability per layer: fit linear decoders on a train corpus, score an eval corpus.

Estimator-style: ``RecoverabilityProbe(settings).fit(train_stream).score(eval_stream)``, the
streams being the passes of the train and eval corpora (:class:`~mi_tasks.states.stream.StateStream`),
returns a :class:`RecoverabilityResult` (per-layer table, ``to_dict()``). The probe runs the three
steps, each a function with its own inputs and outputs: :func:`.fitting.fit_decoders` (train
batches to :class:`.fitting.FittedDecoders`), :func:`.scoring.score_decoders` (eval batches to
per-text scores) and :func:`.assembly.assemble` (per-text scores to a result); it decides the
memory plan, the targets and which layers each step sees. ``fit_arrays`` /
``score_arrays`` take plain state arrays instead of a model. Every score is also given for the
frequency prior (a decoder that ignores E), with each layer's lift over it.

``targets``: ``tokens`` (each text's own non-special token ids, the paper's definition) or ``words``
(:mod:`mi_tasks.metrics.recoverability.words`, one tokenization for every model, |V| = the word types of train and eval
texts), which is what compares models with different tokenizers.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from ...errors import MiTasksError, translate_errors
from ...states.extraction import StateBatch
from ...states.state_store import StateStore
from ...states.stream import StateStream
from .assembly import assemble
from .decoders import DEFAULT_ALPHAS
from .fitting import FitConfig, FittedDecoders, fit_decoders
from .memory_plan import MemoryPlan, check_device_memory, plan_recoverability, same_device
from .result import RecoverabilityResult
from .scoring import retarget, score_decoders
from .settings import RecoverabilitySettings
from .vocabulary import DecoderVocabulary
from .words import WORD_TOKENIZATION, WordIndex

log = logging.getLogger("mi_tasks")


_API_FIX = "check the texts (a list of strings) and the extractor's settings"


def tokenizer_identity(tokenizer: Any) -> dict[str, Any]:
    """Name, size and a hash of a tokenizer's vocabulary: token targets compare only under the same hash."""
    try:
        vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: (kv[1], kv[0]))
        digest: str | None = hashlib.sha256(json.dumps(vocab, ensure_ascii=False).encode("utf-8")).hexdigest()
    except (AttributeError, NotImplementedError, TypeError):  # a tokenizer without a vocabulary listing
        digest = None
    return {"name": str(getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__),
            "class": type(tokenizer).__name__, "vocab_size": len(tokenizer), "sha256": digest}


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
        yield StateBatch(indices=idx, states=X[:, idx], targets=[_distinct(targets[i]) for i in idx], layers=layers)


def _distinct(ids: Any) -> np.ndarray:
    """A text's target ids, each once in order of first appearance: a target is a set (a token listed twice
    would count twice in the prior's document frequencies and push them past 1)."""
    arr = np.asarray(ids, dtype=np.int64)
    return arr[np.sort(np.unique(arr, return_index=True)[1])]


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
        self.targets = s.targets
        self.text_metrics = s.text_metrics
        self.config = FitConfig(method=s.fit, alphas=tuple(alphas), calibration_fraction=s.calibration_fraction,
                                max_calibration=max_calibration, seed=seed,
                                bce=dict(epochs=bce_epochs, lr=bce_lr, batch_size=bce_batch_size, seed=seed))
        self.spill_dir = spill_dir
        self.decoder_device = None if s.decoder_device is None else torch.device(s.decoder_device)
        self.meta: dict[str, Any] = {}
        # set by fitting; read by scoring
        self.fitted_: FittedDecoders | None = None
        """The fit of every layer, or None before a fit and when a memory budget fits layers in groups."""
        self._store: StateStore | None = None
        """The train states on disk when the layers are fitted group by group at scoring time."""
        self.vocab_: DecoderVocabulary | None = None
        self.layers_: list[int] = []
        self.n_texts_ = 0
        self.device_: torch.device | None = None
        self.plan_: MemoryPlan | None = None
        self.vocab_size_ = 0
        """Fano's |V| with token targets (the tokenizer's size); with words, the train word types."""
        self.num_layers_ = 0
        self.words_: WordIndex | None = None

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
            batches = retarget(batches, word_ids)
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


    def _plan(self, n_layers: int, hidden: int, vocab: DecoderVocabulary, n_texts: int,
              device: torch.device) -> MemoryPlan:
        """The memory plan for these shapes (bounded for ridge fits only), logged and kept in the results."""
        plan = plan_recoverability(n_layers, hidden, len(vocab), n_texts, 0,
                                   self.settings.memory_budget_gb if self.config.method == "ridge" else None,
                                   device=str(device))
        log.info(plan.describe())
        check_device_memory(plan)
        self.plan_ = plan
        self.meta["memory_plan"] = plan.to_dict()
        return plan

    def fit_stream(self, batches: Iterable[StateBatch], vocab: DecoderVocabulary, n_texts: int,
                   plan: MemoryPlan | None = None) -> "RecoverabilityProbe":
        """Fit from a stream of batches whose ``indices`` run over 0..n_texts-1.

        ``plan``: the memory plan when the caller made it before the stream (``fit`` does, before the
        model runs); otherwise the first batch's shapes fix it. When all layers fit, they are fitted
        now, from the stream; otherwise the stream's states go to disk and each group of layers is
        fitted and scored in turn when :meth:`score_stream` runs (same numbers: every layer's fit
        sees the same batches in order).
        """
        it = iter(batches)
        first = next(it, None)
        if first is None:
            raise MiTasksError("the train corpus gave no texts to fit on; use a larger train corpus")
        self.device_ = self.decoder_device or first.states.device
        if plan is None:
            plan = self._plan(len(first.layers), int(first.states.shape[-1]), vocab, n_texts, self.device_)
        stream = itertools.chain([first], it)
        self.vocab_, self.layers_, self.n_texts_ = vocab, list(first.layers), n_texts
        self._close_store()
        if plan.n_groups == 1:
            self.fitted_ = fit_decoders(stream, vocab, n_texts, self.config, self.device_)
        else:
            self.fitted_ = None
            self._store = StateStore.from_stream(stream, n_texts, self.spill_dir)
        return self

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def score_stream(self, batches: Iterable[StateBatch], n_texts: int,
                     texts: Sequence[str] | None = None) -> RecoverabilityResult:
        """Score a stream of eval batches; ``texts`` (in index order) are needed with word targets."""
        self._check_fitted()
        V = self.vocab_size_
        if self.targets == "words":
            if texts is None or len(texts) != n_texts:
                raise MiTasksError("word targets are taken from the eval texts: pass texts= (one per scored text) "
                                   "to score_stream")
            if self.words_ is None:
                raise MiTasksError("this probe has no word index: fit word targets with fit() or fit_arrays()")
            index = self.words_.copy()  # eval words extend a copy: the fitted probe is unchanged
            batches = retarget(batches, index.targets(texts))
            V = len(index)  # Fano's |V|: the word types of the train and eval texts
        if self._store is not None:
            return self._score_groups(batches, n_texts, V)
        return self._result(score_decoders(self.fitted_, batches, n_texts, V, self.text_metrics), self.fitted_, V,
                            self.meta)

    def _check_fitted(self) -> None:
        if self.fitted_ is None and self._store is None:
            raise MiTasksError("the probe is not fitted: call fit() on a train corpus first")

    def _result(self, scores: Any, fitted: FittedDecoders, V: int, meta: dict[str, Any]) -> RecoverabilityResult:
        return assemble(scores, fitted, self.config, V, targets=self.targets, text_metrics=self.text_metrics,
                        num_layers=self.num_layers_, meta=meta)

    def _score_groups(self, batches: Iterable[StateBatch], n_texts: int, V: int) -> RecoverabilityResult:
        """Fit and score one group of layers at a time from the stored train states (see ``fit_stream``)."""
        evals = StateStore.from_stream(batches, n_texts, self.spill_dir)
        if evals.layers != self.layers_:
            evals.close()
            raise MiTasksError(f"eval states have layers {evals.layers} but the probe was fitted on {self.layers_}")
        parts: list[RecoverabilityResult] = []
        try:
            size = self.plan_.group_size
            for start in range(0, len(self.layers_), size):
                stop = min(start + size, len(self.layers_))
                fitted = fit_decoders(self._store.batches(start, stop), self.vocab_, self.n_texts_, self.config,
                                      self.device_)
                scores = score_decoders(fitted, evals.batches(start, stop), n_texts, V, self.text_metrics)
                parts.append(self._result(scores, fitted, V, {}))
                del fitted, scores
        finally:
            evals.close()
        first = parts[0]
        per = {k: np.concatenate([p.per_text[k][:-1] for p in parts] + [first.per_text[k][-1:]]) for k in first.per_text}
        meta = {**first.meta, **self.meta}  # the groups' shared scores' meta, plus the model and the plan
        return RecoverabilityResult(layers=[r for p in parts for r in p.layers], prior=first.prior, meta=meta,
                                    per_text=per)


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
