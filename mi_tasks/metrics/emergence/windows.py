"""IE's samples: seeded windows of T non-special tokens inside texts, and the BOS put before each input.

Kept apart from the passes so benchmarks and experiments can draw (and reuse) the same windows
without touching a model.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ...data.corpora import Corpus
from ...errors import MiTasksError
from ...states.extraction import check_texts

IE_N_WINDOWS = 2048


def bos_prefix(tokenizer: Any, bos: bool | str = "auto") -> list[int]:
    """Token ids put before every macro window and micro input: ``[bos_id]`` or ``[]``."""
    if bos == "auto":
        bos_id = getattr(tokenizer, "bos_token_id", None)
        if bos_id is None:
            return []
        ids = tokenizer("a")["input_ids"]
        return [bos_id] if ids and ids[0] == bos_id else []
    if bos is True:
        bos_id = getattr(tokenizer, "bos_token_id", None)
        if bos_id is None:
            raise MiTasksError("bos=True but the tokenizer has no BOS token; use bos='auto' or False")
        return [int(bos_id)]
    if bos is False:
        return []
    raise MiTasksError(f"bos must be 'auto', True or False, got {bos!r}")


def make_windows(tokenizer: Any, texts: Sequence[str] | Corpus, window: int = 8, n_windows: int = 1024,
                 seed: int = 0) -> np.ndarray:
    """(n_windows, window) token ids: seeded non-overlapping tiles of non-special tokens inside texts.

    Each text is tokenized without special tokens (any that appear are cut out, splitting the text),
    tiled from a seeded random offset, and ``n_windows`` tiles are drawn without replacement.
    """
    if window < 2:
        raise MiTasksError(f"window must be >= 2 tokens, got {window}")
    if n_windows < 1:
        raise MiTasksError(f"n_windows must be >= 1, got {n_windows}")
    texts = check_texts(texts.texts if isinstance(texts, Corpus) else texts, "corpus")
    rng = np.random.default_rng(seed)
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    enc = tokenizer(texts, add_special_tokens=False)["input_ids"]
    tiles: list[np.ndarray] = []
    for ids in enc:
        run: list[int] = []
        for tok in [*ids, None]:  # None flushes the last run
            if tok is not None and tok not in special:
                run.append(tok)
                continue
            if len(run) >= window:
                arr = np.asarray(run, dtype=np.int64)
                start = int(rng.integers(0, min(window, len(arr) - window + 1)))
                n_tiles = (len(arr) - start) // window
                tiles.extend(arr[start:start + n_tiles * window].reshape(n_tiles, window))
            run = []
    if len(tiles) < n_windows:
        raise MiTasksError(
            f"the corpus yields only {len(tiles)} non-overlapping windows of {window} tokens but n_windows={n_windows} "
            "were asked: give more (or longer) texts, or lower n_windows or window"
        )
    pick = rng.choice(len(tiles), size=n_windows, replace=False)
    return np.stack([tiles[i] for i in pick]).astype(np.int64)


def with_prefix(prefix: list[int], rows: np.ndarray) -> torch.Tensor:
    """(N, len(prefix) + T) input ids: ``prefix`` before every row of the (N, T) token ids."""
    pre = torch.tensor(prefix, dtype=torch.long)
    return torch.cat([pre.expand(len(rows), len(prefix)), torch.from_numpy(np.asarray(rows)).long()], dim=1)
