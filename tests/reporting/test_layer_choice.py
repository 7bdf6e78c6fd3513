"""Rank correlation across layers, best-layer agreement and the intermediate-vs-last check."""
from __future__ import annotations

import math

import pytest

from mi_tasks.errors import MiTasksError
from mi_tasks.reporting.layer_choice import (best_layer, intermediate_beats_last, layer_choice, layer_choice_markdown,
                                             spearman_across_layers)

SCORE = {0: 0.30, 1: 0.45, 2: 0.60, 3: 0.72, 4: 0.70, 5: 0.66, 6: 0.61}  # peaks at layer 3


def test_monotone_curves_give_plus_and_minus_one():
    up = {k: float(k) for k in range(7)}
    rising = {k: 0.1 * k for k in range(7)}
    rho, lo, hi, n = spearman_across_layers(up, rising)
    assert (rho, n) == (pytest.approx(1.0), 7) and lo == pytest.approx(1.0) and hi == pytest.approx(1.0)
    rho, *_ = spearman_across_layers({k: -v for k, v in up.items()}, rising)
    assert rho == pytest.approx(-1.0)


def test_interval_brackets_rho_and_is_seeded():
    metric = {0: 0.1, 1: 0.5, 2: 0.4, 3: 0.9, 4: 0.7, 5: 0.3, 6: 0.6}
    a = spearman_across_layers(metric, SCORE, seed=1)
    assert a == spearman_across_layers(metric, SCORE, seed=1)
    rho, lo, hi, _ = a
    assert -1 <= lo <= rho <= hi <= 1 and hi - lo > 0.1
    assert spearman_across_layers(metric, SCORE, seed=2) != a


def test_only_shared_finite_layers_count():
    metric = {0: 1.0, 1: 2.0, 2: float("nan"), 3: 4.0, 9: 5.0}
    assert spearman_across_layers(metric, SCORE)[3] == 3
    with pytest.raises(MiTasksError, match="at least 3 shared layers"):
        spearman_across_layers({0: 1.0, 1: 2.0}, SCORE)


def test_best_layer_follows_direction():
    assert best_layer(SCORE) == 3
    assert best_layer(SCORE, "min") == 0
    with pytest.raises(MiTasksError, match="direction"):
        best_layer(SCORE, "up")


def test_intermediate_beats_last():
    out = intermediate_beats_last(SCORE)
    assert out["best_intermediate_layer"] == 3 and out["last_layer"] == 6
    assert out["intermediate_beats_last"] and out["gain_over_last"] == pytest.approx(0.11)
    rising = {k: 0.1 * k for k in range(5)}
    assert not intermediate_beats_last(rising)["intermediate_beats_last"]
    assert intermediate_beats_last(rising, higher_is_better=False)["intermediate_beats_last"]


def test_layer_choice_table():
    peaked = {k: -abs(k - 3) + 0.01 * k for k in range(7)}
    rows = layer_choice({"lidar": (peaked, "max"), "curvature": ({k: float(k) for k in range(7)}, "min")},
                        {"sts": SCORE})
    by = {r.metric: r for r in rows}
    assert by["lidar"].picks_best_layer and not by["curvature"].picks_best_layer
    assert by["lidar"].spearman > 0.8 and math.isfinite(by["lidar"].ci_low)
    table = layer_choice_markdown(rows)
    assert table.count("\n") == 4 and "| lidar | sts | 7 |" in table and "| yes |" in table and "| no |" in table
