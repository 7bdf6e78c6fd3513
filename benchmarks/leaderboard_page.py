"""Leaderboard page: a 1,000-model board in headless Chromium, click (or keystroke) to the next frame.

Baseline: a click on the page's title, which does nothing, measured the same way in the same page (the
frame's own wait). Reports the time to ready after navigation, medians of sorts and searches, and the
site's size. Needs Debian's ``chromium`` and Playwright's Python package (as the page tests).

    python benchmarks/leaderboard_page.py --sorts 20 --searches 8
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mi_tasks.reporting.leaderboard.page import build_site  # noqa: E402
from mi_tasks.reporting.leaderboard.store import Board  # noqa: E402
from tests.browser import chromium, open_page  # noqa: E402
from tests.reporting.test_leaderboard_page import _to_next_frame, thousand_model_rows  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--sorts", type=int, default=20)
    ap.add_argument("--searches", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        Board(d / "board", thousand_model_rows(d, n=args.models)).save()
        index = build_site(d / "board", d / "site")
        size = sum(p.stat().st_size for p in index.parent.rglob("*") if p.is_file())
        with chromium(shutil.which("chromium")) as browser:
            page, problems = open_page(browser, index, width=1400)
            ready = page.evaluate("window.MI_BOARD_TIMINGS.ready_ms")
            ncols = page.evaluate("MI_BOARD.columns.length")
            idle, sorts, searches = [], [], []
            for k in range(args.sorts):
                idle.append(_to_next_frame(page, lambda: page.click("h1")))
                col = (k * 7) % ncols
                sorts.append(_to_next_frame(page, lambda c=col: page.click(f'th.sortable[data-col="{c}"] button')))
            for k in range(args.searches):
                q = ("model-05", "", "model-0|model-9", "")[k % 4]
                searches.append(_to_next_frame(page, lambda q=q: page.fill("#filter", q), "input"))
            assert problems == [], problems
    med = statistics.median
    print(f"{args.models} models x {ncols} columns, site {size / 1e6:.1f} MB; ready {ready:.0f} ms after navigation")
    print(f"click doing nothing (baseline): median {med(idle):.0f} ms")
    print(f"sort, click to next frame: median {med(sorts):.0f} ms ({min(sorts):.0f}-{max(sorts):.0f}) = "
          f"{med(sorts) / med(idle):.1f}x baseline")
    print(f"search, input to next frame: median {med(searches):.0f} ms ({min(searches):.0f}-{max(searches):.0f}) = "
          f"{med(searches) / med(idle):.1f}x baseline")


if __name__ == "__main__":
    main()
