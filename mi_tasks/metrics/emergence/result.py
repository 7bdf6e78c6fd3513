"""IE's per-layer result: the shared layer-result base plus the mean IE over the scored layers."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..result import LayerResult


@dataclass
class EmergenceResult(LayerResult):
    """Per-layer IE (bits) with its macro and micro terms, and the settings that produced them."""

    KIND = "emergence"
    TABLE_METRICS = ("ie_bits", "mi_macro_bits", "mi_micro_bits")
    TABLE_DIGITS = 3

    @property
    def mean_ie(self) -> float:
        return float(np.mean([r["ie_bits"] for r in self.layers]))

    def _extras(self) -> dict[str, Any]:
        return {"mean_ie_bits": self.mean_ie}

    def _notes(self, metrics: Sequence[str]) -> list[str]:
        return [f"mean IE {self.mean_ie:.3f} bits over {len(self.layers)} layers"]
