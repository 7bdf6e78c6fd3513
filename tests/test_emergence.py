"""Information Emergence: windows, macro/micro states (de-duplicated = naive), IE structure, errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mi_tasks.emergence import (EmergenceProbe, bos_prefix, collect_states, emergence_from_states,
                                make_windows)
from mi_tasks.errors import MiTasksError
from tests.conftest import make_sentences, shared_data_or_skip

FAST = dict(steps=40, proj_dim=8, progress=False)


@pytest.fixture(scope="module")
def corpus():
    return make_sentences(300, seed=11, lo=8, hi=24)


def _token_runs(tok, texts):
    return [tok(t, add_special_tokens=False)["input_ids"] for t in texts]


def test_windows_shape_content_and_seed(tiny, corpus):
    _, tok = tiny["llama"]
    w = make_windows(tok, corpus, window=6, n_windows=120, seed=0)
    assert w.shape == (120, 6) and w.dtype == np.int64
    assert not set(w.ravel()) & set(tok.all_special_ids)
    runs = [" ".join(map(str, r)) for r in _token_runs(tok, corpus)]
    for row in w[:30]:  # every window is a contiguous piece of one text
        assert any(" ".join(map(str, row)) in r for r in runs)
    np.testing.assert_array_equal(w, make_windows(tok, corpus, window=6, n_windows=120, seed=0))
    assert not np.array_equal(w, make_windows(tok, corpus, window=6, n_windows=120, seed=1))


def test_windows_do_not_overlap_within_a_text(tiny):
    _, tok = tiny["gpt2"]
    text = make_sentences(1, seed=2, lo=60, hi=60)[0]
    ids = tok(text, add_special_tokens=False)["input_ids"]
    w = make_windows(tok, [text], window=5, n_windows=len(ids) // 5 - 1, seed=0)
    starts = sorted(next(s for s in range(len(ids) - 4) if ids[s:s + 5] == row.tolist()) for row in w)
    assert len({s % 5 for s in starts}) == 1  # one tiling offset
    assert all(b - a >= 5 for a, b in zip(starts, starts[1:]))  # no overlap


def test_too_short_corpus_and_bad_window_are_refused(tiny):
    _, tok = tiny["gpt2"]
    with pytest.raises(MiTasksError, match="n_windows"):
        make_windows(tok, ["the cat", "a dog runs"], window=8, n_windows=4)
    with pytest.raises(MiTasksError, match="window must be"):
        make_windows(tok, ["the cat sat"], window=1)
    with pytest.raises(MiTasksError, match="empty"):
        make_windows(tok, [], window=4)


def test_bos_follows_the_tokenizer(tiny):
    assert bos_prefix(tiny["llama"][1]) == [tiny["llama"][1].bos_token_id]  # adds <s> to text
    assert bos_prefix(tiny["gpt2"][1]) == []  # adds nothing
    assert bos_prefix(tiny["llama"][1], bos=False) == []
    with pytest.raises(MiTasksError, match="bos must be"):
        bos_prefix(tiny["gpt2"][1], bos="yes")


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_deduplicated_micro_and_macro_equal_naive_runs(tiny, corpus, kind):
    model, tok = tiny[kind]
    w = make_windows(tok, corpus, window=5, n_windows=12, seed=3)
    layers = [0, 1, 2, 3]
    st = collect_states(model, tok, w, layers, batch_size=5, progress=False)
    pre = bos_prefix(tok)
    assert st.micro.shape[1] == len(np.unique(w)) < w.size
    with torch.inference_mode():
        for n in (0, 7):
            hs = model(input_ids=torch.tensor([pre + w[n].tolist()]), output_hidden_states=True).hidden_states
            for j, l in enumerate(layers):
                np.testing.assert_allclose(st.macro[j, n], hs[l][0, -1].numpy(), atol=1e-5)
            for t in range(5):
                alone = model(input_ids=torch.tensor([pre + [int(w[n, t])]]), output_hidden_states=True).hidden_states
                for j, l in enumerate(layers):
                    np.testing.assert_allclose(st.micro[j, st.micro_index[n, t]], alone[l][0, -1].numpy(), atol=1e-5)


def test_probe_result_structure_and_determinism(tiny, corpus):
    model, tok = tiny["gpt2"]
    probe = EmergenceProbe(window=6, n_windows=150, **FAST)
    res = probe.score(model, tok, corpus)
    assert [r["layer"] for r in res.layers] == [0, 1, 2]
    for r in res.layers:
        assert r["depth"] == pytest.approx(r["layer"] / 3)
        assert r["ie_bits"] == pytest.approx(r["mi_macro_bits"] - r["mi_micro_bits"])
        assert all(math.isfinite(r[k]) for k in ("ie_bits", "mi_macro_bits", "mi_micro_bits"))
    assert res.mean_ie == pytest.approx(np.mean([r["ie_bits"] for r in res.layers]))
    meta = res.meta
    assert meta["window"] == 6 and meta["n_windows"] == 150 and meta["num_layers"] == 3 and meta["seed"] == 0
    assert meta["estimator"]["method"] == "infonce" and meta["bos_prefix"] == []
    assert {"macro_forward_s", "micro_forward_s", "estimator_s"} <= set(meta["timings"])
    d = res.to_dict()
    assert d["mean_ie_bits"] == res.mean_ie and len(d["layers"]) == 3
    assert "mean IE" in res.table() and len(res.table().splitlines()) == 5
    again = probe.score(model, tok, corpus)
    assert again.layers == res.layers


def test_layer_selection(tiny, corpus):
    model, tok = tiny["llama"]
    res = EmergenceProbe(window=6, n_windows=100, layers="0,2", **FAST).score(model, tok, corpus)
    assert [r["layer"] for r in res.layers] == [0, 2]
    with pytest.raises(MiTasksError, match="needs state l\\+1"):
        EmergenceProbe(layers=-1, **FAST).score(model, tok, corpus)


def test_encoder_only_models_are_refused(tiny, corpus):
    model, tok = tiny["bert"]
    with pytest.raises(MiTasksError, match="encoder-only"):
        EmergenceProbe(window=4, n_windows=20, **FAST).score(model, tok, corpus)


def test_from_states_full_micro_equals_indexed_and_modes():
    rng = np.random.default_rng(0)
    S, N, T, D, U = 3, 120, 4, 6, 40
    macro = rng.standard_normal((S, N, D)).astype(np.float32)
    micro_u = rng.standard_normal((S, U, D)).astype(np.float32)
    index = rng.integers(0, U, size=(N, T))
    full = micro_u[:, index]  # (S, N, T, D)
    kw = dict(steps=20, proj_dim=None, progress=False)
    a = emergence_from_states(macro, micro_u, micro_index=index, **kw)
    b = emergence_from_states(macro, full, **kw)
    assert a.layers == b.layers and len(a.layers) == 2
    per = emergence_from_states(macro, full, micro_mode="per_position", **kw)
    assert per.meta["micro_mode"] == "per_position" and len(per.layers) == 2
    with pytest.raises(MiTasksError, match="consecutive"):
        emergence_from_states(macro[:2], full[:2], layers=[0, 5], **kw)
    with pytest.raises(MiTasksError, match="micro must be"):
        emergence_from_states(macro, full[:, :50], **kw)
    bad = macro.copy()
    bad[0, 0, 0] = np.inf
    with pytest.raises(MiTasksError, match="NaN or inf"):
        emergence_from_states(bad, full, **kw)
    with pytest.raises(MiTasksError, match="micro mode"):
        emergence_from_states(macro, full, micro_mode="mean", **kw)


@pytest.mark.integration
def test_smollm2_ie_on_wikitext_windows(real_model):
    data = shared_data_or_skip()
    from mi_tasks import load_corpus

    _, _, model, tok = real_model("smollm2")  # the session's one load (bfloat16 states, float32 estimators)
    texts = load_corpus(data / "wikitext2" / "wiki.valid.raw", limit=600, seed=0)
    res = EmergenceProbe(n_windows=256, steps=80, proj_dim=16, progress=False).score(model, tok, texts)
    assert len(res.layers) == 30 and res.meta["num_layers"] == 30
    assert [r["layer"] for r in res.layers] == list(range(30))
    assert all(math.isfinite(r["ie_bits"]) for r in res.layers)
    cap = math.log2(round(256 * 0.3)) + 1e-6
    assert all(r["mi_macro_bits"] <= cap and r["mi_micro_bits"] <= cap for r in res.layers)
