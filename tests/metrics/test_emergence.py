"""Information Emergence: windows, macro/micro states (de-duplicated = naive), IE structure, errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mi_tasks.metrics.emergence.gaussian import IE_RIDGE
from mi_tasks.metrics.emergence.moments import StateMoments
from mi_tasks.metrics.emergence.passes import collect_states
from mi_tasks.metrics.emergence.probe import EmergenceProbe
from mi_tasks.metrics.emergence.scoring import emergence_from_states
from mi_tasks.metrics.emergence.windows import bos_prefix, make_windows
from mi_tasks.errors import MiTasksError
from mi_tasks.metrics.emergence.estimators import estimate_mi
from tests.conftest import make_sentences, shared_data_or_skip

FAST = dict(mi_steps=40, proj_dim=8, progress=False)
NEURAL = dict(FAST, mi_estimator="infonce")


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
    assert meta["estimator"]["method"] == "gaussian" and meta["bos_prefix"] == []
    assert meta["estimator"]["ridge"] > 0 and meta["estimator"]["proj_dim"] == 8
    assert meta["mi_definition"].startswith("linear-Gaussian MI") and meta["n_micro_positions"] == 150 * 6
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
    kw = dict(mi_steps=20, proj_dim=None, progress=False)
    for method in ("gaussian", "infonce"):
        a = emergence_from_states(macro, micro_u, micro_index=index, mi_estimator=method, **kw)
        b = emergence_from_states(macro, full, mi_estimator=method, **kw)
        assert len(a.layers) == 2 and a.meta["estimator"]["method"] == method
        for ra, rb in zip(a.layers, b.layers):
            assert ra == pytest.approx(rb, abs=1e-5)  # weighted unique rows vs repeated rows: float32 products
        per = emergence_from_states(macro, full, micro_mode="per_position", mi_estimator=method, **kw)
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


def test_gaussian_ie_equals_direct_gaussian_estimates():
    """The moments path = estimate_mi(method="gaussian") on the rows: macro pairs, micro over all N*T positions."""
    rng = np.random.default_rng(1)
    S, N, T, D, U = 3, 300, 4, 10, 60
    macro = rng.standard_normal((S, N, D)).astype(np.float32)
    macro[1] += 2.0 * macro[0]  # dependence between neighbouring states
    micro_u = rng.standard_normal((S, U, D)).astype(np.float32)
    micro_u[2] += micro_u[1]
    index = rng.integers(0, U, size=(N, T))
    res = emergence_from_states(macro, micro_u, micro_index=index, proj_dim=6, progress=False)
    rows = index.ravel()
    for r, (j, k) in zip(res.layers, [(0, 1), (1, 2)]):
        kw = dict(method="gaussian", proj_dim=6, projection="shared_random", ridge=IE_RIDGE)
        mac = estimate_mi(macro[k], macro[j], **kw).bits
        mic = estimate_mi(micro_u[k][rows], micro_u[j][rows], **kw).bits
        assert r["mi_macro_bits"] == pytest.approx(mac, abs=1e-5)  # moments: float32 products per batch
        assert r["mi_micro_bits"] == pytest.approx(mic, abs=1e-5)
    assert res.layers[0]["mi_macro_bits"] > 1.0 and res.layers[1]["mi_micro_bits"] > 1.0
    pca = emergence_from_states(macro, micro_u, micro_index=index, proj_dim=6, progress=False,
                                estimator_kwargs={"projection": "pca"})
    assert pca.meta["estimator"]["projection"] == "pca"
    assert pca.layers[0]["mi_macro_bits"] == pytest.approx(
        estimate_mi(macro[1], macro[0], method="gaussian", proj_dim=6, ridge=IE_RIDGE).bits, abs=1e-5)
    with pytest.raises(MiTasksError, match="do not apply"):
        emergence_from_states(macro, micro_u, micro_index=index, estimator_kwargs={"hidden": 8}, progress=False)


def test_streamed_probe_equals_from_states(tiny, corpus):
    model, tok = tiny["llama"]
    probe = EmergenceProbe(window=6, n_windows=120, **FAST)
    res = probe.score(model, tok, corpus)
    w = make_windows(tok, corpus, window=6, n_windows=120, seed=0)
    st = collect_states(model, tok, w, [0, 1, 2, 3], progress=False)
    ref = emergence_from_states(st.macro, st.micro, micro_index=st.micro_index, proj_dim=8, progress=False)
    for a, b in zip(res.layers, ref.layers):
        assert a == pytest.approx(b, abs=1e-5)
    neural = EmergenceProbe(window=6, n_windows=120, **NEURAL).score(model, tok, corpus)
    assert neural.meta["estimator"]["method"] == "infonce" and "held-out" in neural.meta["mi_definition"]


@pytest.mark.integration
def test_smollm2_ie_converges_and_is_stable_across_samples(real_model):
    """The default IE on SmolLM2/WikiText: three disjoint default-size samples (2,048 windows) from one
    pass agree per layer within 0.1 bits on average, and each sample's mean IE is within 0.05 bits
    (and 5 %) of the 6,144-window mean, on every fourth layer (0, 4, ..., 28: the Gaussian MIs of all 30
    cost ~4x more and say the same; benchmarks/emergence_convergence.py runs every layer at 16k vs 64k
    windows, docs/emergence.md). A neural estimator runs on three layers of the same windows."""
    data = shared_data_or_skip()
    from mi_tasks import load_corpus
    from mi_tasks.metrics.emergence.windows import IE_N_WINDOWS

    _, _, model, tok = real_model("smollm2")  # the session's one load (REAL_DTYPE, as the main job)
    texts = load_corpus(data / "wikitext2" / "wiki.valid.raw").texts + load_corpus(data / "wikitext2" / "wiki.test.raw").texts
    windows = make_windows(tok, texts, 8, 3 * IE_N_WINDOWS, seed=0)
    every_fourth = list(range(0, 30, 4))
    parts = EmergenceProbe(layers=every_fourth, progress=False).score_parts(model, tok, windows, IE_N_WINDOWS)
    whole = parts.result()
    assert [r["layer"] for r in whole.layers] == every_fourth and whole.meta["n_windows"] == 3 * IE_N_WINDOWS
    assert whole.meta["estimator"]["method"] == "gaussian" and whole.meta["estimator"]["ridge"] == 0.1
    assert "Gaussian" in whole.meta["mi_definition"]
    ie = lambda r: np.array([x["ie_bits"] for x in r.layers])  # noqa: E731
    blocks = [ie(parts.result([i])) for i in range(3)]
    assert all(np.isfinite(b).all() for b in blocks)
    pair_diffs = [np.mean(np.abs(a - b)) for i, a in enumerate(blocks) for b in blocks[i + 1:]]
    assert np.mean(pair_diffs) <= 0.1, pair_diffs
    shift = max(abs(b.mean() - ie(whole).mean()) for b in blocks)
    assert shift <= 0.05 and shift <= 0.05 * abs(ie(whole).mean()), (shift, ie(whole).mean())
    # channel MIs: positive, and below the ridge's cap (each canonical correlation <= k / (k + ridge), k = 8)
    cap8 = -8 / 2 * math.log2(1 - (8 / 8.1) ** 2)
    assert all(0 < x["mi_macro_bits"] < cap8 and 0 < x["mi_micro_bits"] < cap8 for x in whole.layers)
    neural = EmergenceProbe(layers="0,1,2", mi_steps=60, proj_dim=16, mi_estimator="infonce", progress=False).score_windows(
        model, tok, windows[:256])
    cap = math.log2(round(256 * 0.3)) + 1e-6
    assert [r["layer"] for r in neural.layers] == [0, 1, 2] and "held-out" in neural.meta["mi_definition"]
    assert all(math.isfinite(r["ie_bits"]) and r["mi_macro_bits"] <= cap for r in neural.layers)


def test_merged_moments_equal_moments_of_all_rows():
    """Disjoint samples' moments merge exactly: equal to the moments of the concatenated rows (weights too)."""
    rng = np.random.default_rng(3)
    a = rng.normal(5.0, 2.0, size=(3, 40, 6))
    b = rng.normal(-3.0, 1.0, size=(3, 25, 6))
    wa, wb = rng.integers(0, 4, 40).astype(float), rng.integers(1, 3, 25).astype(float)
    pairs = [(0, 1), (1, 2)]
    merged = StateMoments.merged([StateMoments.of_arrays(a, pairs, wa), StateMoments.of_arrays(b, pairs, wb)])
    whole = StateMoments.of_arrays(np.concatenate([a, b], 1), pairs, np.concatenate([wa, wb]))
    assert merged.n == whole.n
    for j in range(3):
        np.testing.assert_allclose(merged.cov(j), whole.cov(j), rtol=1e-6, atol=1e-6)  # float32 products
    for p in range(2):
        np.testing.assert_allclose(merged.cross(p), whole.cross(p), rtol=1e-6, atol=1e-6)
    with pytest.raises(MiTasksError, match="different state pairs"):
        StateMoments.merged([StateMoments.of_arrays(a, pairs), StateMoments.of_arrays(a, [(0, 1)])])


