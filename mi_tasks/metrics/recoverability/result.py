"""What recoverability returns: per-layer scores, the frequency prior's, per-text values and the settings."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..result import LayerResult, LayerRow, Scores
from .coverage import FLAGS_KEY

VACUOUS = "vacuous"
"""The caveat of a Fano bound at most 0 (clamped): it then says nothing, and has no error."""


@dataclass
class RecoverabilityResult(LayerResult):
    """Per-layer scores, the frequency prior's scores, and the settings that produced them."""

    prior: Scores = field(kw_only=True)
    per_text: dict[str, np.ndarray] | None = field(default=None, repr=False)
    """Per-text scores (rows: layers, then the prior) for harness samples; not part of ``to_dict``."""

    KIND = "recoverability"
    TABLE_METRICS = ("recall_at_k", "lift_recall_at_k", "cosine", "bleu4", "rougeL",
                     "fano_mi_bits", "fano_mi_bits_empirical", "ba_mi_bits")

    def best(self, metric: str = "recall_at_k") -> LayerRow:
        return max(self.layers, key=lambda r: r[metric])

    def _extras(self) -> dict[str, Any]:
        return {"prior": self.prior.to_dict()}

    def _extra_rows(self) -> list[tuple[str, Scores]]:
        return [("prior", self.prior)]

    def _notes(self, metrics: Sequence[str]) -> list[str]:
        meta = self.meta
        notes = []
        if all(k in meta for k in ("vocab_size", "decoder_vocab_size", "coverage_tokens", "unigram_entropy_bits", "log2_vocab")):
            notes.append(f"|V|={meta['vocab_size']}  decoder vocab={meta['decoder_vocab_size']}  eval token coverage="
                         f"{meta['coverage_tokens']:.3f}  H(t)={meta['unigram_entropy_bits']:.2f} bits  "
                         f"log2|V|={meta['log2_vocab']:.2f} bits")
        notes += [f"caveat: {flag}" for flag in meta.get(FLAGS_KEY) or ()]
        if any(r.caveat(m) == VACUOUS for r in [*self.layers, self.prior] for m in metrics):
            notes.append("vacuous: Fano's bound is at most 0 there (H(t) < H_b(P_e) + P_e log2(|V|-1)), so it says nothing")
        return notes
