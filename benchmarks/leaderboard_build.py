"""Leaderboard: merge N results files into a board and build its page, against reading the same files.

Baseline: ``json.loads`` of every results file (the least any reader does). Reports seconds and ratios
for ``leaderboard add`` (read, check, merge, atomic write) and ``leaderboard build`` (page, CSV, JSON).
Synthetic results files shaped like lm-eval's (tests/leaderboard_results.py); no model runs.

    python benchmarks/leaderboard_build.py --n 1000 --extra-tasks 8   # 21 columns, as a suite of many corpora
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mi_tasks.reporting.leaderboard.page import build_site  # noqa: E402
from mi_tasks.reporting.leaderboard.rows import rows_from_file  # noqa: E402
from mi_tasks.reporting.leaderboard.store import Board  # noqa: E402
from tests.leaderboard_results import results_json, write_results  # noqa: E402


def with_extra_tasks(data: dict, k: int) -> dict:
    """The results file with ``k`` more recoverability tasks (other corpora's, as ``mi_recoverability_<name>``)."""
    for j in range(k):
        name = f"mi_recoverability_extra{j}"
        data["results"][name] = {**data["results"]["mi_recoverability"], "alias": name}
        data["configs"][name] = {**copy.deepcopy(data["configs"]["mi_recoverability"]), "task": name}
        for key in ("group_subtasks", "versions", "n-shot"):
            data[key][name] = copy.deepcopy(data[key]["mi_recoverability"])
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="results files (one model each)")
    ap.add_argument("--layers", type=int, default=24, help="layers per model (curve length)")
    ap.add_argument("--extra-tasks", type=int, default=0, help="more recoverability tasks per file (2 columns each)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        files = [write_results(d / "runs", f"m{i:05d}", with_extra_tasks(results_json(
            f"org/model-{i:05d}", seed=i, top=0.2 + (i % 97) / 200, n_layers=args.layers), args.extra_tasks)) for i in range(args.n)]
        t = time.perf_counter()
        for f in files:
            json.loads(f.read_text(encoding="utf-8"))
        read = time.perf_counter() - t
        t = time.perf_counter()
        board = Board.open(d / "board", create=True)
        for f in files:
            outcome = board.add(rows_from_file(f), str(f))
            assert outcome.refused is None, outcome.line()
        board.save()
        add = time.perf_counter() - t
        t = time.perf_counter()
        index = build_site(d / "board", d / "site")
        build = time.perf_counter() - t
        size = sum(p.stat().st_size for p in index.parent.rglob("*") if p.is_file())
        print(f"{args.n} results files, {len(board.rows)} rows, {args.layers} layers each")
        print(f"baseline json.loads of every file: {read:.2f} s")
        print(f"leaderboard add (read, check, merge, write): {add:.2f} s = {add / read:.1f}x baseline")
        columns = len({(r["task"], r["metric"]) for r in board.rows})
        print(f"leaderboard build (table, one details file per model): {build:.2f} s = {build / read:.1f}x baseline; "
              f"site {size / 1e6:.1f} MB for {columns} columns")


if __name__ == "__main__":
    main()
