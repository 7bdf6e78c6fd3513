"""Recoverability as a metric family: decoders fitted on the train pass, scored on the eval pass."""
from __future__ import annotations

import math
from typing import Any, ClassVar, Mapping

from ...states.source import PassInputs
from ..family import Comparability, MetricFamily, RunShape
from .embeddings import WordRecoverabilityScorer
from .bounds import fano_mi_bits
from .result import VACUOUS
from .settings import RecoverabilitySettings

# how to get numbers that compare models whatever their tokenizers
WORD_TARGETS_FIX = ("for numbers that compare models, re-run with word targets: lm_eval ... --metadata "
                    "'{\"targets\": \"words\"}', or mi-tasks suite --targets words")


class RecoverabilityFamily(MetricFamily):
    """``recall_at_k`` and lift, cosine, the Fano and Barber-Agakov bounds (``mi_recoverability``, ``mi_fano``)."""

    name = "recoverability"
    settings = RecoverabilitySettings
    needs_train = True
    table_metrics: ClassVar[tuple[str, ...]] = ("recall_at_k", "lift_recall_at_k", "cosine", "fano_mi_bits", "ba_mi_bits")
    extra_metrics: ClassVar[tuple[str, ...]] = ("fano_mi_bits_norm", "fano_mi_bits_empirical")
    per_text_metrics: ClassVar[tuple[str, ...]] = ("recall_at_k", "lift_recall_at_k", "cosine", "ba_mi_bits")
    best_key = "recall_at_k"
    embedding_scorer = WordRecoverabilityScorer
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

    @classmethod
    def comparability(cls, settings: Mapping[str, Any], meta: Mapping[str, Any]) -> Comparability | None:
        """Word targets are every model's; token targets are the model's own, so they compare within one tokenizer.

        A run's meta records its targets and its tokenizer (vocabulary hash, class, size); MTEB's word
        recoverability task records its word vocabulary instead. A result without a decoder vocabulary (a layer
        sweep's rows) fitted no decoder here and says nothing."""
        if "word_vocab_size" in meta:
            targets = "words"
        elif "decoder_vocab_size" in meta:
            targets = str(meta.get("targets") or settings.get("targets") or "tokens")
        else:
            return None
        why = ("recall@k, Fano and Barber-Agakov bits of different targets answer different questions: token targets "
               "are each model's own tokens, so they compare tokenizers as much as hidden states")
        if targets == "words":
            return Comparability("words", "word targets", {"targets": "words"}, why, WORD_TARGETS_FIX)
        tok = meta.get("tokenizer") if isinstance(meta.get("tokenizer"), dict) else {}
        size = tok.get("vocab_size", meta.get("vocab_size"))
        key = f"tokens of {tok['sha256']}" if tok.get("sha256") else f"tokens of |V|={size}"
        kind = ", ".join(str(x) for x in (tok.get("class"), f"{size:,} tokens" if isinstance(size, int) else None) if x)
        columns = {"targets": "tokens", "tokenizer": tok.get("name"), "tokenizer_vocab_size": size,
                   "tokenizer_sha256": tok.get("sha256")}
        return Comparability(key, f"token targets{f' of {kind}' if kind else ''}",
                             {k: v for k, v in columns.items() if v is not None}, why, WORD_TARGETS_FIX)

    @classmethod
    def row_comparability(cls, row: Mapping[str, Any]) -> dict[str, Any] | str:
        """Token-target rows compare within one tokenizer, told by its vocabulary's hash."""
        targets = row.get("targets")
        if targets is not None and targets not in ("words", "tokens"):
            return f"targets {targets!r} is neither words nor tokens"
        if targets != "tokens":
            return {}
        if not row.get("tokenizer_sha256"):
            return "token targets without tokenizer_sha256: the tokens cannot be told from another tokenizer's"
        return {"tokenizer_sha256": row["tokenizer_sha256"]}

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
