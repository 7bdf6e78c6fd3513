"""Every printed ± against the spread over independent draws from a known generator (small draws; the full
table is benchmarks/error_calibration.py's, in docs/metrics.md)."""
from __future__ import annotations

import pytest

from tests.metrics.error_calibration import (calibrate, embedding_entropy_draw, entropy_draw, geometry_draw,
                                             recoverability_draw, table, views_draw)

DRAWS = 20


@pytest.mark.parametrize("family,draw", [("geometry", lambda: geometry_draw(80)), ("views", lambda: views_draw(60)),
                                         ("entropy", lambda: entropy_draw(80)),
                                         ("entropy (MTEB, N > D)", lambda: embedding_entropy_draw(120, 32)),
                                         ("entropy (MTEB, N < D)", lambda: embedding_entropy_draw(60, 96)),
                                         ("recoverability", lambda: recoverability_draw(150))])
def test_reported_errors_match_the_spread_over_draws(family, draw):
    rows = calibrate(family, draw(), DRAWS, "small")
    assert rows, "no metric was checked"
    bad = [r for r in rows if not 0.67 <= r.ratio <= 1.5]
    assert not bad, f"standard errors off (reported / observed outside [0.67, 1.5]):\n{table(bad)}"
