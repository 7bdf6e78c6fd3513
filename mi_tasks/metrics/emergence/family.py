"""Information emergence as a metric family: IE on windows of the eval corpus, through the model already loaded."""
from __future__ import annotations

from typing import Any, ClassVar

from ...states.source import PassInputs
from ..family import MetricFamily, RunShape, Skipped
from .settings import EmergenceSettings


class EmergenceFamily(MetricFamily):
    """IE per layer and its mean over layers (``mi_emergence``).

    IE is a corpus-level quantity (MI across windows) with no standard error: resampling would
    refit the estimators. It needs a causal model; on an encoder the family is skipped (NaN with a
    warning) rather than failing a whole suite. Its passes are over windows, not the corpus' texts,
    so it runs them itself through the one backbone call (:mod:`mi_tasks.metrics.emergence.passes`).
    """

    name = "emergence"
    settings = EmergenceSettings
    table_metrics: ClassVar[tuple[str, ...]] = ("ie_bits", "mean_ie_bits", "mi_macro_bits", "mi_micro_bits")
    best_key = "ie_bits"
    suite_settings = {"n_windows": 512}  # the main job runs in minutes on 2 cores
    units: ClassVar[dict[str, str]] = {m: "bits" for m in table_metrics}
    definitions: ClassVar[dict[str, str]] = {
        "ie_bits": "information emergence from this layer to the next: macro MI minus mean micro (per-token) MI",
        "mean_ie_bits": "ie_bits averaged over the layers",
        "mi_macro_bits": "mutual information between the window's pooled states at this layer and the next",
        "mi_micro_bits": "mutual information between single tokens' states at this layer and the next, mean over tokens"}

    def compute(self, inputs: PassInputs) -> Any:
        from ...states.modeling import is_encoder_only
        from .probe import EmergenceProbe

        if is_encoder_only(inputs.model.config):
            return Skipped(f"information emergence needs a causal (decoder) model; {type(inputs.model).__name__} "
                           "is encoder-only, so mi_emergence reports NaN")
        probe = EmergenceProbe(inputs.settings, layers=inputs.layers, batch_size=inputs.batch_size, seed=inputs.seed,
                               progress=inputs.progress)
        return probe.score(inputs.model, inputs.tokenizer, inputs.evaluation.texts)

    def corpus_value(self, result: Any, slot: int, metric: str) -> float:
        return float(result.mean_ie) if metric == "mean_ie_bits" else super().corpus_value(result, slot, metric)

    def per_text_values(self, result: Any, slot: int, pos: int) -> dict[str, float]:
        """Every text carries the corpus values (IE is one number per layer for the whole corpus)."""
        return {"layer": int(result.layers[slot]["layer"]),
                **{m: self.corpus_value(result, slot, m) for m in self.table_metrics}}

    def memory_bytes(self, shape: RunShape, settings: Any) -> dict[str, int]:
        from .memory import emergence_bytes
        return emergence_bytes(shape, int((settings if settings is not None else EmergenceSettings()).n_windows))
