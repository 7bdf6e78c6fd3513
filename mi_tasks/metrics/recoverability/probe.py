"""Token recoverability per layer: fit linear decoders on a train corpus, score an eval corpus.

Estimator-style: ``RecoverabilityProbe(settings).fit(train_stream).score(eval_stream)``, the
streams being the passes of the train and eval corpora (:class:`~mi_tasks.states.stream.StateStream`),
returns a :class:`RecoverabilityResult` (per-layer table, ``to_dict()``). The probe is assembled from
its three parts: :mod:`.fitting`, :mod:`.scoring` and :mod:`.assembly` (per-text scores to a result). ``fit_arrays`` /
``score_arrays`` take plain state arrays instead of a model. Every score is also given for the
frequency prior (a decoder that ignores E), with each layer's lift over it.

``targets``: ``tokens`` (each text's own non-special token ids, the paper's definition) or ``words``
(:mod:`mi_tasks.metrics.recoverability.words`, one tokenization for every model, |V| = the word types of train and eval
texts), which is what compares models with different tokenizers.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from .decoders import DEFAULT_ALPHAS
from ...errors import MiTasksError, translate_errors
from ...states.extraction import StateBatch
from ...states.stream import StateStream
from .memory_plan import same_device
from ...states.state_store import StateStore
from .vocabulary import DecoderVocabulary
from .settings import RecoverabilitySettings
from .words import WORD_TOKENIZATION, WordIndex
from .assembly import ResultAssembly
from .fitting import DecoderFitting
from .result import RecoverabilityResult
from .scoring import DecoderScoring, _retarget

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
        yield StateBatch(indices=idx, states=X[:, idx], targets=[np.asarray(targets[i], dtype=np.int64) for i in idx],
                         layers=layers)


class RecoverabilityProbe(DecoderFitting, DecoderScoring, ResultAssembly):
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
