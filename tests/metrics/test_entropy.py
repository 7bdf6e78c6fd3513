"""Representation entropy: reference values, invariances, a direct numpy computation, the extraction pass."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mi_tasks import HiddenStateExtractor
from mi_tasks.states.stream import random_copy
from mi_tasks.metrics.entropy.probe import (EntropyProbe, effective_rank, matrix_entropy, normalized_entropy,
                              renyi_entropy)
from mi_tasks.errors import MiTasksError
from mi_tasks.metrics.entropy.spectra import token_gram_spectra

from ..conftest import make_sentences


def numpy_entropy(x: np.ndarray, alpha: float = 1.0) -> float:
    """SPEC §4 written out with numpy only: centre, normalise rows, Gram, trace 1, eigenvalues."""
    z = x - x.mean(0)
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    k = z @ z.T if z.shape[0] <= z.shape[1] else z.T @ z
    lam = np.linalg.eigvalsh(k / np.trace(k))
    lam = lam[lam > 1e-15]
    h = -(lam * np.log(lam)).sum() if alpha == 1 else np.log((lam ** alpha).sum()) / (1 - alpha)
    return h / np.log(min(x.shape))


def test_isotropic_gaussian_is_near_one_and_rank_one_is_zero():
    rng = np.random.default_rng(0)
    assert matrix_entropy(rng.normal(size=(4000, 32))) == pytest.approx(1.0, abs=0.01)
    rank_one = np.outer(rng.normal(size=300), rng.normal(size=32))
    assert matrix_entropy(rank_one) == pytest.approx(0.0, abs=1e-9)
    assert effective_rank(rank_one) == pytest.approx(1.0, abs=1e-6)
    # k equal directions (+ centring) give ln k / ln min(N, D)
    basis = np.eye(32)[:4]
    x = np.repeat(basis, 50, axis=0) * 3.0
    assert effective_rank(x) > 2.5  # centred one-hot classes span k-1 directions


@pytest.mark.parametrize("alpha", [1.0, 0.5, 2.0])
@pytest.mark.parametrize("shape", [(20, 64), (200, 16)])
def test_equals_direct_numpy_and_is_scale_invariant(alpha, shape):
    x = np.random.default_rng(1).standard_t(3, size=shape) @ np.random.default_rng(2).normal(size=(shape[1], shape[1]))
    assert matrix_entropy(x, alpha) == pytest.approx(numpy_entropy(x, alpha), abs=1e-9)
    assert matrix_entropy(x * 1e3, alpha) == pytest.approx(matrix_entropy(x, alpha), abs=1e-9)
    assert matrix_entropy(x * 1e-3 + 5.0, alpha) == pytest.approx(matrix_entropy(x, alpha), abs=1e-8)  # shift too


def test_renyi_limits_and_errors():
    lam = np.array([0.5, 0.25, 0.25, 0.0])
    assert renyi_entropy(lam, 1.0) == pytest.approx(-(0.5 * math.log(0.5) + 0.5 * math.log(0.25)))
    assert renyi_entropy(lam, 1.0 + 1e-7) == pytest.approx(renyi_entropy(lam, 1.0), abs=1e-5)
    assert normalized_entropy(np.ones(4) / 4, 4, 10) == pytest.approx(1.0)
    assert np.isnan(normalized_entropy(np.array([1.0]), 1, 10))
    with pytest.raises(MiTasksError, match="alpha"):
        renyi_entropy(lam, 0.0)
    with pytest.raises(MiTasksError, match="NaN"):
        matrix_entropy(np.full((3, 3), np.nan))


def test_batched_token_spectra_match_per_text_numpy():
    g = torch.Generator().manual_seed(0)
    states = torch.randn(3, 12, 8, generator=g)
    mask = torch.ones(3, 12, dtype=torch.bool)
    mask[0, 7:] = False  # right padding
    mask[2, :4] = False  # left padding
    spec = token_gram_spectra(states, mask)
    for b in range(3):
        x = states[b][mask[b]].numpy().astype(np.float64)
        n = x.shape[0]
        ours = normalized_entropy(spec[b].numpy(), n, 8)
        assert ours == pytest.approx(numpy_entropy(x), abs=1e-5)


def test_extraction_pass_gives_prompt_entropy_of_the_token_states(tiny):
    model, tok = tiny["llama"]
    texts = make_sentences(12, seed=4)
    ex = HiddenStateExtractor(model, tok, layers="all", batch_size=5, progress=False)
    res = EntropyProbe(random_baseline=False).score(ex.stream(texts))
    assert [r["layer"] for r in res.layers] == [0, 1, 2, 3]
    # reference: run each text alone, keep its non-special tokens, numpy entropy per layer
    ref = np.zeros((4, len(texts)))
    for i, t in enumerate(texts):
        enc = tok(t, return_tensors="pt", return_special_tokens_mask=True)
        keep = enc.pop("special_tokens_mask")[0] == 0
        with torch.no_grad():
            hs = model(**enc, output_hidden_states=True).hidden_states
        for j in range(4):
            ref[j, i] = numpy_entropy(hs[j][0][keep].numpy().astype(np.float64))
    np.testing.assert_allclose(res.per_text["prompt_entropy"], ref, atol=2e-4)
    for j, row in enumerate(res.layers):
        assert row["prompt_entropy"] == pytest.approx(ref[j].mean(), abs=2e-4)
        assert 0.0 < row["dataset_entropy"] <= 1.0 and 1.0 <= row["dataset_effective_rank"] <= 12


def test_diff_erank_is_seeded_and_uses_a_random_copy(tiny):
    model, tok = tiny["bert"]
    texts = make_sentences(20, seed=8)
    ex = HiddenStateExtractor(model, tok, layers="0,-1", batch_size=8, progress=False)
    a = EntropyProbe(random_limit=10, seed=1).score(ex.stream(texts))
    b = EntropyProbe(random_limit=10, seed=1).score(ex.stream(texts))
    assert a.layers == b.layers and a.meta["random_texts"] == 10
    subset = EntropyProbe(random_limit=10, seed=1).baseline_indices(20)
    for j, row in enumerate(a.layers):
        h_trained = a.per_text["prompt_log_erank"][j][subset]
        assert row["erank_trained"] == pytest.approx(np.exp(h_trained.mean()), rel=1e-9)
        assert row["diff_erank"] == pytest.approx(row["erank_random"] - row["erank_trained"], rel=1e-9)
        assert row["diff_erank_mean_of_differences"] == pytest.approx(
            row["random_prompt_effective_rank"] - np.exp(h_trained).mean(), rel=1e-6)
    c = EntropyProbe(random_limit=10, seed=2).score(ex.stream(texts))
    assert c.layers[1]["random_prompt_effective_rank"] != a.layers[1]["random_prompt_effective_rank"]
    fresh = random_copy(model, seed=1)
    assert type(fresh) is type(model) and not torch.equal(fresh.embeddings.word_embeddings.weight,
                                                          model.embeddings.word_embeddings.weight)
    assert torch.equal(fresh.embeddings.word_embeddings.weight, random_copy(model, seed=1).embeddings.word_embeddings.weight)


def test_stream_without_spectra_is_a_clear_error(tiny):
    model, tok = tiny["gpt2"]
    ex = HiddenStateExtractor(model, tok, layers="0", progress=False)
    with pytest.raises(MiTasksError, match="reducers=\\(SPECTRA,\\)"):
        EntropyProbe(random_baseline=False).score_stream(ex.iter_batches(["a cat runs", "the dog"]), 2, ex.num_layers)


def authors_entropy(x: np.ndarray) -> float:
    """Wei et al.'s per-text entropy in nats: centre over tokens, unit rows, ZᵀZ/N over its trace, −Σ λ ln λ."""
    z = x - x.mean(0)
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    cov = z.T @ z / z.shape[0]
    lam = np.linalg.eigvalsh(cov / np.trace(cov))
    lam = lam[lam > 0]
    return float(-(lam * np.log(lam)).sum())


