"""Recoverability as a metric family: decoders fitted on the train pass, scored on the eval pass."""
from __future__ import annotations

import math
from typing import Any, ClassVar

from ...states.source import PassInputs
from ..family import MetricFamily, RunShape
from .bounds import fano_mi_bits
from .result import VACUOUS
from .settings import RecoverabilitySettings

class RecoverabilityFamily(MetricFamily):
    """``recall_at_k`` and lift, cosine, the Fano and Barber-Agakov bounds (``mi_recoverability``, ``mi_fano``)."""

    name = "recoverability"
    settings = RecoverabilitySettings
    needs_train = True
    table_metrics: ClassVar[tuple[str, ...]] = ("recall_at_k", "lift_recall_at_k", "cosine", "fano_mi_bits", "ba_mi_bits")
    extra_metrics: ClassVar[tuple[str, ...]] = ("fano_mi_bits_norm", "fano_mi_bits_empirical")
    per_text_metrics: ClassVar[tuple[str, ...]] = ("recall_at_k", "lift_recall_at_k", "cosine", "ba_mi_bits")
    best_key = "recall_at_k"
    overview_metrics = ("recall_at_k", "fano_mi_bits", "ba_mi_bits")
    row_settings = ("fit", "targets")
    # word targets: the same for every model, so the main job's rows compare models (docs/metrics.md)
    suite_settings = {"targets": "words"}
    units: ClassVar[dict[str, str]] = {"recall_at_k": "fraction", "lift_recall_at_k": "fraction", "cosine": "cosine",
                                       "fano_mi_bits": "bits", "ba_mi_bits": "bits per token",
                                       "fano_mi_bits_norm": "fraction of H(t)", "fano_mi_bits_empirical": "bits"}
    definitions: ClassVar[dict[str, str]] = {
        "recall_at_k": "share of a text's k unique gold tokens among the decoder's k highest scores (k = that "
                       "number), mean over eval texts",
        "lift_recall_at_k": "recall_at_k minus the frequency prior's (a decoder that ignores the hidden state)",
        "cosine": "cosine between the calibrated token-presence probabilities and the text's tokens, mean over texts",
        "fano_mi_bits": "Fano's lower bound on I(hidden state; token) with H(t) = log2|V|, from the mean recall "
                        "(0 and marked vacuous where the bound says nothing)",
        "ba_mi_bits": "Barber-Agakov lower bound: the prior's minus the decoder's eval cross-entropy per token",
        "fano_mi_bits_norm": "fano_mi_bits divided by log2|V|",
        "fano_mi_bits_empirical": "Fano's bound with H(t) the eval corpus' plug-in token entropy"}

    def compute(self, inputs: PassInputs) -> Any:
        from .probe import RecoverabilityProbe

        def fit() -> RecoverabilityProbe:
            return RecoverabilityProbe(inputs.settings, seed=inputs.seed).fit(inputs.train())

        probe = inputs.memo(("fit", inputs.train_key), fit)
        return probe.score(inputs.evaluation)

    def per_text_values(self, result: Any, slot: int, pos: int) -> dict[str, float]:
        """Per text: recall, lift and cosine, and the BA bound (prior's minus the decoder's cross-entropy).

        Fano's bound is corpus-level (from the mean recall); per text it is shown for ``--log_samples`` only.
        """
        per, prior = result.per_text, len(result.layers)
        recall, v, h = float(per["recall"][slot, pos]), result.meta["vocab_size"], result.meta["unigram_entropy_bits"]
        fano = fano_mi_bits(1.0 - recall, v)
        return {"layer": int(result.layers[slot]["layer"]), "recall_at_k": recall,
                "lift_recall_at_k": recall - float(per["recall"][prior, pos]), "cosine": float(per["cosine"][slot, pos]),
                "ba_mi_bits": float(per["ce"][prior, pos]) - float(per["ce"][slot, pos]),
                "fano_mi_bits": fano, "fano_mi_bits_norm": fano / math.log2(v),
                "fano_mi_bits_empirical": fano_mi_bits(1.0 - recall, v, h)}

    def warnings(self, result: Any, slot: int, metrics: tuple[str, ...]) -> list[str]:
        row = result.layers[slot]
        return [f"{key} at layer {row.layer} is vacuous (Fano's bound is at most 0 there, printed as 0 with "
                "no standard error); ba_mi_bits is the tighter bound"
                for key in ("fano_mi_bits", "fano_mi_bits_empirical")
                if row.caveat(key) == VACUOUS and any(m.startswith(key) for m in metrics)]

    def memory_bytes(self, shape: RunShape, settings: Any) -> dict[str, int]:
        """Its memory plan (:mod:`.memory_plan`) with the tokenizer's vocabulary as the decoder vocabulary's bound."""
        from .memory_plan import plan_recoverability
        budget = getattr(settings, "memory_budget_gb", None) if settings is not None else RecoverabilitySettings().memory_budget_gb
        plan = plan_recoverability(shape.n_layers, shape.hidden, shape.vocab, shape.n_train, shape.n_texts,
                                   budget_gb=budget, device=shape.device)
        return {f"held: decoders of one group of {plan.group_size} layers, with one solve": plan.decoder_peak_bytes,
                "held: eval states (float32, every layer)": plan.eval_states_bytes}
