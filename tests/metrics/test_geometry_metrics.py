"""Geometry metrics against reference formulas (written here from the study's definitions) and known answers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mi_tasks.data.augment import augment_texts
from mi_tasks.errors import MiTasksError
from mi_tasks.metrics.geometry import (cka_matrix, curvature, dime, gride, infonce, infonce_mi_bound, lidar,
                                       linear_cka, matched_depth_cka, text_curvature, twonn)

RNG = np.random.default_rng(1234)


# ---- reference formulas, one loop per definition (Skean et al.'s metric functions, restated) ----

def ref_unit_rows(z):
    z = z - z.mean(0)
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def ref_curvature(tokens):
    z = ref_unit_rows(tokens)
    angles = []
    for k in range(1, len(z) - 1):
        prev_step, next_step = z[k] - z[k - 1], z[k + 1] - z[k]
        c = abs(prev_step @ next_step) / (np.linalg.norm(prev_step) * np.linalg.norm(next_step))
        angles.append(math.acos(min(1.0, c)))
    return sum(angles) / len(angles)


def ref_entropy(mat):
    lam = np.linalg.eigvalsh(mat)
    lam = lam[lam > 0] / lam[lam > 0].sum()
    return float(-(lam * np.log(lam)).sum())


def ref_lidar(views, delta=1e-4):
    n, v, d = views.shape
    grand = views.mean((0, 1))
    means = views.mean(1)
    s_b = sum(np.outer(means[i] - grand, means[i] - grand) for i in range(n)) / n
    s_w = sum(np.outer(views[i, j] - means[i], views[i, j] - means[i]) for i in range(n) for j in range(v)) / (n * v)
    s_w = s_w + delta * np.eye(d)
    w, vec = np.linalg.eigh(s_w)
    inv_sqrt = vec @ np.diag(w ** -0.5) @ vec.T
    return ref_entropy(inv_sqrt @ s_b @ inv_sqrt) / min(math.log(n), math.log(d))


def ref_dime(a, b, rng, iters):
    ka, kb = a @ a.T, b @ b.T
    joint = ref_entropy(ka * kb)
    perms = []
    for _ in range(iters):
        p = rng.permutation(len(a))
        perms.append(ref_entropy(ka * kb[p][:, p]))
    scale = 1 / min(math.log(a.shape[0]), math.log(a.shape[1]))
    return (np.mean(perms) - joint) * scale, np.std(perms, ddof=1) / math.sqrt(iters) * scale


def ref_infonce(a, b, tau=0.1):
    losses = []
    for i in range(len(a)):
        row = a[i] @ b.T / tau
        m = row.max()
        losses.append(-(row[i] - m - math.log(np.exp(row - m).sum())))
    return float(np.mean(losses))


def ref_twonn(x, fraction=0.9):
    dist = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    np.fill_diagonal(dist, np.inf)
    srt = np.sort(dist, axis=1)
    mu = np.sort(srt[:, 1] / srt[:, 0])
    n = len(mu)
    keep = int(n * fraction)
    xs = np.log(mu[:keep])
    ys = -np.log(1 - np.arange(1, keep + 1) / n)
    return float((xs * ys).sum() / (xs * xs).sum())


def ref_cka(x, y):
    n = len(x)
    h = np.eye(n) - 1 / n
    k, l = h @ x @ x.T @ h, h @ y @ y.T @ h
    return float(np.trace(k @ l) / math.sqrt(np.trace(k @ k) * np.trace(l @ l)))


# ---- equality with the references on fixed random arrays ----

def test_curvature_equals_reference():
    texts = [RNG.standard_normal((n, 12)).astype(np.float32) for n in (3, 5, 9, 17)]
    for t in texts:
        assert text_curvature(t) == pytest.approx(ref_curvature(t.astype(np.float64)), abs=1e-6)
    est = curvature(texts + [RNG.standard_normal((2, 12))])
    assert est.value == pytest.approx(np.mean([ref_curvature(t.astype(np.float64)) for t in texts]), abs=1e-6)
    assert (est.n, est.dropped) == (4, 1) and est.stderr > 0


def test_lidar_equals_reference():
    views = RNG.standard_normal((30, 4, 10)) + 3 * RNG.standard_normal((30, 1, 10))
    assert lidar(views).value == pytest.approx(ref_lidar(views), abs=1e-6)
    assert lidar(views.astype(np.float32)).stderr > 0


def test_dime_equals_reference_within_its_error():
    a = RNG.standard_normal((40, 16))
    b = a + 0.5 * RNG.standard_normal((40, 16))
    ours = dime(a, b, seed=0, n_shuffles=10)
    ref, ref_se = ref_dime(a, b, np.random.default_rng(99), 10)
    assert ours.value > 0
    assert abs(ours.value - ref) <= 4 * math.hypot(ours.stderr, ref_se)
    assert dime(a, b, seed=0).value == ours.value  # seeded


def test_infonce_equals_reference():
    a, b = RNG.standard_normal((25, 8)), RNG.standard_normal((25, 8))
    assert infonce(a, b, cosine=False).value == pytest.approx(ref_infonce(a, b), abs=1e-6)
    assert infonce(a, b, temperature=0.5, cosine=False).value == pytest.approx(ref_infonce(a, b, 0.5), abs=1e-6)
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    assert infonce(a, b).value == pytest.approx(ref_infonce(unit(a), unit(b)), abs=1e-6)
    assert infonce(a * 300, b * 300).value == pytest.approx(infonce(a, b).value, abs=1e-9)  # blind to the norm


def test_twonn_equals_reference():
    x = RNG.standard_normal((300, 4)) @ RNG.standard_normal((4, 30))
    assert twonn(x).value == pytest.approx(ref_twonn(x), abs=1e-6)


@pytest.mark.parametrize("n", [20, 80])  # n < D uses Gram matrices, n > D feature cross products
def test_cka_equals_reference(n):
    x, y = RNG.standard_normal((n, 40)), RNG.standard_normal((n, 40))
    y[:, :10] += x[:, :10]
    assert linear_cka(x, y) == pytest.approx(ref_cka(x, y), abs=1e-10)
    m = cka_matrix([x, y, x + y])
    assert m[0, 1] == pytest.approx(ref_cka(x, y), abs=1e-10) and m[1, 2] == pytest.approx(ref_cka(y, x + y), abs=1e-10)
    np.testing.assert_allclose(np.diag(m), 1.0, atol=1e-12)
    np.testing.assert_allclose(m, m.T)


# ---- known answers ----

def test_points_on_a_line_have_curvature_zero_and_a_turn_has_its_angle():
    t = np.cumsum(RNG.uniform(0.1, 1.0, 20))
    line = 3.0 + t[:, None] * RNG.standard_normal(30)[None, :]
    assert text_curvature(line, normalise=False) == pytest.approx(0.0, abs=1e-6)
    zigzag = np.array([[0, 0], [1, 0], [1, 1], [2, 1], [2, 2]], dtype=float)
    assert text_curvature(zigzag, normalise=False) == pytest.approx(math.pi / 2)
    back = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    assert text_curvature(back, normalise=False) == pytest.approx(0.0, abs=1e-7)  # |cos|: a reversal is straight
    assert text_curvature(back, normalise=False, absolute_cosine=False) == pytest.approx(math.pi)
    assert math.isnan(text_curvature(np.ones((2, 4))))


def test_intrinsic_dimension_of_a_line_is_one():
    t = RNG.uniform(0, 10, 400)
    line = t[:, None] * RNG.standard_normal(50)[None, :]
    for est in (twonn(line), gride(line)):
        assert abs(est.value - 1.0) < 4 * est.stderr + 0.05


@pytest.mark.parametrize("d", [3, 6])
def test_intrinsic_dimension_of_a_gaussian_is_its_dimension(d):
    x = RNG.standard_normal((1500, d)) @ np.linalg.qr(RNG.standard_normal((64, d)))[0].T
    for est in (twonn(x), gride(x, n1=1)):
        assert abs(est.value - d) < 3 * est.stderr, est


def test_duplicate_points_are_dropped_and_counted():
    x = RNG.standard_normal((200, 5))
    dup = np.concatenate([x, x[:30]])
    est = twonn(dup)
    assert est.dropped == 30 and est.n == 200 and math.isfinite(est.value)
    assert gride(dup).dropped == 30
    with pytest.raises(MiTasksError, match="distinct points"):
        twonn(np.ones((10, 3)))


def test_identical_views_give_infonce_optimum():
    n, tau = 16, 0.1
    views = np.eye(n)[:, :n]
    est = infonce(views, views, tau)
    assert est.value == pytest.approx(math.log(1 + (n - 1) * math.exp(-1 / tau)), abs=1e-9)
    sharp = infonce(views * 10, views * 10, tau, cosine=False)
    assert sharp.value == pytest.approx(0.0, abs=1e-12)
    assert infonce_mi_bound(sharp.value, n) == pytest.approx((math.log(n), 1.0))
    shuffled = infonce(views, views[::-1], tau)
    assert shuffled.value > math.log(n)  # mismatched views are worse than chance


def test_dime_is_high_for_shared_views_and_near_zero_for_independent_ones():
    a = RNG.standard_normal((60, 20))
    same = dime(a, a, n_shuffles=20)
    indep = dime(a, RNG.standard_normal((60, 20)), n_shuffles=20)
    assert same.value > indep.value + 5 * math.hypot(same.stderr, indep.stderr)  # errors cover the texts
    assert abs(indep.value) < 4 * indep.stderr + 0.01


def test_lidar_rises_when_texts_separate_from_their_views():
    base = RNG.standard_normal((40, 1, 12))
    tight = base + 0.05 * RNG.standard_normal((40, 4, 12))
    loose = base + 2.0 * RNG.standard_normal((40, 4, 12))
    assert lidar(tight).value > lidar(loose).value
    assert math.isnan(lidar(tight, jackknife_groups=0).stderr)


def test_cka_is_one_for_itself_and_invariant_to_rotation_and_scale():
    x = RNG.standard_normal((50, 30))
    q = np.linalg.qr(RNG.standard_normal((30, 30)))[0]
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, 7.5 * x @ q) == pytest.approx(1.0)
    assert linear_cka(x, x + 4.0) == pytest.approx(1.0)
    assert linear_cka(x, RNG.standard_normal((50, 30))) < 0.9


def test_matched_depth_pairs_nearest_layers():
    a = [RNG.standard_normal((20, 8)) for _ in range(3)]
    b = [RNG.standard_normal((20, 6)) for _ in range(5)]
    rows = matched_depth_cka(a, [0, 0.5, 1], b + [], [0, 0.25, 0.5, 0.75, 1])
    assert [r["layer_b"] for r in rows] == [0, 2, 4]
    assert rows[1]["cka"] == pytest.approx(linear_cka(a[1], b[2]))
    with pytest.raises(MiTasksError, match="same texts"):
        linear_cka(a[0], RNG.standard_normal((21, 8)))


def test_bad_inputs_get_one_line_errors():
    with pytest.raises(MiTasksError, match="NaN"):
        infonce(np.full((3, 2), np.nan), np.zeros((3, 2)))
    with pytest.raises(MiTasksError, match="same texts"):
        dime(np.zeros((4, 2)), np.zeros((5, 2)))
    with pytest.raises(MiTasksError, match="2 views"):
        lidar(np.zeros((4, 1, 3)))
    with pytest.raises(MiTasksError, match="3 dimensions"):
        lidar(np.zeros((4, 3)))


# ---- the augmenter ----

TEXTS = ["The quick brown fox jumps over the lazy sleeping dog.", "Representations change from layer to layer."]


def test_augmenter_is_seeded_and_varies():
    a = augment_texts(TEXTS, 4, seed=3, word_p=0.5)
    assert a == augment_texts(TEXTS, 4, seed=3, word_p=0.5)
    assert a != augment_texts(TEXTS, 4, seed=4, word_p=0.5)
    assert len(a) == 2 and all(len(v) == 4 for v in a)
    assert len(set(a[0])) > 1 and all(v != TEXTS[0] for v in a[0])
    assert augment_texts(TEXTS, 2, word_p=0.0) == [[t, t] for t in TEXTS]
    # a text's views depend on its position and the seed, not on the other texts
    assert augment_texts(["something else entirely here", TEXTS[1]], 4, seed=3, word_p=0.5)[1] == a[1]
    with pytest.raises(MiTasksError, match="n_views"):
        augment_texts(TEXTS, 0)