def token_states(model, tok, text: str, layer: int, include_special: bool) -> np.ndarray:
    """One text run alone: its states at ``layer``, special tokens dropped unless ``include_special``."""
    enc = tok(text, return_tensors="pt", return_special_tokens_mask=True)
    keep = (enc.pop("special_tokens_mask")[0] == 0) | include_special
    with torch.no_grad():
        hs = model(**enc, output_hidden_states=True).hidden_states
    return hs[layer][0][keep].numpy().astype(np.float64)


@pytest.mark.parametrize("kind,include_special", [("llama", False), ("llama", True), ("bert", True)])
def test_diff_erank_is_the_authors_exp_of_mean_entropy(tiny, kind, include_special):
    model, tok = tiny[kind]
    texts = make_sentences(10, seed=11)
    ex = HiddenStateExtractor(model, tok, layers="1,-1", batch_size=4, include_special=include_special,
                              progress=False)
    res = EntropyProbe(random_limit=None, seed=3).score(ex.stream(texts))
    rand = random_copy(model, seed=3)
    assert res.meta["include_special"] is include_special and res.meta["diff_erank_texts"] == len(texts)
    for row in res.layers:
        h_t = np.array([authors_entropy(token_states(model, tok, t, row["layer"], include_special)) for t in texts])
        h_r = np.array([authors_entropy(token_states(rand, tok, t, row["layer"], include_special)) for t in texts])
        assert row["erank_trained"] == pytest.approx(np.exp(h_t.mean()), rel=1e-4)
        assert row["erank_random"] == pytest.approx(np.exp(h_r.mean()), rel=1e-4)
        assert row["diff_erank"] == pytest.approx(np.exp(h_r.mean()) - np.exp(h_t.mean()), abs=2e-4)
        assert row["diff_erank_mean_of_differences"] == pytest.approx((np.exp(h_r) - np.exp(h_t)).mean(), abs=2e-4)
        assert row["random_prompt_effective_rank"] == pytest.approx(np.exp(h_r).mean(), rel=1e-4)


def test_include_special_adds_the_specials_to_the_token_matrices(tiny):
    model, tok = tiny["llama"]  # its tokenizer prepends BOS
    texts = make_sentences(8, seed=12)
    runs = {flag: EntropyProbe(random_baseline=False).score(
        HiddenStateExtractor(model, tok, layers="-1", batch_size=4, include_special=flag, progress=False).stream(texts))
        for flag in (False, True)}
    assert (runs[False].meta["include_special"], runs[True].meta["include_special"]) == (False, True)
    assert runs[True].meta["mean_tokens"] == pytest.approx(runs[False].meta["mean_tokens"] + 1)
    assert not np.allclose(runs[True].per_text["prompt_log_erank"], runs[False].per_text["prompt_log_erank"])
    with_bos = [authors_entropy(token_states(model, tok, t, 3, True)) for t in texts]
    np.testing.assert_allclose(runs[True].per_text["prompt_log_erank"][0], with_bos, atol=1e-4)
