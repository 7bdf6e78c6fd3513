"""Decoder vocabulary: the token ids seen in the train corpus, mapped to dense columns."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from ...errors import MiTasksError


class DecoderVocabulary:
    """Sorted model token ids that the decoder predicts; everything else is out of vocabulary."""

    def __init__(self, token_ids: Iterable[int]) -> None:
        ids = np.unique(np.fromiter((int(t) for t in token_ids), dtype=np.int64))
        if ids.size == 0:
            raise MiTasksError("the decoder vocabulary is empty: the train corpus has no non-special tokens; use a train corpus with text")
        self.ids = ids

    @classmethod
    def from_targets(cls, targets: Iterable[np.ndarray]) -> "DecoderVocabulary":
        return cls(np.concatenate([np.asarray(t, dtype=np.int64) for t in targets] or [np.empty(0, np.int64)]))

    def __len__(self) -> int:
        return int(self.ids.size)

    def columns(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(column of each id, whether it is in the vocabulary)."""
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(self.ids, ids)
        pos_c = np.minimum(pos, self.ids.size - 1)
        inside = self.ids[pos_c] == ids
        return pos_c, inside

    def sparse_rows(self, targets: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """COO pieces (row, column, weight 1/k_row) of the in-vocabulary multi-hot targets."""
        rows, cols, weights = [], [], []
        for r, t in enumerate(targets):
            c, inside = self.columns(t)
            c = c[inside]
            rows.append(np.full(c.size, r, dtype=np.int64))
            cols.append(c)
            weights.append(np.full(c.size, 1.0 / max(len(t), 1)))
        if not rows:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
        return np.concatenate(rows), np.concatenate(cols), np.concatenate(weights)

    def multi_hot(self, targets: Sequence[np.ndarray], device: torch.device | str | None = None) -> torch.Tensor:
        """Dense (n, |vocab|) float32 multi-hot of the in-vocabulary targets, built on ``device``."""
        rows, cols, _ = self.sparse_rows(targets)
        y = torch.zeros(len(targets), len(self), dtype=torch.float32, device=device)
        y[torch.from_numpy(rows).to(y.device), torch.from_numpy(cols).to(y.device)] = 1.0
        return y
