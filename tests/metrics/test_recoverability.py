import json

import numpy as np
import pytest
import torch

from mi_tasks import HiddenStateExtractor, MiTasksError, RecoverabilityProbe, fano_mi_bits
from mi_tasks.metrics.recoverability.decoders import BCETokenDecoder, RidgeTokenDecoder
from mi_tasks.metrics.recoverability.vocabulary import DecoderVocabulary


def _synthetic(n=2000, V=150, seed=0):
    rng = np.random.default_rng(seed)
    targets = [rng.choice(V, size=int(rng.integers(3, 12)), replace=False) for _ in range(n)]
    Y = np.zeros((n, V), np.float32)
    for i, t in enumerate(targets):
        Y[i, t] = 1.0
    return Y, targets


def test_states_that_encode_the_multi_hot_give_recall_one():
    Y, targets = _synthetic()
    probe = RecoverabilityProbe(seed=0).fit_arrays(Y[:1500], targets[:1500], vocab_size=150)
    res = probe.score_arrays(Y[1500:], targets[1500:])
    row = res.layers[0]
    assert row["recall_at_k"] == pytest.approx(1.0)
    assert row["fano_mi_bits"] == pytest.approx(np.log2(150))  # P_e = 0: the bound is H(t) itself
    assert row["ba_mi_bits"] > 3.0 and row["cosine"] > 0.9
    assert row["rougeL"] == pytest.approx(1.0, abs=1e-6) or row["rougeL"] > 0.4  # same token set, other order


def test_random_states_give_recall_near_chance():
    Y, targets = _synthetic(V=150)
    X = np.random.default_rng(1).normal(size=(2000, 48)).astype(np.float32)
    res = RecoverabilityProbe(seed=0).fit_arrays(X[:1500], targets[:1500], 150).score_arrays(X[1500:], targets[1500:])
    chance = np.mean([len(t) for t in targets]) / 150
    assert abs(res.layers[0]["recall_at_k"] - chance) < 0.015
    assert abs(res.layers[0]["lift_recall_at_k"]) < 0.015
    assert res.layers[0]["ba_mi_bits"] < 0.1


def test_frequency_prior_predicts_the_most_frequent_tokens():
    # Token 0 is in every text, token 1 in most: the prior's top-1/top-2 are exactly those.
    rng = np.random.default_rng(0)
    targets = [np.array(([0, 1] if i % 5 else [0]) + list(rng.choice(np.arange(2, 50), 2, replace=False)))
               for i in range(300)]
    X = rng.normal(size=(300, 8)).astype(np.float32)
    probe = RecoverabilityProbe(seed=0).fit_arrays(X, targets, 50)
    assert torch.topk(probe.fitted_.log_prior, 2).indices.tolist() == [0, 1]
    res = probe.score_arrays(X[:50], targets[:50])
    assert res.prior["recall_at_k"] >= 0.45  # >= 2 of 4 (or 1 of 3) tokens for every text


def test_streamed_statistics_equal_one_shot():
    Y, targets = _synthetic(n=600)
    X = np.random.default_rng(2).normal(size=(600, 20)).astype(np.float32) * 5 + 100  # large offset
    X[:, :10] += Y[:, :10] * 3
    vocab = DecoderVocabulary.from_targets(targets)
    one = RidgeTokenDecoder(vocab).partial_fit(X, targets)
    streamed = RidgeTokenDecoder(vocab)
    for s in range(0, 600, 97):
        streamed.partial_fit(X[s:s + 97], targets[s:s + 97])
    assert streamed.n == one.n == 600
    # Batches touch only some vocabulary rows: the streamed sum x y^T equals the dense product.
    dense = vocab.multi_hot(targets).numpy().astype(np.float64).T @ (X.astype(np.float64) - streamed._shift.numpy())
    np.testing.assert_allclose(streamed._sxy.numpy(), dense, rtol=1e-5, atol=1e-3)
    for d in (one, streamed):
        d.select_alpha(X[:100], targets[:100])
    assert streamed.alpha_ == one.alpha_
    torch.testing.assert_close(streamed.scores(X[:50]), one.scores(X[:50]), rtol=1e-4, atol=1e-4)
    # And equal to ridge solved directly on the full matrices (standardized features, intercept).
    Z = (X - X.mean(0)) / X.std(0)
    Yc = vocab.multi_hot(targets).numpy()
    W = np.linalg.solve(Z.T.astype(np.float64) @ Z + one.alpha_ * 600 * np.eye(20), Z.T @ (Yc - Yc.mean(0)))
    direct = ((X[:50] - X.mean(0)) / X.std(0)) @ W + Yc.mean(0)
    np.testing.assert_allclose(one.scores(X[:50]).numpy(), direct, rtol=1e-3, atol=1e-4)


def test_merged_statistics_equal_single_pass():
    Y, targets = _synthetic(n=400)
    X = np.random.default_rng(3).normal(size=(400, 16)).astype(np.float32) + 7
    vocab = DecoderVocabulary.from_targets(targets)
    whole = RidgeTokenDecoder(vocab).partial_fit(X, targets)
    a = RidgeTokenDecoder(vocab).partial_fit(X[:150], targets[:150])
    b = RidgeTokenDecoder(vocab).partial_fit(X[150:], targets[150:])
    a.merge(b)
    assert a.n == whole.n
    for d in (a, whole):
        d.select_alpha(None, None)
    torch.testing.assert_close(a.scores(X[:20]), whole.scores(X[:20]), rtol=1e-4, atol=1e-5)


