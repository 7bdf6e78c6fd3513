"""The passes of one loaded model, each computed once per settings and corpus, for every metric of a run.

:class:`StateSource` owns what the runners used to build for each metric: the extractor per pass
settings, the layer spec parsed once, the eval pass kept (with the union of the token reductions
its metrics ask for), the train pass streamed on demand, and a cache of fitted state. It knows
no metric by name: a metric family says what it needs (:mod:`mi_tasks.metrics.family`), and
:meth:`inputs` assembles it.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import Settings, settings_key
from .extraction import HiddenStateExtractor, model_num_layers
from .layers import parse_layers
from .modeling import hidden_state_module
from .reducers import TokenReducer
from .settings import PassSettings
from .stream import StateStream


def texts_digest(texts: Sequence[str]) -> str:
    """sha256 of the texts in order: equal digests, equal corpora."""
    return hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()


@dataclass
class PassInputs:
    """What the pass layer gives a family: the eval pass, the train pass on demand, its settings.

    ``evaluation`` is the eval corpus' pass (shared by every family of the run, with every
    family's reducers); ``train()`` streams the train corpus' pass (families with ``needs_train``);
    ``stream(texts, what)`` a pass of other texts under the same settings (augmented views);
    ``memo(key, make)`` keeps fitted state (decoders) for the model's lifetime; ``model``,
    ``tokenizer`` and ``batch_size`` serve families whose inputs are not the corpus' texts
    (IE's windows), which run them through :mod:`mi_tasks.states.backbone` like every pass.
    """

    evaluation: StateStream
    settings: Settings | None
    seed: int
    layers: list[int]
    num_layers: int
    train: Callable[[], StateStream]
    train_key: str
    stream: Callable[[Sequence[str], str], StateStream]
    memo: Callable[[Any, Callable[[], Any]], Any]
    model: Any = None
    tokenizer: Any = None
    batch_size: int = 32
    progress: bool = True


class StateSource:
    """Passes over one model and tokenizer; ``cache`` may outlive the object (lm-eval keeps it on the LM)."""

    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 32, process_group: Any = None,
                 progress: bool = True, cache: dict[Any, Any] | None = None) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.batch_size, self.group, self.progress = batch_size, process_group, progress
        self.cache: dict[Any, Any] = {} if cache is None else cache
        self.num_layers = model_num_layers(model)

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        """``cache[key]``, made once."""
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    def layers(self, spec: str | Sequence[int]) -> list[int]:
        """A layer spec parsed once for this model (an error names the valid range before any pass)."""
        return list(self.memo(("layers", str(spec)), lambda: parse_layers(spec, self.num_layers)))

    def extractor(self, pass_settings: PassSettings) -> HiddenStateExtractor:
        """The extractor of these pass settings (every one of them decides the states, so all are in the key)."""
        def make() -> HiddenStateExtractor:
            backbone = hidden_state_module(self.model)  # hidden states without the LM head's cost
            return HiddenStateExtractor(backbone, self.tokenizer, layers=self.layers(pass_settings.layers),
                                        pooling=pass_settings.pooling, max_text_length=pass_settings.max_text_length,
                                        include_special=pass_settings.include_special, batch_size=self.batch_size,
                                        progress=self.progress, process_group=self.group)
        return self.memo(("extractor", pass_settings.key()), make)

    def eval_stream(self, pass_settings: PassSettings, texts: Sequence[str],
                    reducers: Sequence[TokenReducer] = ()) -> StateStream:
        """The eval pass of ``texts``, kept and shared: asked-for reducers are added before it runs."""
        key = ("pass", pass_settings.key(), texts_digest(texts))
        stream = self.memo(key, lambda: StateStream(self.extractor(pass_settings), texts, "eval corpus", keep=True,
                                                    desc="eval states"))
        stream.with_reducers(reducers)
        return stream

    def train_stream(self, pass_settings: PassSettings, corpus: Any) -> StateStream:
        """The train corpus' pass, streamed once by the fit that reads it."""
        return self.extractor(pass_settings).stream(corpus, "train corpus")

    def inputs(self, family: Any, pass_settings: PassSettings, own: Settings | None, train: Settings | None,
               seed: int, texts: Sequence[str]) -> Any:
        """What ``family`` needs for ``texts``: the shared eval pass, its train pass on demand, its settings."""
        from ..data.corpora import load_corpus

        def train_pass() -> StateStream:
            corpus = load_corpus(train.corpus, **train.load_kwargs(seed))  # type: ignore[union-attr]
            return self.train_stream(pass_settings, corpus)

        extra = [own] if own is not None else []
        return PassInputs(
            evaluation=self.eval_stream(pass_settings, texts, family.reducers), settings=own, seed=seed,
            layers=self.layers(pass_settings.layers), num_layers=self.num_layers, train=train_pass,
            train_key=settings_key(pass_settings, *( [train] if train is not None else []), *extra, seed=seed),
            stream=lambda other, what: self.extractor(pass_settings).stream(list(other), what),
            memo=self.memo, model=self.model, tokenizer=self.tokenizer, batch_size=self.batch_size,
            progress=self.progress)
