"""Representation entropy as a metric family: token spectra from the eval pass, Diff-eRank from a random copy's."""
from __future__ import annotations

import math
from typing import Any, ClassVar

from ...states.source import PassInputs
from ..family import MetricFamily, RunShape
from .embeddings import DatasetEntropyScorer
from .settings import EntropySettings
from .spectra import SPECTRA


class EntropyFamily(MetricFamily):
    """Prompt and dataset entropy, effective ranks and Diff-eRank (``mi_entropy``).

    Per-text rows (``--log_samples``) hold each text's prompt entropy and effective rank; the table's
    values are corpus-level (texts with fewer than two tokens have no prompt entropy).
    """

    name = "entropy"
    settings = EntropySettings
    reducers = (SPECTRA,)
    table_metrics: ClassVar[tuple[str, ...]] = ("prompt_entropy", "prompt_effective_rank", "dataset_entropy",
                                                "dataset_effective_rank", "diff_erank")
    best_key = "prompt_entropy"
    embedding_scorer = DatasetEntropyScorer
    lower_is_better: ClassVar[tuple[str, ...]] = ("prompt_entropy", "prompt_effective_rank")
    """Layer by Layer's reading: a layer that compresses each prompt's tokens (lower entropy) embeds better;
    the dataset-level entropy and rank go the other way (texts kept apart)."""
    units: ClassVar[dict[str, str]] = {"prompt_entropy": "fraction of ln min(N, D)",
                                       "dataset_entropy": "fraction of ln min(N, D)",
                                       "prompt_effective_rank": "dimensions", "dataset_effective_rank": "dimensions",
                                       "diff_erank": "dimensions"}
    definitions: ClassVar[dict[str, str]] = {
        "prompt_entropy": "matrix entropy of each text's token states (normalised by ln min(N, D)), mean over texts",
        "prompt_effective_rank": "exp(matrix entropy in nats) of each text's token states, mean over texts",
        "dataset_entropy": "matrix entropy of the texts' pooled vectors, normalised by ln min(N, D)",
        "dataset_effective_rank": "exp(matrix entropy in nats) of the texts' pooled vectors",
        "diff_erank": "Diff-eRank: effective rank of a random-weight copy minus the trained model's (Wei et al.)"}

    def compute(self, inputs: PassInputs) -> Any:
        from .probe import EntropyProbe

        return EntropyProbe(inputs.settings, seed=inputs.seed).score(inputs.evaluation)

    def per_text_values(self, result: Any, slot: int, pos: int) -> dict[str, float]:
        return {"layer": int(result.layers[slot]["layer"]),
                "prompt_entropy": float(result.per_text["prompt_entropy"][slot, pos]),
                "prompt_effective_rank": float(math.exp(result.per_text["prompt_log_erank"][slot, pos]))}

    def corpus_stderr(self, result: Any, slot: int, metric: str) -> float | str | None:
        if metric in ("prompt_entropy", "prompt_effective_rank"):  # means over texts (NaN ones left out)
            return super().corpus_stderr(result, slot, metric)
        return None  # dataset-level spectra: no cheap interval, lm-eval prints N/A

    def memory_bytes(self, shape: RunShape, settings: Any) -> dict[str, int]:
        from .memory import entropy_bytes
        s = settings if settings is not None else EntropySettings()
        random_texts = min(shape.n_texts, s.random_limit or shape.n_texts) if s.random_baseline else 0
        return entropy_bytes(shape, random_texts)
