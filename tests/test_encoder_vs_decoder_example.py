"""examples/encoder_vs_decoder.py reads its claims right: matched depths, a peak chosen and measured on other texts."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from .readme_commands import REPO


def _example():
    spec = importlib.util.spec_from_file_location("encoder_vs_decoder", REPO / "examples" / "encoder_vs_decoder.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(means, n=400, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    per = np.array(means)[:, None] + rng.normal(0, noise, size=(len(means), n))
    return {"num_layers": len(means) - 1, "per_text": {"lift": per, "ba": per * 10}}


def test_rise_then_fall_needs_an_inner_peak_that_beats_both_ends():
    ex = _example()
    up_down = ex.rise_and_fall(_run([0.0, 0.05, 0.1, 0.04]))
    assert up_down["peak_layer"] == 2 and up_down["rises_then_falls"]
    assert up_down["rise"] == pytest.approx(0.1, abs=0.02) and up_down["fall"] == pytest.approx(0.06, abs=0.02)
    falling = ex.rise_and_fall(_run([0.1, 0.05, 0.02, 0.0]))
    assert falling["peak_layer"] == 0 and not falling["rises_then_falls"] and falling["rise"] == 0.0


def test_matched_depth_pairs_the_layers_at_the_same_fraction_of_depth():
    ex = _example()
    enc, dec = _run([0.2, 0.1, 0.0], seed=1), _run([0.1, 0.1, 0.1, 0.1, 0.1], seed=1)
    rows = ex.matched_depth(enc, dec)
    assert [(r["depth"], r["encoder_layer"], r["decoder_layer"]) for r in rows] == [(0.0, 0, 0), (0.5, 1, 2), (1.0, 2, 4)]
    assert rows[0]["lift_diff"] == pytest.approx(0.1, abs=1e-9)  # same noise seed: the paired difference is exact
    assert rows[0]["lift_diff_se"] < rows[0]["encoder_lift_se"]
