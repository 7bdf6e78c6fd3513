"""Paper 3 extras ("The Information of Large Language Model Geometry"): what a new token adds, per layer.

(a) Information gain of the last token by ridge regression. For one text at one layer, X holds
the earlier tokens' states (m rows) and y the last token's state, all rows L2-normalised. The
last state is regressed on the earlier ones across the D hidden dimensions (each dimension is a
sample, each earlier token a feature): y ≈ Xᵀw, w = (XXᵀ + αI)⁻¹Xy. Read as a Gaussian process
with the linear kernel k(a, b) = aᵀb and noise variance α, the posterior variance of the new
token given the context is σ² = yᵀy − (Xy)ᵀ(XXᵀ + αI)⁻¹Xy, which equals the ridge objective at
its optimum (residual + α‖w‖²); the information the new token adds about the latent function
is ``gain_bits`` = ½·log2(1 + σ²/α) (the GP information gain), the paper's link between a new
token's information gain and ridge regression. ``r2`` = 1 − ‖y − Xᵀw‖²/‖y‖² (uncentred: the
states are not centred, no intercept). With m ≥ D earlier tokens the fit is trivially perfect.

(b) Token selection by Lasso vs attention. The same regression with an L1 penalty (sklearn
``Lasso``, no intercept) selects the earlier tokens that explain the last state. The penalty is
``lasso_frac`` × α_max, α_max = max|Xy|/D being the smallest penalty that zeroes every
coefficient, so the setting does not depend on the hidden size. It is compared with the model's
attention from the last token (block l+1, the block that reads state l; mean over heads,
renormalised over the kept positions): overlap of the k Lasso-selected tokens with the k most
attended ones, Spearman rank correlation of |coefficient| with attention, and how well each
choice of k tokens explains the last state (``r2_lasso_k`` vs ``r2_attention_k``, least squares
with a tiny ridge) — the paper's "Lasso sometimes selects better tokens than attention".
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..states.backbone import hidden_states, model_device
from ..errors import MiTasksError
from ..states.extraction import check_texts, model_num_layers
from ..states.layers import LayerSpec, normalized_depth, parse_layers
from ..states.modeling import hidden_state_module, prepare_tokenizer
from .result import LayerResult, LayerRow, Measurement

REFIT_ALPHA = 1e-6


def _unit_rows(a: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=-1, keepdims=True)
    return a / np.maximum(norms, 1e-12)


def _check_states(states: Any) -> np.ndarray:
    s = np.asarray(states, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] < 2:
        raise MiTasksError(f"states must be (n_tokens, D) with at least 2 tokens (context + last), got shape {s.shape}")
    if not np.isfinite(s).all():
        raise MiTasksError("states contain NaN or inf; recompute them in float32")
    return s


def _ridge(X: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """Kernel-form ridge weights w (m,) for y ≈ Xᵀw."""
    K = X @ X.T
    return np.linalg.solve(K + alpha * np.eye(len(K)), X @ y)


def ridge_token_gain(states: Any, alpha: float = 0.1, normalize: bool = True) -> dict[str, float]:
    """Information gain of the last row of ``states`` (n, D) given the earlier rows (see module doc)."""
    if alpha <= 0:
        raise MiTasksError(f"ridge alpha must be > 0, got {alpha}")
    s = _check_states(states)
    if normalize:
        s = _unit_rows(s)
    X, y = s[:-1], s[-1]
    w = _ridge(X, y, alpha)
    resid = float(((y - X.T @ w) ** 2).sum())
    yy = float(y @ y)
    post = max(yy - float((X @ y) @ w), 0.0)
    return {"r2": 1.0 - resid / yy if yy > 0 else float("nan"), "residual": resid, "posterior_var": post,
            "gain_bits": 0.5 * float(np.log2(1.0 + post / alpha)), "n_context": int(len(X))}


def lasso_token_weights(states: Any, lasso_frac: float = 0.05, normalize: bool = True,
                        max_iter: int = 5000) -> np.ndarray:
    """Lasso coefficients (n−1,) of the last row of ``states`` on the earlier rows; zeros = not selected."""
    from sklearn.linear_model import Lasso

    if not 0.0 < lasso_frac < 1.0:
        raise MiTasksError(f"lasso_frac must lie in (0, 1) (a fraction of the all-zero penalty), got {lasso_frac}")
    s = _check_states(states)
    if normalize:
        s = _unit_rows(s)
    X, y = s[:-1], s[-1]
    alpha_max = float(np.abs(X @ y).max()) / X.shape[1]
    if alpha_max <= 0:
        return np.zeros(len(X))
    model = Lasso(alpha=lasso_frac * alpha_max, fit_intercept=False, max_iter=max_iter, tol=1e-6)
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X.T, y)
    return np.asarray(model.coef_, dtype=np.float64)


def _subset_r2(X: np.ndarray, y: np.ndarray, idx: np.ndarray) -> float:
    if len(idx) == 0:
        return 0.0
    sub = X[idx]
    w = _ridge(sub, y, REFIT_ALPHA)
    return 1.0 - float(((y - sub.T @ w) ** 2).sum()) / float(y @ y)


def compare_selection(states: Any, coef: Any, attention: Any, normalize: bool = True) -> dict[str, float]:
    """Lasso selection (``coef``, (n−1,)) vs attention weights (n−1,) from the last token over the earlier ones."""
    from scipy.stats import spearmanr

    s = _check_states(states)
    if normalize:
        s = _unit_rows(s)
    X, y = s[:-1], s[-1]
    coef = np.asarray(coef, dtype=np.float64)
    att = np.asarray(attention, dtype=np.float64)
    if coef.shape != (len(X),) or att.shape != (len(X),):
        raise MiTasksError(f"coef and attention must each hold one value per earlier token ({len(X)}), "
                           f"got {coef.shape} and {att.shape}")
    if not (np.isfinite(att).all() and np.isfinite(coef).all()):
        raise MiTasksError("attention weights or coefficients contain NaN or inf")
    mag = np.abs(coef)
    k = int((mag > 0).sum())
    sel = np.flatnonzero(mag > 0)
    top_att = np.argsort(-att, kind="stable")[:k]
    overlap = len(set(sel) & set(top_att)) / k if k else float("nan")
    rho = float(spearmanr(mag, att).statistic) if np.ptp(mag) > 0 and np.ptp(att) > 0 else float("nan")
    return {"k": k, "overlap_at_k": overlap, "spearman": rho,
            "r2_lasso_k": _subset_r2(X, y, sel), "r2_attention_k": _subset_r2(X, y, top_att)}


@dataclass
class TokenGainResult(LayerResult):
    """Per-layer means over texts (``layers``) and per-text rows (``per_text``)."""

    per_text: list[dict[str, Any]] = field(kw_only=True)

    KIND = "token-gain"
    TABLE_METRICS = ("r2", "gain_bits", "k", "overlap_at_k", "spearman", "r2_lasso_k", "r2_attention_k")
    TABLE_DIGITS = 3

    def _extras(self) -> dict[str, Any]:
        return {"per_text": self.per_text}


def _attentions_on(backbone: torch.nn.Module) -> str | None:
    """Switch to eager attention (the only one that returns weights); return the previous setting."""
    cfg = backbone.config
    before = getattr(cfg, "_attn_implementation", None)
    if before in (None, "eager"):
        return None
    try:
        backbone.set_attn_implementation("eager")
    except Exception as e:  # architectures without an eager path
        raise MiTasksError(
            f"{type(backbone).__name__} uses {before!r} attention and cannot switch to 'eager', the only "
            "implementation that returns attention weights; load it with attn_implementation='eager' or pass "
            "attention=False"
        ) from e
    return before


def token_gain_from_model(model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], *, layers: LayerSpec = "all",
                          ridge_alpha: float = 0.1, lasso_frac: float = 0.05, attention: bool = True,
                          max_text_length: int = 128, progress: bool = True) -> TokenGainResult:
    """Run ``model`` on each text once and compute (a) and (b) for its last non-special token at each layer.

    Special tokens (BOS, CLS, SEP, ...) are dropped from both the context and the attention
    comparison (attention is renormalised over the kept positions). Texts are cut to
    ``max_text_length`` tokens; each needs at least 3 non-special tokens.
    """
    texts = check_texts(texts, "texts")
    prepare_tokenizer(tokenizer)
    backbone = hidden_state_module(model)
    L = model_num_layers(model)
    ls = parse_layers(layers, L)
    restore = _attentions_on(backbone) if attention else None
    device = model_device(backbone)
    per_text: list[dict[str, Any]] = []
    try:
        for i, text in enumerate(tqdm(texts, desc="token gain", unit="text", disable=not progress, leave=False)):
            enc = tokenizer(text, truncation=True, max_length=max_text_length, return_special_tokens_mask=True,
                            return_tensors="pt")
            keep = np.flatnonzero(enc["special_tokens_mask"][0].numpy() == 0)
            if len(keep) < 3:
                raise MiTasksError(f"text {i} has {len(keep)} non-special tokens; token gain needs at least 3")
            with torch.inference_mode():
                out = hidden_states(backbone, enc["input_ids"].to(device), enc["attention_mask"].to(device), L,
                                    output_attentions=attention)
            hs = out.hidden_states
            atts = getattr(out, "attentions", None) if attention else None
            if attention and (atts is None or len(atts) != L or any(a is None for a in atts)):
                raise MiTasksError(f"{type(backbone).__name__} returned no attention weights; load it with "
                                   "attn_implementation='eager' or pass attention=False")
            last = int(keep[-1])
            for l in ls:
                st = hs[l][0].float().cpu().numpy()[keep]
                row: dict[str, Any] = {"text": i, "layer": l, **ridge_token_gain(st, ridge_alpha)}
                if attention and l < L:
                    a = atts[l][0, :, last, :].float().mean(0).cpu().numpy()[keep[:-1]]
                    a = a / max(a.sum(), 1e-12)
                    coef = lasso_token_weights(st, lasso_frac)
                    row.update(compare_selection(st, coef, a))
                per_text.append(row)
    finally:
        if restore is not None:
            backbone.set_attn_implementation(restore)
    summary = []
    for l in ls:
        rows = [r for r in per_text if r["layer"] == l]
        agg = LayerRow(l, normalized_depth(l, L))
        for k in ("r2", "gain_bits", "posterior_var", "n_context", "k", "overlap_at_k", "spearman",
                  "r2_lasso_k", "r2_attention_k"):
            vals = [r[k] for r in rows if k in r and r[k] is not None and np.isfinite(r[k])]
            agg.measurements[k] = Measurement(float(np.mean(vals)) if vals else float("nan"),
                                              n=len(vals), dropped=len(rows) - len(vals))
        summary.append(agg)
    meta = {"model": getattr(model.config, "_name_or_path", "") or type(model).__name__, "num_layers": L,
            "n_texts": len(texts), "ridge_alpha": ridge_alpha, "lasso_frac": lasso_frac, "attention": attention,
            "attention_block": "block l+1 (reads state l)", "max_text_length": max_text_length}
    return TokenGainResult(layers=summary, per_text=per_text, meta=meta)
