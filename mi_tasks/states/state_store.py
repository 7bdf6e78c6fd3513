"""Pooled states of a stream kept on disk, to replay the same batches for one group of layers at a time.

Layer-major float32 ``.npy`` memmap (layers, texts, D) in a temporary folder that is removed with
the store, so a group reads only its own layers. Replayed batches hold the very same values, indices
and targets as the stream they came from, in the same order: sums built from them are bit-identical.
"""
from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from ..errors import MiTasksError
from .extraction import StateBatch


class StateStore:
    """States of every layer of a batch stream, written once and replayed per group of layer slots."""

    def __init__(self, layers: list[int], n_texts: int, hidden: int, directory: str | Path | None = None) -> None:
        self.layers = list(layers)
        self._tmp = tempfile.TemporaryDirectory(prefix="mi_tasks_states_", dir=directory)
        path = Path(self._tmp.name) / "states.npy"
        self.states = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                                shape=(len(self.layers), int(n_texts), int(hidden)))
        self._batches: list[tuple[np.ndarray, list[np.ndarray]]] = []

    @classmethod
    def from_stream(cls, batches: Iterable[StateBatch], n_texts: int, directory: str | Path | None = None) -> "StateStore":
        store = None
        for b in batches:
            if store is None:
                store = cls(b.layers, n_texts, b.states.shape[-1], directory)
            store.add(b)
        if store is None:
            raise MiTasksError("the stream held no batches: the train corpus produced no states")
        return store

    def add(self, b: StateBatch) -> None:
        self.states[:, b.indices] = b.states.detach().to("cpu", torch.float32).numpy()
        self._batches.append((np.asarray(b.indices), list(b.targets)))

    def batches(self, start: int, stop: int) -> Iterator[StateBatch]:
        """The stored batches, in their order, with the states of layer slots ``start:stop`` only."""
        layers = self.layers[start:stop]
        for idx, targets in self._batches:
            yield StateBatch(indices=idx, states=torch.from_numpy(np.ascontiguousarray(self.states[start:stop, idx])),
                             targets=targets, layers=layers)

    def close(self) -> None:
        self.states = None  # type: ignore[assignment]
        self._tmp.cleanup()
