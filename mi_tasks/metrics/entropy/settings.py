"""Representation entropy's settings (``mi_entropy``): the Rényi order and the random-init baseline."""
from __future__ import annotations

from dataclasses import dataclass

from ...config import Settings, setting


@dataclass(frozen=True)
class EntropySettings(Settings):
    """``alpha``, ``random_baseline``, ``random_limit`` (as :class:`EntropyProbe` takes them)."""

    alpha: float = setting(1.0, float, "Renyi order", low=0, open_low=True)
    random_baseline: bool = setting(True, bool, "Diff-eRank against a randomly initialised copy")
    random_limit: int | None = setting(256, int, "texts of the random-init baseline; null for all", low=2,
                                       nullable=True)
