"""One forward pass per batch yields pooled states for every requested layer.

Texts are tokenized once, grouped by length (longest first, so a too-large batch fails at
once rather than late) and run with ``output_hidden_states=True``. Each batch carries the
texts' unique non-special token ids, the targets recoverability needs, so no metric has to
tokenize or run the model again.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .backbone import check_finite, hidden_states, model_device, pad_batch, real_token_positions, takes_position_ids
from ..errors import MiTasksError
from .layers import LayerSpec, normalized_depth, parse_layers
from .settings import PassSettings
from .modeling import ensure_bidirectional, is_encoder_only, prepare_tokenizer, text_config
from .pooling import check_pooling, content_tokens, pool
from .reducers import TokenReducer

if TYPE_CHECKING:
    from .stream import StateStream

log = logging.getLogger(__name__)


def unique_in_order(ids: np.ndarray) -> np.ndarray:
    """Unique values of ``ids`` kept in order of first occurrence."""
    _, first = np.unique(ids, return_index=True)
    return ids[np.sort(first)]


@dataclass
class EncodedTexts:
    """Token ids per text (after truncation) and which positions hold special tokens."""

    input_ids: list[list[int]]
    special_masks: list[list[int]]
    n_truncated: int

    def __len__(self) -> int:
        return len(self.input_ids)

    def content_ids(self, i: int) -> np.ndarray:
        """Unique non-special token ids of text ``i`` in order of first occurrence (the target)."""
        return unique_in_order(np.asarray(self.input_ids[i], dtype=np.int64)[np.asarray(self.special_masks[i]) == 0])


@dataclass
class StateBatch:
    """Pooled states of one batch: ``states[j]`` is (B, D) float32 for ``layers[j]``.

    ``reduced`` holds, per :class:`~mi_tasks.states.reducers.TokenReducer` the pass was asked for,
    its output for every layer, (n_layers, B, ...) on the CPU, and ``n_tokens`` the token count
    each text's reductions were taken over (the tokens mean pooling averages).
    """

    indices: np.ndarray
    states: torch.Tensor
    targets: list[np.ndarray]
    layers: list[int]
    reduced: dict[str, torch.Tensor] = field(default_factory=dict)
    n_tokens: torch.Tensor | None = None


def check_texts(texts: Sequence[Any], what: str = "corpus") -> list[str]:
    """Refuse empty corpora and empty or non-string texts, naming the first offender."""
    if isinstance(texts, str):
        raise MiTasksError(f"the {what} must be a list of texts, not one string")
    texts = list(texts)
    if not texts:
        raise MiTasksError(f"the {what} is empty: give at least one text (check the file, field and limit)")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise MiTasksError(
                f"text {i} of the {what} is a {type(t).__name__}, not a string; "
                "choose the text field with text_field= or a template"
            )
        if not t.strip():
            raise MiTasksError(f"text {i} of the {what} is empty or whitespace; drop empty rows before scoring")
    return texts


def model_num_layers(model: torch.nn.Module) -> int:
    cfg = text_config(model.config)
    for name in ("num_hidden_layers", "n_layer", "num_layers"):
        n = getattr(cfg, name, None)
        if isinstance(n, int) and n > 0:
            return n
    raise MiTasksError(f"cannot tell how many layers {type(model).__name__} has (no num_hidden_layers in its config)")


class HiddenStateExtractor:
    """Reads pooled hidden states of chosen layers from a Hugging Face model.

    Parameters carry the task YAML's names (:class:`~mi_tasks.states.settings.PassSettings`):
    ``layers`` (spec, see :func:`parse_layers`, or the indices it gave), ``pooling``
    (mean/last/first), ``max_text_length`` (longer texts are truncated with a warning),
    ``include_special`` (special tokens in the mean and the token matrices); and ``batch_size``.
    With a ``process_group`` of several ranks every pass is sharded across them and gathered back in
    single-process order (see :mod:`mi_tasks.states.distributed`).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        layers: LayerSpec = PassSettings.layers,
        pooling: str = PassSettings.pooling,
        max_text_length: int = PassSettings.max_text_length,
        batch_size: int = 32,
        group_by_length: bool = True,
        include_special: bool = PassSettings.include_special,
        progress: bool = True,
        process_group: Any = None,
    ) -> None:
        if batch_size < 1:
            raise MiTasksError(f"batch_size must be >= 1, got {batch_size}")
        if max_text_length < 2:
            raise MiTasksError(f"max_text_length must be >= 2, got {max_text_length}")
        self.model = model
        self.tokenizer = prepare_tokenizer(tokenizer)
        ensure_bidirectional(model)
        self.num_layers = model_num_layers(model)
        self.layers = parse_layers(layers, self.num_layers)
        self.pooling = check_pooling(pooling)
        self.max_text_length = self._cap_length(max_text_length)
        self.batch_size = batch_size
        self.group_by_length = group_by_length
        self.include_special = include_special
        self.progress = progress
        self.process_group = process_group  # a distributed.ProcessGroup: shard passes across ranks
        self._encoder = is_encoder_only(model.config)
        self._takes_position_ids = takes_position_ids(model)

    @property
    def depths(self) -> list[float]:
        return [normalized_depth(i, self.num_layers) for i in self.layers]

    @property
    def hidden_size(self) -> int:
        return int(text_config(self.model.config).hidden_size)

    @property
    def vocab_size(self) -> int:
        """|V| of the model's tokenizer (the alphabet of the token variable t)."""
        return len(self.tokenizer)

    def _cap_length(self, max_text_length: int) -> int:
        limit = getattr(text_config(self.model.config), "max_position_embeddings", None)
        if isinstance(limit, int) and 0 < limit < max_text_length:
            log.warning("max_text_length %d exceeds the model's %d positions; using %d", max_text_length, limit, limit)
            return limit
        return max_text_length

    def encode(self, texts: Sequence[str], what: str = "corpus") -> EncodedTexts:
        """Tokenize (with the model's special tokens), truncate to ``max_text_length`` and warn how many were cut."""
        texts = check_texts(texts, what)
        enc = self.tokenizer(
            texts, truncation=True, max_length=self.max_text_length,
            return_special_tokens_mask=True, return_attention_mask=False,
        )
        ids, special = enc["input_ids"], enc["special_tokens_mask"]
        at_cap = [i for i, row in enumerate(ids) if len(row) >= self.max_text_length]
        n_trunc = 0
        if at_cap:
            full = self.tokenizer([texts[i] for i in at_cap], truncation=False, verbose=False)["input_ids"]
            n_trunc = sum(len(r) > self.max_text_length for r in full)
        if n_trunc:
            warnings.warn(
                f"{n_trunc} of {len(texts)} texts in the {what} are longer than max_text_length={self.max_text_length} "
                "tokens and were truncated; raise max_text_length to keep them whole",
                stacklevel=2,
            )
        for i, row in enumerate(ids):
            if not row:
                raise MiTasksError(f"text {i} of the {what} tokenizes to nothing; drop it")
        return EncodedTexts(input_ids=ids, special_masks=special, n_truncated=n_trunc)

    def batch_order(self, enc: EncodedTexts) -> list[np.ndarray]:
        """Batches of text indices: longest first when grouping by length, input order otherwise."""
        n = len(enc)
        if self.group_by_length:
            lengths = np.array([len(r) for r in enc.input_ids])
            order = np.argsort(-lengths, kind="stable")
        else:
            order = np.arange(n)
        return [order[i:i + self.batch_size] for i in range(0, n, self.batch_size)]

    @property
    def device(self) -> torch.device:
        """Where the model's (first) parameters are: inputs go there, and states kept on device stay there."""
        return model_device(self.model)

    def run_batch(self, enc: EncodedTexts, idx: np.ndarray) -> tuple[tuple[torch.Tensor, ...], torch.Tensor,
                                                                       torch.Tensor | None]:
        """(every layer's token states, attention mask, content mask or None) for the texts ``idx``.

        The one place a batch is padded, placed and run (position ids for left-padded decoders). It
        keeps autograd as the caller has it: :meth:`forward_batch` runs it under inference mode,
        enhancement with gradients.
        """
        feats = [{"input_ids": enc.input_ids[i], "special_tokens_mask": enc.special_masks[i]} for i in idx]
        padded = pad_batch(self.tokenizer, feats, self._encoder)
        device = self.device
        input_ids = padded["input_ids"].to(device)
        attn = padded["attention_mask"].to(device)
        content = None if self.include_special else (padded["special_tokens_mask"].to(device) == 0)
        positions = real_token_positions(attn) if not self._encoder and self._takes_position_ids else None
        hs = hidden_states(self.model, input_ids, attn, self.num_layers, position_ids=positions).hidden_states
        return hs, attn, content

    def forward_batch(self, enc: EncodedTexts, idx: np.ndarray, reducers: Sequence[TokenReducer] = (),
                      keep_on_device: bool = False) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor | None]:
        """Pooled states (n_layers, B, D) float32 for the texts ``idx`` from one forward pass.

        Also each reducer's output per layer and the token count it saw, or ({}, None) when no
        reducer is asked for. Pooled states and reductions come back on the CPU, or with
        ``keep_on_device`` on the device of the model's first parameters (so statistics built from
        them need not cross to the host).
        """
        device = self.device
        reduced: dict[str, torch.Tensor] = {}
        n_tok = None
        with torch.inference_mode():
            hs, attn, content = self.run_batch(enc, idx)
            pooled = torch.stack([self._pool(hs[l], attn, content, device) for l in self.layers])
            if reducers:
                tokens = content_tokens(attn, content)  # the tokens mean pooling averages
                for r in reducers:
                    reduced[r.name] = torch.stack([r(hs[l], tokens.to(hs[l].device)).to(device) for l in self.layers])
                    if not keep_on_device:
                        reduced[r.name] = reduced[r.name].cpu()
                n_tok = tokens.sum(1).cpu()
        check_finite(pooled, self.layers, self.model)
        if not keep_on_device:
            pooled = pooled.cpu()
        return pooled, reduced, n_tok

    def _pool(self, h: torch.Tensor, attn: torch.Tensor, content: torch.Tensor | None, device: torch.device) -> torch.Tensor:
        """Pool one layer where its states are (a model split over devices keeps layers on several), then gather on ``device``."""
        here = h.device
        return pool(h, attn.to(here), self.pooling, None if content is None else content.to(here)).to(device)

    def iter_batches(self, texts: Sequence[str] | EncodedTexts, desc: str = "hidden states",
                     reducers: Sequence[TokenReducer] = (), shard: tuple[int, int] | None = None,
                     keep_on_device: bool = False) -> Iterator[StateBatch]:
        """Stream :class:`StateBatch` es over a corpus; each text is run exactly once.

        ``reducers`` add per-text reductions of the token states (spectra, curvature) from the same pass. ``shard=(rank,
        world)`` runs only batches ``rank, rank + world, ...`` of the single-process order, so the
        shards of several processes interleave back into exactly that order. ``keep_on_device``
        leaves the pooled states on the model's device (batches gathered from other ranks arrive
        on the CPU).
        """
        enc = texts if isinstance(texts, EncodedTexts) else self.encode(texts)
        group = self.process_group
        if shard is None and group is not None and group.active:
            from .distributed import gathered_stream

            local = self.iter_batches(enc, desc, reducers, shard=(group.rank, group.world))
            yield from gathered_stream(local, len(self.batch_order(enc)), group)
            return
        batches = self.batch_order(enc)
        if shard is not None:
            rank, world = shard
            batches = batches[rank::world]
        bar = tqdm(total=sum(len(b) for b in batches), desc=desc, unit="text", disable=not self.progress, leave=False)
        try:
            for idx in batches:
                states, reduced, n_tok = self.forward_batch(enc, idx, reducers, keep_on_device=keep_on_device)
                yield StateBatch(indices=idx, states=states, targets=[enc.content_ids(i) for i in idx],
                                 layers=self.layers, reduced=reduced, n_tokens=n_tok)
                bar.update(len(idx))
        finally:
            bar.close()

    def stream(self, texts: Any, what: str = "corpus", reducers: Sequence[TokenReducer] = (),
               keep: bool = False) -> "StateStream":
        """The pass over ``texts`` (a list of texts or a :class:`~mi_tasks.data.corpora.Corpus`) that metrics read."""
        from ..data.corpora import Corpus
        from .stream import StateStream

        corpus = texts if isinstance(texts, Corpus) else None
        return StateStream(self, corpus.texts if corpus is not None else texts, what, reducers, corpus=corpus, keep=keep)

    def extract(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """All pooled states at once, (n_layers, N, D) in input order, with the targets (small corpora)."""
        enc = self.encode(texts)
        out = np.zeros((len(self.layers), len(enc), self.hidden_size), dtype=np.float32)
        targets: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(enc)
        for b in self.iter_batches(enc):
            out[:, b.indices] = b.states.numpy()
            for i, t in zip(b.indices, b.targets):
                targets[i] = t
        return out, targets