def test_bce_decoder_learns_and_is_deterministic():
    Y, targets = _synthetic(n=800, V=60)
    vocab = DecoderVocabulary.from_targets(targets)
    d1 = BCETokenDecoder(vocab, epochs=30, lr=1e-2, seed=0).fit(Y, targets)
    d2 = BCETokenDecoder(vocab, epochs=30, lr=1e-2, seed=0).fit(Y, targets)
    assert d1.losses_[-1] < d1.losses_[0] * 0.5
    torch.testing.assert_close(d1.coef_, d2.coef_)
    res = RecoverabilityProbe(fit="bce", bce_epochs=30, bce_lr=1e-2).fit_arrays(Y[:600], targets[:600], 60).score_arrays(Y[600:], targets[600:])
    assert res.layers[0]["recall_at_k"] > 0.9 and res.meta["fit"] == "bce"


def test_probe_on_tiny_model_all_layers_deterministic(tiny, sentences):
    model, tok = tiny["llama"]
    ex = HiddenStateExtractor(model, tok, layers="all", pooling="mean", batch_size=8, progress=False)
    train = sentences * 3
    r1 = RecoverabilityProbe(seed=0).fit(ex.stream(train)).score(ex.stream(sentences[:15]))
    r2 = RecoverabilityProbe(seed=0).fit(ex.stream(train)).score(ex.stream(sentences[:15]))
    assert json.dumps(r1.to_dict()) == json.dumps(r2.to_dict())  # NaN-safe: a vacuous bound has no error
    assert [r["layer"] for r in r1.layers] == [0, 1, 2, 3]
    assert [r["depth"] for r in r1.layers] == [0.0, 1 / 3, 2 / 3, 1.0]
    for r in r1.layers:
        assert 0 <= r["recall_at_k"] <= 1 and 0 <= r["fano_mi_bits"] <= np.log2(len(tok))
        assert r["fano_mi_bits"] == pytest.approx(fano_mi_bits(1 - r["recall_at_k"], len(tok)))
        assert r["lift_recall_at_k"] == pytest.approx(r["recall_at_k"] - r1.prior["recall_at_k"])
    assert "prior" in r1.table() and r1.meta["vocab_size"] == len(tok)
    assert r1.curve("recall_at_k")[0][:2] == (0, 0.0)


def test_probe_errors():
    with pytest.raises(MiTasksError, match="unknown fit"):
        RecoverabilityProbe(fit="svm")
    with pytest.raises(MiTasksError, match="not fitted"):
        RecoverabilityProbe().score_arrays(np.zeros((2, 3)), [np.array([1]), np.array([2])])
    with pytest.raises(MiTasksError, match="NaN or inf"):
        RecoverabilityProbe().fit_arrays(np.full((4, 3), np.nan), [np.array([1])] * 4, 10)
    with pytest.raises(MiTasksError, match="one target per text"):
        RecoverabilityProbe().fit_arrays(np.zeros((4, 3)), [np.array([1])] * 3, 10)


def test_memory_budget_fits_layers_in_groups_with_the_same_numbers(tiny, sentences, tmp_path):
    """A budget that holds two layers' decoders: three groups, train states replayed from disk, identical scores."""
    from mi_tasks.metrics.recoverability.memory_plan import GIB, layer_bytes

    model, tok = tiny["llama"]
    ex = HiddenStateExtractor(model, tok, layers="all", batch_size=8, progress=False)
    whole = RecoverabilityProbe(seed=2, memory_budget_gb=None).fit(ex.stream(sentences[:30]))
    ref = whole.score(ex.stream(sentences[30:]))
    vocab = len(whole.vocab_)
    b = layer_bytes(32, vocab)
    budget = (2 * (b["statistics"] + b["solution"]) + b["solve_transient"] + 1) / GIB
    grouped = RecoverabilityProbe(seed=2, memory_budget_gb=budget, spill_dir=str(tmp_path)).fit(ex.stream(sentences[:30]))
    assert grouped.plan_.group_size == 2 and grouped.plan_.n_groups == 2  # 4 states: layers 0-1, 2-3
    assert list(tmp_path.iterdir())  # train states went to disk
    got = grouped.score(ex.stream(sentences[30:]))
    assert json.dumps(got.to_dict()["layers"]) == json.dumps(ref.to_dict()["layers"])  # bit for bit, NaN-safe
    assert json.dumps(got.prior.to_dict()) == json.dumps(ref.prior.to_dict())
    assert all(np.array_equal(got.per_text[k], ref.per_text[k]) for k in ref.per_text)
    assert got.meta["memory_plan"]["n_groups"] == 2 and got.meta["model"] == ref.meta["model"]
    with pytest.raises(MiTasksError, match="one layer's decoder needs .* raise it to at least"):
        RecoverabilityProbe(memory_budget_gb=1e-6).fit(ex.stream(sentences[:30]))


def test_memory_plan_of_8b_and_70b_shapes():
    """33 states × 4,096 and 81 × 8,192 with a 25,000-token decoder vocabulary, at the default budget."""
    from mi_tasks.metrics.recoverability.memory_plan import GIB, plan_recoverability

    b8 = plan_recoverability(33, 4096, 25_000, n_train=5000, n_eval=1000)
    b70 = plan_recoverability(81, 8192, 25_000, n_train=5000, n_eval=1000)
    assert b8.all_layers_bytes / GIB == pytest.approx(30.33, abs=0.01) and (b8.n_groups, b8.group_size) == (3, 11)
    assert b70.all_layers_bytes / GIB == pytest.approx(166.66, abs=0.01) and (b70.n_groups, b70.group_size) == (14, 6)
    for p in (b8, b70):  # a 64 GiB host holds the decoders of a group and the eval states
        assert p.decoder_peak_bytes <= 16 * GIB and p.decoder_peak_bytes + p.eval_states_bytes < 64 * GIB
    assert plan_recoverability(81, 8192, 25_000, budget_gb=None).n_groups == 1