def test_parts_of_one_pass_equal_separate_runs(tiny, corpus):
    """score_parts: any union of blocks scores exactly like a probe run on just those windows."""
    model, tok = tiny["llama"]
    probe = EmergenceProbe(window=6, n_windows=120, batch_size=7, progress=False)
    w = make_windows(tok, corpus, window=6, n_windows=120, seed=0)
    parts = probe.score_parts(model, tok, w, part_size=50)   # blocks of 50, 50, 20; batches straddle them
    assert len(parts) == 3
    for which, rows in (([1], slice(50, 100)), ([0, 2], np.r_[0:50, 100:120]), (None, slice(0, 120))):
        got = parts.result(which)
        ref = probe.score_windows(model, tok, w[rows])
        for a, b in zip(got.layers, ref.layers):
            assert a == pytest.approx(b, abs=1e-5)  # float32 forwards and products of other batch sizes
        assert got.meta["n_windows"] == len(w[rows])
    with pytest.raises(MiTasksError, match="not among"):
        parts.result([3])


def test_prefixes_of_one_pass_equal_windows_of_that_length(tiny, corpus):
    """score_prefixes: IE of the length-t prefixes from one pass = score_windows on sequences[:, :t]."""
    model, tok = tiny["llama"]
    probe = EmergenceProbe(batch_size=16, progress=False)
    seqs = make_windows(tok, corpus, window=9, n_windows=100, seed=1)
    got = probe.score_prefixes(model, tok, seqs, [2, 5, 9])
    assert sorted(got) == [2, 5, 9]
    for t, res in got.items():
        ref = probe.score_windows(model, tok, seqs[:, :t])
        assert res.meta["window"] == t and res.meta["prefix_length"] == t
        for a, b in zip(res.layers, ref.layers):
            assert a == pytest.approx(b, abs=1e-6)
    with pytest.raises(MiTasksError, match="must lie in 2..9"):
        probe.score_prefixes(model, tok, seqs, [1])


def test_moments_accumulate_on_the_states_device():
    """A batch's products and sums stay where its states are (meta tensors: any host op would fail)."""
    mom = StateMoments([(0, 1), (1, 2)])
    for _ in range(2):
        mom.add(torch.empty(3, 5, 4, device="meta"), weights=np.arange(5.0))
    assert mom.m.device.type == "meta" and mom.c.device.type == "meta" and mom.s.device.type == "meta"
    assert mom.n == 20.0 and mom.m.shape == (3, 4, 4) and mom.c.shape == (2, 4, 4)
