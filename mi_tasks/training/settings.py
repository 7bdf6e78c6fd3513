"""What enhancement trains with: the settings ``mi-tasks enhance`` and :func:`~mi_tasks.training.enhance.enhance` share.

The corpora, the pass and the seed are task settings (``train_corpus``, ``train_limit``,
``eval_corpus``, ``max_text_length``, ``pooling``, ``seed``, ...), under the names a task YAML gives
them; these are the ones only training has. Enhancement's own defaults for task settings (WikiText-2,
read whole) are :data:`ENHANCE_DEFAULTS`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import Settings, setting

# The task settings enhancement reads, and its defaults for them where a task's differ. eval_corpus
# left unset means a held-out part of the train corpus.
ENHANCE_TASK_SETTINGS = ("train_corpus", "train_text_field", "train_limit", "eval_corpus", "eval_text_field",
                         "eval_limit", "max_text_length", "pooling", "seed")
ENHANCE_DEFAULTS: dict[str, Any] = {"train_corpus": "wikitext2", "train_limit": None, "eval_limit": 200}


@dataclass(frozen=True)
class TrainingSettings(Settings):
    """Steps, learning rates and which blocks train (the last block stays frozen)."""

    steps: int = setting(200, int, "optimiser steps", low=1)
    lr: float = setting(2e-5, float, "learning rate of the trained blocks", low=0, open_low=True)
    head_lr: float = setting(1e-3, float, "learning rate of the decoder head", low=0, open_low=True)
    batch_size: int = setting(8, int, "texts per step", low=1)
    eval_interval: int = setting(50, int, "steps between held-out recall measurements", low=1)
    layer: int = setting(-1, int, "state the decoder reads (-1: output of the frozen last block)")
    train_blocks: int | None = setting(None, int, "train only this many blocks just below the frozen last one "
                                       "(null: all of them)", low=1, nullable=True)
    weight_decay: float = setting(0.0, float, "AdamW weight decay", low=0)
    warmup_steps: int | None = setting(None, int, "linear warm-up steps (null: a tenth of steps, at most 10)",
                                       low=0, nullable=True)
