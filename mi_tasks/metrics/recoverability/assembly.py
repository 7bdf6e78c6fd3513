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
from ..result import LayerRow, Measurement, Scores
from ..uncertainty import bootstrap_stderr, mean_stderr
from .coverage import assess_targets
from .words import WORD_TOKENIZATION
from .result import RecoverabilityResult, VACUOUS

MEAN_OVER_TEXTS = "mean over texts"
PAIRED_MEAN_OVER_TEXTS = "mean over texts of the paired difference (the same texts, decoder minus prior)"
BOOTSTRAP_OVER_TEXTS = "seeded bootstrap over texts"
LIFT_KEYS = ("recall_at_k", "cosine", "bleu4", "rougeL", "fano_mi_bits", "fano_mi_bits_empirical")


def slot_measurements(per: dict[str, np.ndarray], slot: int, V: int, h_emp: float, *, text_metrics: bool,
                      seed: int) -> dict[str, Measurement]:
    """Row ``slot``'s measurements from per-text scores ``per``: means over texts with their errors as lm-eval
    computes them; Fano's bounds (functions of the mean recall, with H(t) = log2 ``V`` or the plug-in ``h_emp``)
    with a seeded bootstrap over texts, and no error where vacuous."""
    recalls = per["recall"][slot]
    n_texts = len(recalls)
    rec = float(recalls.mean())
    out = {
        "recall_at_k": Measurement(rec, mean_stderr(recalls), MEAN_OVER_TEXTS, n_texts),
        "cosine": Measurement(float(per["cosine"][slot].mean()), mean_stderr(per["cosine"][slot]), MEAN_OVER_TEXTS, n_texts),
        "bleu4": Measurement(float(per["bleu4"][slot].mean()) if text_metrics else float("nan")),
        "rougeL": Measurement(float(per["rougeL"][slot].mean()) if text_metrics else float("nan")),
        "cross_entropy_bits": Measurement(float(per["ce"][slot].mean()), mean_stderr(per["ce"][slot]),
                                          MEAN_OVER_TEXTS, n_texts),
    }
    for key, h in (("fano_mi_bits", None), ("fano_mi_bits_empirical", h_emp)):
        bound = fano_mi_bits(1.0 - rec, V, h)
        if fano_is_vacuous(1.0 - rec, V, h):  # 0 is the clamp, not a measurement: no standard error
            out[key] = Measurement(bound, caveat=VACUOUS)
        else:
            err = bootstrap_stderr(recalls, lambda m, h=h: np.array([fano_mi_bits(1.0 - float(r), V, h) for r in m]),
                                   seed=seed)
            out[key] = Measurement(bound, err, BOOTSTRAP_OVER_TEXTS, n_texts)
    for key, h in (("fano_mi_bits", math.log2(V)), ("fano_mi_bits_empirical", h_emp)):
        m = out[key]  # the bound over H(t): its error (and caveat) scale alike
        out[f"{key}_norm"] = Measurement(m.value / h if h > 0 else 0.0, m.stderr / h if h > 0 else math.nan,
                                         m.stderr_method, m.n, caveat=m.caveat)
    return out


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

    L = len(fitted.layers)
    prior = Scores(slot_measurements(per, L, V, h_emp, text_metrics=text_metrics, seed=config.seed))
    prior["ba_mi_bits"] = 0.0
    prior["ba_mi_bits_norm"] = 0.0
    rows = []
    for j, layer in enumerate(fitted.layers):
        r = LayerRow(layer, normalized_depth(layer, num_layers),
                     slot_measurements(per, j, V, h_emp, text_metrics=text_metrics, seed=config.seed))
        ba = prior["cross_entropy_bits"] - r["cross_entropy_bits"]
        ba_err = mean_stderr(per["ce"][L] - per["ce"][j])  # paired: the same texts
        r.measurements["ba_mi_bits"] = Measurement(ba, ba_err, PAIRED_MEAN_OVER_TEXTS, n_texts)
        r.measurements["ba_mi_bits_norm"] = Measurement(ba / h_emp if h_emp > 0 else 0.0,
                                                        ba_err / h_emp if h_emp > 0 else math.nan,
                                                        PAIRED_MEAN_OVER_TEXTS, n_texts)
        for k in LIFT_KEYS:
            r[f"lift_{k}"] = r[k] - prior[k]
        r.measurements["lift_recall_at_k"] = Measurement(
            r["lift_recall_at_k"], mean_stderr(per["recall"][j] - per["recall"][L]), PAIRED_MEAN_OVER_TEXTS, n_texts)
        dec = fitted.decoders[j]
        if isinstance(dec, RidgeTokenDecoder):
            r["ridge_alpha"] = float(dec.alpha_)
            r.flags["prior_fallback"] = bool(dec.is_prior)
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
