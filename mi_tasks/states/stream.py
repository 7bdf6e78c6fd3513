"""One corpus through one extractor, as a metric reads it: the pass is run here, never by a metric.

A :class:`StateStream` knows the texts, their tokens and the pass settings, and yields the
batches; it runs the model lazily, at most once when kept (``keep=True``: the eval pass every
task of a run shares), or once per iteration for a train pass that a fit consumes as it streams.
Metrics take streams, so they need no model, extractor or tokenizer call of their own.
"""
from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch

from ..errors import MiTasksError
from .reducers import TokenReducer, merge_reducers

if TYPE_CHECKING:
    from ..data.corpora import Corpus


class StateStream:
    """The pooled states (and asked-for token reductions) of ``texts`` under ``extractor``'s settings."""

    def __init__(self, extractor: Any, texts: Sequence[str], what: str = "corpus",
                 reducers: Sequence[TokenReducer] = (), corpus: "Corpus | None" = None, keep: bool = False,
                 desc: str | None = None) -> None:
        self.extractor = extractor
        self.texts = list(texts)
        self.what = what
        self.corpus = corpus
        self.reducers = merge_reducers(reducers)
        self.keep = keep
        self.desc = desc or f"{what} states"
        self._kept: list[Any] | None = None

    @functools.cached_property
    def encoded(self) -> Any:
        """The texts' tokens (truncated as the pass runs them), made on first use."""
        return self.extractor.encode(self.texts, self.what)

    # what metrics read about the pass
    @property
    def layers(self) -> list[int]:
        return list(self.extractor.layers)

    @property
    def num_layers(self) -> int:
        return self.extractor.num_layers

    @property
    def hidden_size(self) -> int:
        return self.extractor.hidden_size

    @property
    def vocab_size(self) -> int:
        return self.extractor.vocab_size

    @property
    def tokenizer(self) -> Any:
        return self.extractor.tokenizer

    @property
    def device(self) -> torch.device:
        return self.extractor.device

    @property
    def n_texts(self) -> int:
        return len(self.encoded)

    @property
    def n_truncated(self) -> int:
        return self.encoded.n_truncated

    def describe(self) -> dict[str, Any]:
        """The pass settings a result records (model, pooling, length, special tokens, truncations)."""
        ex = self.extractor
        return {"model": model_name(ex.model), "num_layers": ex.num_layers, "pooling": ex.pooling,
                "max_length": ex.max_text_length, "include_special": bool(ex.include_special)}

    def with_reducers(self, reducers: Sequence[TokenReducer]) -> None:
        """Ask for more reductions before the first run (a kept pass already run is rerun once)."""
        merged = merge_reducers(self.reducers, reducers)
        if len(merged) != len(self.reducers):
            self.reducers = merged
            self._kept = None

    def batches(self, keep_on_device: bool = False) -> Iterator[Any]:
        """The batches in pass order; a kept stream runs the model the first time only."""
        if self._kept is not None:
            return iter(self._kept)
        it = self.extractor.iter_batches(self.encoded, desc=self.desc, reducers=self.reducers,
                                         keep_on_device=keep_on_device and not self.keep)
        if self.keep:
            self._kept = list(it)
            return iter(self._kept)
        return it

    def random_copy(self, indices: Sequence[int], seed: int, desc: str = "random-init states") -> "StateStream":
        """The same pass settings and reducers over a seeded random copy of the model, on ``texts[indices]``.

        What a baseline against an untrained network of the same architecture reads (Diff-eRank).
        """
        ex = self.extractor
        fresh = type(ex)(random_copy(ex.model, seed), ex.tokenizer, layers=list(ex.layers),
                                     pooling=ex.pooling, max_text_length=ex.max_text_length,
                                     batch_size=ex.batch_size, group_by_length=ex.group_by_length,
                                     include_special=ex.include_special, progress=ex.progress,
                                     process_group=ex.process_group)
        return StateStream(fresh, [self.texts[i] for i in indices], self.what, self.reducers, desc=desc)


def random_copy(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """A randomly initialised model of the same architecture, config, dtype and device (seeded)."""
    try:
        param = next(model.parameters())
    except StopIteration:
        raise MiTasksError("the model has no parameters to copy the architecture from") from None
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        fresh = type(model)(model.config)
    except Exception as e:  # noqa: BLE001 - name the model class in the message
        raise MiTasksError(f"cannot build a random copy of {type(model).__name__} from its config: {e}") from e
    finally:
        torch.random.set_rng_state(state)
    return fresh.to(device=param.device, dtype=param.dtype).eval()


def model_name(model: torch.nn.Module) -> str:
    """The model's hub id or folder, else its class name (what results call it)."""
    return str(getattr(model.config, "_name_or_path", "") or type(model).__name__)
