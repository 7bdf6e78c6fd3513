"""mi_views on its default inputs equals a reference of the study's pipeline on the same token states and views.

The reference follows Skean et al.'s code path, restated here: each augmented view is run alone
through the model with every hidden state returned; each layer's token rows are centred over the
text and scaled to unit length, then averaged; LiDAR, DiME and InfoNCE (raw dot products) are then
computed by loops over those vectors.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mi_tasks.data.augment import augment_texts
from mi_tasks.evaluation import evaluate


def study_view_vector(model, tok, text: str) -> np.ndarray:
    """(layers, D): one view through the model alone, each layer's token rows centred, unit-length, averaged."""
    enc = tok(text, return_tensors="pt")
    with torch.no_grad():  # one unpadded text: no mask (transformers 4.57.1's GPT-2 given an all-ones mask
        # returned other states from layer 1 on, DiME 0.149 against 0.135 at layer 1; 5.x and mi-tasks agree)
        hidden = model(input_ids=enc["input_ids"], output_hidden_states=True).hidden_states
    out = []
    for h in hidden:
        z = h[0].double().numpy()
        z = z - z.mean(0)
        z = z / np.linalg.norm(z, axis=1, keepdims=True)
        out.append(z.mean(0))
    return np.stack(out)


def entropy_of(mat: np.ndarray) -> float:
    lam = np.linalg.eigvalsh(mat)
    lam = lam[lam > 0] / lam[lam > 0].sum()
    return float(-(lam * np.log(lam)).sum())


def study_lidar(views: np.ndarray, delta: float = 1e-4) -> float:
    n, v, d = views.shape
    grand, means = views.mean((0, 1)), views.mean(1)
    s_b = sum(np.outer(means[i] - grand, means[i] - grand) for i in range(n)) / n
    s_w = sum(np.outer(views[i, j] - means[i], views[i, j] - means[i]) for i in range(n) for j in range(v)) / (n * v)
    lam, vec = np.linalg.eigh(s_w + delta * np.eye(d))
    root = vec @ np.diag(lam ** -0.5) @ vec.T
    return entropy_of(root @ s_b @ root) / math.log(min(n, d))


def study_dime(a: np.ndarray, b: np.ndarray, perms: list[np.ndarray]) -> float:
    ka, kb = a @ a.T, b @ b.T
    shuffled = [entropy_of(ka * kb[p][:, p]) for p in perms]
    return (float(np.mean(shuffled)) - entropy_of(ka * kb)) / math.log(min(a.shape[0], a.shape[1]))


def study_infonce(a: np.ndarray, b: np.ndarray, tau: float) -> float:
    logits = a @ b.T / tau
    return float(np.mean([np.log(np.exp(row - row.max()).sum()) + row.max() - row[i] for i, row in enumerate(logits)]))


@pytest.mark.parametrize("kind", ["bert", "gpt2"])
def test_views_on_default_inputs_equal_the_study_pipeline(tiny, sentences, kind):
    model, tok = tiny[kind]
    texts, n_views, seed = sentences[:24], 3, 0
    got = evaluate(model, tok, texts, ["views"], layers="all", include_special=True, max_text_length=64,
                   n_views=n_views, seed=seed, infonce_cosine=False, progress=False)["views"]
    drawn = augment_texts(texts, n_views, seed=seed)
    vecs = np.stack([[study_view_vector(model, tok, d[v]) for v in range(n_views)] for d in drawn])  # (n, V, L, D)
    n = len(texts)
    rng = np.random.default_rng(seed)
    perms = [rng.permutation(n) for _ in range(10)]  # the same shuffles as the seeded DiME
    assert got.meta["view_pooling"] == "unit_token_mean"
    assert len(got.layers) == vecs.shape[2]
    for j, row in enumerate(got.layers):
        v = vecs[:, :, j]
        assert row["lidar"] == pytest.approx(study_lidar(v), abs=2e-4)
        assert row["dime"] == pytest.approx(study_dime(v[:, 0], v[:, 1], perms), abs=2e-4)
        assert row["infonce"] == pytest.approx(study_infonce(v[:, 0], v[:, 1], 0.1), abs=2e-4)


def test_task_pooling_is_a_named_option(tiny, sentences):
    model, tok = tiny["gpt2"]
    kw = dict(layers="all", n_views=2, progress=False, max_text_length=64)
    study = evaluate(model, tok, sentences[:16], ["views"], **kw)["views"]
    task = evaluate(model, tok, sentences[:16], ["views"], view_pooling="task", **kw)["views"]
    assert task.meta["view_pooling"] == "task"
    assert [r["dime"] for r in study.layers] != [r["dime"] for r in task.layers]


def test_a_regular_polygon_has_curvature_two_pi_over_n_under_the_defaults():
    """The known answer that holds with the defaults (centred, unit rows): N points evenly on a circle turn by 2π/N."""
    from mi_tasks.metrics.geometry import text_curvature
    from mi_tasks.metrics.geometry.reducers import batch_curvature

    n = 9
    angle = 2 * math.pi * np.arange(n) / n
    basis = np.linalg.qr(np.random.default_rng(0).standard_normal((16, 2)))[0].T
    polygon = 5.0 + 3.0 * np.stack([np.cos(angle), np.sin(angle)], 1) @ basis
    assert text_curvature(polygon) == pytest.approx(2 * math.pi / n, abs=1e-6)
    assert text_curvature(polygon, absolute_cosine=False) == pytest.approx(2 * math.pi / n, abs=1e-6)
    both = batch_curvature(torch.as_tensor(polygon[None], dtype=torch.float32), torch.ones(1, n, dtype=torch.bool))
    assert both[0].tolist() == pytest.approx([2 * math.pi / n] * 2, abs=1e-4)
    back = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]])  # turns straight back: π signed, 0 with |cos|
    turns = batch_curvature(back, torch.ones(1, 4, dtype=torch.bool))[0].tolist()
    assert turns == pytest.approx([0.0, math.pi], abs=1e-3)


def test_signed_curvature_is_a_task_setting(tiny, sentences):
    model, tok = tiny["gpt2"]
    kw = dict(layers="all", progress=False, max_text_length=64)
    plain = evaluate(model, tok, sentences[:20], ["geometry"], **kw)["geometry"]
    signed = evaluate(model, tok, sentences[:20], ["geometry"], absolute_cosine=False, **kw)["geometry"]
    assert signed.meta["curvature_angle"] == "arccos(cos)" and plain.meta["curvature_angle"] == "arccos|cos|"
    for a, b in zip(plain.layers, signed.layers):
        assert b["curvature"] >= a["curvature"] - 1e-9 and a.measurement("cka_to_last").has_stderr
