"""LiDAR in the span of its rows equals the D × D generalised eigenproblem, in both regimes, with its jackknife."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from mi_tasks.metrics.geometry import lidar
from mi_tasks.metrics.geometry.arrays import grouped_jackknife, max_entropy_normalised, spectrum_entropy


def dxd_lidar_entropy(views: np.ndarray, delta: float = 1e-4, alpha: float = 1.0) -> float:
    """The D × D formula LiDAR used before it moved to the rows' span (scipy's generalised eigh)."""
    n, v, d = views.shape
    class_means = views.mean(axis=1)
    between = class_means - class_means.mean(axis=0)
    s_b = between.T @ between / n
    within = (views - class_means[:, None, :]).reshape(n * v, d)
    s_w = within.T @ within / (n * v) + delta * np.eye(d)
    return spectrum_entropy(scipy.linalg.eigh(s_b, s_w, eigvals_only=True), alpha)


def dxd_lidar(views: np.ndarray, groups: int = 10, alpha: float = 1.0) -> tuple[float, float]:
    d = views.shape[2]

    def stat(rows):
        return max_entropy_normalised(dxd_lidar_entropy(views[rows], alpha=alpha), rows.size, d)

    return stat(np.arange(views.shape[0])), grouped_jackknife(stat, views.shape[0], groups)


def structured_views(rng, n: int, v: int, d: int, rank: int | None = None) -> np.ndarray:
    """Texts spread along a few directions, views scattered around them (as real views are)."""
    k = rank or d
    basis = rng.standard_normal((k, d))
    texts = rng.standard_normal((n, 1, k)) * np.linspace(3.0, 0.2, k)
    noise = 0.3 * rng.standard_normal((n, v, k))
    return (texts + noise) @ basis + 5.0


@pytest.mark.parametrize("n, v, d", [(12, 3, 64), (20, 4, 96), (40, 4, 24), (25, 2, 50)])
def test_span_lidar_equals_the_dxd_formula(n, v, d):
    """n·V < D (Gram side) and n·V > D (feature side): value and jackknife error to ~1e-10 relative."""
    views = structured_views(np.random.default_rng(n * d), n, v, d)
    ref_value, ref_se = dxd_lidar(views)
    got = lidar(views)
    assert got.value == pytest.approx(ref_value, rel=1e-10)
    assert got.stderr == pytest.approx(ref_se, rel=1e-8)
    assert lidar(views, alpha=2.0).value == pytest.approx(dxd_lidar(views, alpha=2.0)[0], rel=1e-10)


def test_span_lidar_on_rows_of_low_rank_and_duplicate_views():
    """Rows that span fewer dimensions than they number (repeated views): the same number as D × D."""
    rng = np.random.default_rng(7)
    views = structured_views(rng, 20, 4, 80, rank=10)
    views[:, 1] = views[:, 0]  # an augmentation that changed nothing
    ref_value, ref_se = dxd_lidar(views)
    got = lidar(views)
    assert got.value == pytest.approx(ref_value, rel=1e-9)
    assert got.stderr == pytest.approx(ref_se, rel=1e-6)


def test_tensor_input_gives_the_array_answer_on_its_device():
    views = structured_views(np.random.default_rng(3), 16, 4, 40)
    as_array = lidar(views)
    as_tensor = lidar(torch.from_numpy(views).to(torch.float32))
    assert as_tensor.value == pytest.approx(lidar(views.astype(np.float32)).value, rel=1e-12)
    assert as_tensor.value == pytest.approx(as_array.value, rel=1e-5)
    assert math.isfinite(as_tensor.stderr) and as_tensor.n == 16


def test_views_family_keeps_its_views_on_the_model_device_and_scores_them(tiny, sentences):
    """With the task's pooling, the family's LiDAR equals LiDAR of the same pooled views read back as arrays."""
    from mi_tasks.data.augment import augment_texts
    from mi_tasks.evaluation import evaluate
    from mi_tasks.states.extraction import HiddenStateExtractor

    model, tok = tiny["llama"]
    got = evaluate(model, tok, sentences, ["views"], layers="all", n_views=3, seed=0, view_pooling="task",
                   progress=False)["views"]
    drawn = augment_texts(sentences, 3, seed=0)
    ext = HiddenStateExtractor(model, tok, layers="all", pooling="mean", max_text_length=128, progress=False)
    per_view = [ext.extract([d[v] for d in drawn])[0] for v in range(3)]  # (layers, N, D) each
    views = np.stack(per_view, axis=2).astype(np.float64)
    for j, row in enumerate(got.layers):
        ref = lidar(views[j])
        assert row["lidar"] == pytest.approx(ref.value, rel=1e-6)
        assert row.stderr("lidar") == pytest.approx(ref.stderr, rel=1e-4)


def test_every_family_states_its_memory_before_it_runs(tiny, sentences, caplog):
    """Each built-in family's estimate is in its result's meta and logged before the pass; LiDAR's has no D × D term."""
    import logging

    from mi_tasks.evaluation import evaluate
    from mi_tasks.metrics.family import RunShape
    from mi_tasks.metrics.registry import family_class

    model, tok = tiny["gpt2"]
    with caplog.at_level(logging.INFO, logger="mi_tasks"):
        got = evaluate(model, tok, sentences, ["entropy", "geometry"], layers="all", progress=False)
    for name in ("entropy", "geometry"):
        assert sum(got[name].meta["memory_estimate_bytes"].values()) > 0
        assert f"{name} memory estimate" in caplog.text
    for name in ("recoverability", "entropy", "geometry", "views", "emergence"):
        assert sum(family_class(name)().memory_bytes(RunShape(33, 4096, 300), None).values()) > 0
    views = family_class("views")()

    def lidar_part(d):
        return [v for k, v in views.memory_bytes(RunShape(1, d, 300), None).items() if "LiDAR" in k][0]

    assert lidar_part(16384) < 2.1 * lidar_part(8192)  # 300 texts x 8 views span 2,400 dimensions: linear in D


@pytest.mark.parametrize("n, d", [(80, 40), (40, 300)])
def test_lidar_jackknife_error_matches_the_spread_over_independent_draws(n, d):
    """Both regimes: the mean jackknife error against the sd of LiDAR over 60 independent draws of texts."""
    rng = np.random.default_rng(d)
    basis, scales = rng.standard_normal((d, d)), np.linspace(2.0, 0.2, d)
    values, errors = [], []
    for _ in range(60):
        views = (rng.standard_normal((n, 1, d)) * scales + 0.7 * rng.standard_normal((n, 4, d))) @ basis
        est = lidar(views)
        values.append(est.value)
        errors.append(est.stderr)
    ratio = np.mean(errors) / np.std(values, ddof=1)
    # the sd of 60 draws is itself uncertain by ~10 %; the delete-a-group jackknife errs on the wide
    # side for this entropy (measured 1.3x at n·V > D, 1.8x at n·V < D): never too small
    assert 0.7 < ratio < 2.5, ratio


def test_bad_tensor_views_get_one_line_errors():
    from mi_tasks.errors import MiTasksError

    bad = torch.zeros(6, 3, 4)
    bad[0, 0, 0] = float("nan")
    with pytest.raises(MiTasksError, match="NaN"):
        lidar(bad)
    with pytest.raises(MiTasksError, match="3 dimensions"):
        lidar(torch.zeros(6, 4))
    with pytest.raises(MiTasksError, match="real numeric"):
        lidar(torch.zeros(6, 3, 4, dtype=torch.bool))
