"""Pooled states of a stream kept on disk, to replay the same batches for one group of layers at a time.

Layer-major float32 ``.npy`` memmap (layers, texts, D) in a temporary folder that is removed with
the store, so a group reads only its own layers. A run killed before it could remove its folder (at
70B one holds many GiB) leaves it behind: the folder names host and process, and the next store on
that host removes the folders of processes that no longer run. Replayed batches hold the very same values, indices
and targets as the stream they came from, in the same order: sums built from them are bit-identical.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from ..errors import MiTasksError
from .extraction import StateBatch


_PREFIX = "mi_tasks_states_"
_HOST = socket.gethostname().replace("_", "-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _remove_stale(directory: str | Path | None) -> None:
    """Remove this host's state folders whose process has ended (killed runs cannot remove their own)."""
    root = Path(directory if directory is not None else tempfile.gettempdir())
    for d in root.glob(f"{_PREFIX}{_HOST}_*_*"):
        pid = d.name[len(f"{_PREFIX}{_HOST}_"):].split("_", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


class StateStore:
    """States of every layer of a batch stream, written once and replayed per group of layer slots."""

    def __init__(self, layers: list[int], n_texts: int, hidden: int, directory: str | Path | None = None) -> None:
        self.layers = list(layers)
        _remove_stale(directory)
        self._tmp = tempfile.TemporaryDirectory(prefix=f"{_PREFIX}{_HOST}_{os.getpid()}_", dir=directory)
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
