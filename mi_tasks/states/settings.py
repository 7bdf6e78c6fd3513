"""Which states one forward pass reads and how they are pooled: the settings of the extraction pass."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings, setting
from .pooling import POOLINGS


@dataclass(frozen=True)
class PassSettings(Settings):
    """``layers``, ``pooling``, ``max_text_length``, ``include_special`` (as :class:`HiddenStateExtractor` takes them)."""

    layers: str = setting("all", str, "states read: all | 0,6,-1 | 0:1:0.25 (normalized depths)")
    pooling: str = setting("mean", str, "pooling of each text's token states", choices=POOLINGS)
    max_text_length: int = setting(128, int, "tokens per text", low=2)
    include_special: bool = setting(False, bool, "BOS/CLS/SEP in the token matrices and the mean")
