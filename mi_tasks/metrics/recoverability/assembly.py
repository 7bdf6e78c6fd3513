"""Per-text scores to a result: corpus means and their errors, the prior and lifts, Fano and BA bounds, coverage.

:func:`assemble` is a function of the scores, the fit they came from and how it was fitted; the
probe adds what it knows of the run (``meta``: the pass, the corpora, the memory plan).
"""
from __future__ import annotations

import math

import numpy as np

from .decoders import RidgeTokenDecoder
from .fitting import FitConfig, FittedDecoders
from .scoring import TextScores
from .bounds import entropy_bits, fano_is_vacuous, fano_mi_bits
from ...states.layers import normalized_depth
from ..uncertainty import bootstrap_stderr, mean_stderr
from .coverage import assess_targets
from .words import WORD_TOKENIZATION
from .result import RecoverabilityResult, VACUOUS_SUFFIX

LIFT_KEYS = ("recall_at_k", "cosine", "bleu4", "rougeL", "fano_mi_bits", "fano_mi_bits_empirical")


def assemble(scores: TextScores, fitted: FittedDecoders, config: FitConfig, V: int, *, targets: str,
             text_metrics: bool, num_layers: int, meta: dict) -> RecoverabilityResult:
    """The per-layer rows, the prior's row and the result's meta from per-text ``scores`` of ``fitted``.

    ``V`` is Fano's |V| (the tokenizer's size, or the word types of train and eval texts);
    ``num_layers`` the model's block count (for normalised depth); ``meta`` what the run adds.
    """
    per, token_counts, n_texts = scores.per, scores.token_counts, scores.n_texts
    h_emp = entropy_bits(token_counts)
    h_uni = math.log2(V)
    in_vocab = np.zeros(V, dtype=bool)
    in_vocab[fitted.vocab.ids[fitted.vocab.ids < V]] = True
    coverage = assess_targets(token_counts, in_vocab, n_texts, scores.n_without, targets)  # refuses a corpus without targets

    def summary(slot: int) -> dict[str, float]:
        rec = float(per["recall"][slot].mean())
        ce = float(per["ce"][slot].mean())
        out = {
            "recall_at_k": rec,
            "cosine": float(per["cosine"][slot].mean()),
            "bleu4": float(per["bleu4"][slot].mean()) if text_metrics else float("nan"),
            "rougeL": float(per["rougeL"][slot].mean()) if text_metrics else float("nan"),
            "fano_mi_bits": fano_mi_bits(1.0 - rec, V),
            "fano_mi_bits_empirical": fano_mi_bits(1.0 - rec, V, h_emp),
            "cross_entropy_bits": ce,
        }
        out["fano_mi_bits_norm"] = out["fano_mi_bits"] / h_uni
        out["fano_mi_bits_empirical_norm"] = out["fano_mi_bits_empirical"] / h_emp if h_emp > 0 else 0.0
        # Standard errors: per-text means as lm-eval computes them; Fano's bounds (functions of the
        # mean recall) by a seeded bootstrap over texts.
        recalls = per["recall"][slot]
        out["recall_at_k_stderr"] = mean_stderr(recalls)
        out["cosine_stderr"] = mean_stderr(per["cosine"][slot])
        out["cross_entropy_bits_stderr"] = mean_stderr(per["ce"][slot])
        out["fano_mi_bits_stderr"] = bootstrap_stderr(
            recalls, lambda m: np.array([fano_mi_bits(1.0 - float(r), V) for r in m]), seed=config.seed)
        out["fano_mi_bits_empirical_stderr"] = bootstrap_stderr(
            recalls, lambda m: np.array([fano_mi_bits(1.0 - float(r), V, h_emp) for r in m]), seed=config.seed)
        for key, h in (("fano_mi_bits", None), ("fano_mi_bits_empirical", h_emp)):
            vacuous = fano_is_vacuous(1.0 - rec, V, h)
            out[key + VACUOUS_SUFFIX] = float(vacuous)
            if vacuous:  # 0 is the clamp, not a measurement: no standard error
                out[key + "_stderr"] = float("nan")
        return out

    L = len(fitted.layers)
    prior = summary(L)
    prior["ba_mi_bits"] = 0.0
    prior["ba_mi_bits_norm"] = 0.0
    rows = []
    for j, layer in enumerate(fitted.layers):
        r = {"layer": int(layer), "depth": normalized_depth(layer, num_layers), **summary(j)}
        r["ba_mi_bits"] = prior["cross_entropy_bits"] - r["cross_entropy_bits"]
        r["ba_mi_bits_stderr"] = mean_stderr(per["ce"][L] - per["ce"][j])  # paired: the same texts
        r["lift_recall_at_k_stderr"] = mean_stderr(per["recall"][j] - per["recall"][L])
        r["ba_mi_bits_norm"] = r["ba_mi_bits"] / h_emp if h_emp > 0 else 0.0
        for k in LIFT_KEYS:
            r[f"lift_{k}"] = r[k] - prior[k]
        dec = fitted.decoders[j]
        if isinstance(dec, RidgeTokenDecoder):
            r["ridge_alpha"] = float(dec.alpha_)
            r["prior_fallback"] = float(dec.is_prior)
        rows.append(r)
    total = token_counts.sum()
    meta = dict(meta)
    meta.update({
        "fit": config.method, "seed": config.seed, "targets": targets,
        "target_definition": WORD_TOKENIZATION if targets == "words" else
        "tokens: the model's own non-special token ids, each once per text",
        "vocab_size": V, "decoder_vocab_size": len(fitted.vocab),
        "n_train_fit": fitted.n_fit, "n_calibration": fitted.n_calibration, "n_eval": n_texts,
        "coverage_tokens": float(token_counts[in_vocab].sum() / total) if total else 0.0,
        "coverage_types": float(((token_counts > 0) & in_vocab).sum() / max((token_counts > 0).sum(), 1)),
        "unigram_entropy_bits": h_emp, "log2_vocab": h_uni, "oov_mass": fitted.oov_mass, **coverage,
    })
    if config.method == "bce":
        meta["bce"] = dict(config.bce)
    else:
        meta["alphas"] = list(config.alphas)
    return RecoverabilityResult(layers=rows, prior=prior, meta=meta, per_text=per)
