"""What recoverability returns: per-layer scores, the frequency prior's, per-text values and the settings."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..result import LayerResult
from .coverage import FLAGS_KEY

VACUOUS_SUFFIX = "_vacuous"
"""``<bound>_vacuous`` = 1.0 where Fano's bound is at most 0 (clamped): it then says nothing, and has no error."""


@dataclass
class RecoverabilityResult(LayerResult):
    """Per-layer scores, the frequency prior's scores, and the settings that produced them."""

    prior: dict[str, float] = field(kw_only=True)
    per_text: dict[str, np.ndarray] | None = field(default=None, repr=False)
    """Per-text scores (rows: layers, then the prior) for harness samples; not part of ``to_dict``."""

    KIND = "recoverability"
    TABLE_METRICS = ("recall_at_k", "lift_recall_at_k", "cosine", "bleu4", "rougeL",
                     "fano_mi_bits", "fano_mi_bits_empirical", "ba_mi_bits")

    def best(self, metric: str = "recall_at_k") -> dict[str, float]:
        return max(self.layers, key=lambda r: r[metric])

    def _extras(self) -> dict[str, Any]:
        return {"prior": dict(self.prior)}

    def _extra_rows(self) -> list[tuple[str, dict[str, Any]]]:
        return [("prior", self.prior)]

    def _cell(self, row: dict[str, Any], metric: str) -> str:
        return "vacuous" if row.get(metric + VACUOUS_SUFFIX) else super()._cell(row, metric)

    def _notes(self, metrics: Sequence[str]) -> list[str]:
        notes = [f"caveat: {flag}" for flag in self.meta.get(FLAGS_KEY) or ()]
        if any(r.get(m + VACUOUS_SUFFIX) for r in [*self.layers, self.prior] for m in metrics):
            notes.append("vacuous: Fano's bound is at most 0 there (H(t) < H_b(P_e) + P_e log2(|V|-1)), so it says nothing")
        return notes
