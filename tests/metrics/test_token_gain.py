"""Token information gain (ridge) and Lasso token selection vs attention."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mi_tasks.errors import MiTasksError
from mi_tasks.metrics.token_gain import (compare_selection, lasso_token_weights, ridge_token_gain,
                                 token_gain_from_model)
from tests.conftest import make_sentences


def _context(n: int, d: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d))


def test_exact_linear_combination_gives_r2_one_and_little_gain():
    ctx = _context(6, 64)
    last = 0.7 * ctx[1] - 0.4 * ctx[4] + 0.2 * ctx[5]
    g = ridge_token_gain(np.vstack([ctx, last]), alpha=1e-6, normalize=False)
    assert g["r2"] == pytest.approx(1.0, abs=1e-6) and g["n_context"] == 6
    fresh = ridge_token_gain(np.vstack([ctx, _context(1, 64, seed=9)]), alpha=1e-6, normalize=False)
    assert fresh["r2"] < 0.3  # a random direction in 64 dims is mostly outside a 6-dim span
    assert fresh["gain_bits"] > g["gain_bits"] + 5


def test_gain_is_the_gp_information_gain_of_the_ridge_objective():
    s = _context(5, 16, seed=1)
    alpha = 0.3
    g = ridge_token_gain(s, alpha=alpha)
    u = s / np.linalg.norm(s, axis=1, keepdims=True)
    X, y = u[:-1], u[-1]
    w = np.linalg.solve(X @ X.T + alpha * np.eye(4), X @ y)
    objective = ((y - X.T @ w) ** 2).sum() + alpha * (w ** 2).sum()
    assert g["posterior_var"] == pytest.approx(objective, rel=1e-9)
    assert g["gain_bits"] == pytest.approx(0.5 * math.log2(1 + objective / alpha))


def test_lasso_finds_the_true_support():
    ctx = _context(12, 256, seed=2)
    last = 1.0 * ctx[2] + 0.8 * ctx[7] - 0.9 * ctx[10]
    coef = lasso_token_weights(np.vstack([ctx, last]), lasso_frac=0.05, normalize=False)
    assert set(np.flatnonzero(np.abs(coef) > 1e-8)) == {2, 7, 10}


def test_compare_selection_with_matching_and_opposite_attention():
    ctx = _context(8, 128, seed=3)
    last = ctx[1] + ctx[5]
    s = np.vstack([ctx, last])
    coef = lasso_token_weights(s, normalize=False)
    good = np.full(8, 0.02)
    good[[1, 5]] = 0.44
    c = compare_selection(s, coef, good, normalize=False)
    assert c["k"] == 2 and c["overlap_at_k"] == 1.0 and c["spearman"] > 0.5
    assert c["r2_lasso_k"] == pytest.approx(1.0, abs=1e-4) and c["r2_attention_k"] == pytest.approx(1.0, abs=1e-4)
    bad = np.full(8, 0.02)
    bad[[0, 3]] = 0.44
    c2 = compare_selection(s, coef, bad, normalize=False)
    assert c2["overlap_at_k"] == 0.0 and c2["r2_attention_k"] < c2["r2_lasso_k"] - 0.5
    with pytest.raises(MiTasksError, match="one value per earlier token"):
        compare_selection(s, coef[:3], good)


def test_bad_states_are_refused():
    with pytest.raises(MiTasksError, match="at least 2 tokens"):
        ridge_token_gain(np.zeros((1, 4)))
    bad = _context(4, 8)
    bad[0, 0] = np.nan
    with pytest.raises(MiTasksError, match="NaN"):
        ridge_token_gain(bad)
    with pytest.raises(MiTasksError, match="alpha"):
        ridge_token_gain(_context(4, 8), alpha=0)
    with pytest.raises(MiTasksError, match="lasso_frac"):
        lasso_token_weights(_context(4, 8), lasso_frac=1.5)


@pytest.mark.parametrize("kind", ["llama", "bert"])
def test_tiny_model_run_with_attention(tiny, kind):
    model, tok = tiny[kind]
    texts = make_sentences(4, seed=5, lo=8, hi=14)
    impl = model.config._attn_implementation
    res = token_gain_from_model(model, tok, texts, layers="all", progress=False)
    assert [r["layer"] for r in res.layers] == [0, 1, 2, 3]
    assert len(res.per_text) == 4 * 4
    for r in res.layers:
        assert 0.0 <= r["r2"] <= 1.0 + 1e-9 and r["gain_bits"] > 0
    for r in res.layers[:-1]:  # blocks 1..L read states 0..L-1
        assert r["k"] >= 1 and 0.0 <= r["overlap_at_k"] <= 1.0
    assert math.isnan(res.layers[-1]["overlap_at_k"]) and res.layers[-1].measurement("overlap_at_k").n == 0
    assert "overlap_at_k" in res.table()
    assert model.config._attn_implementation == impl  # switched to eager for the run, then restored
    plain = token_gain_from_model(model, tok, texts, layers="0,2", attention=False, progress=False)
    assert [r["layer"] for r in plain.layers] == [0, 2] and math.isnan(plain.layers[0]["overlap_at_k"])
    assert plain.layers[0]["r2"] == pytest.approx(res.layers[0]["r2"])


def test_too_short_text_is_refused(tiny):
    model, tok = tiny["gpt2"]
    with pytest.raises(MiTasksError, match="at least 3"):
        token_gain_from_model(model, tok, ["cat"], progress=False)
