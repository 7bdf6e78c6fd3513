"""``mi-tasks leaderboard add`` (check and merge submissions into a board) and ``mi-tasks leaderboard build`` (its page)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import MiTasksError
from .options import add_label_option, label_map


def add_subparser(sub: Any) -> None:
    """Register ``leaderboard`` with its ``add`` and ``build`` actions."""
    lb = sub.add_parser("leaderboard", help="merge checked results into a leaderboard, and build its static page")
    actions = lb.add_subparsers(dest="action", required=True)
    a = actions.add_parser("add", help="check results files and merge them into the board (one line per file)",
                           description="Each file is one submission, taken whole or refused with one line saying why. "
                                       "A submission replaces the board's rows of the same model and task only.")
    a.add_argument("results", nargs="+", help="lm-eval results_*.json (or folders), MTEB results, leaderboard.json")
    a.add_argument("--board", required=True, metavar="DIR", help="board folder (board.json; made if missing)")
    add_label_option(a)
    a.set_defaults(func=run)
    b = actions.add_parser("build", help="write the board's static page (index.html, assets, CSV/JSON downloads)")
    b.add_argument("--board", required=True, metavar="DIR", help="board folder written by `leaderboard add`")
    b.add_argument("--out", required=True, metavar="SITE",
                   help="folder for the page (open SITE/index.html): new, empty, or written by an earlier build")
    b.add_argument("--force", action="store_true", help="write the page into a non-empty --out folder that "
                                                        "`leaderboard build` did not write (its files are overwritten)")
    b.set_defaults(func=run)


def _submissions(paths: list[str]) -> list[Path]:
    from ..reporting.results import find_files

    out: list[Path] = []
    for p in paths:
        out.extend([Path(p)] if Path(p).is_file() else find_files([p]))
    return list(dict.fromkeys(out))


def run(args: argparse.Namespace) -> int:
    """``add``: 0 when every file went in, 1 when some were refused (each named on stderr); ``build``: 0.

    ``add`` reads and checks every submitted file first, then merges them under the board's lock
    (read, merge, write), so concurrent adds each keep their submissions.
    """
    from ..reporting.leaderboard.page import build_site
    from ..reporting.leaderboard.rows import rows_from_file
    from ..reporting.leaderboard.store import Board, locked

    if args.action == "build":
        index = build_site(args.board, args.out, force=args.force)
        print(f"leaderboard page: {index}")
        return 0
    labels = label_map(args.label)
    submissions: list[tuple[Path, list[Any]]] = []
    refused = added = 0
    for path in _submissions(args.results):
        try:
            submissions.append((path, rows_from_file(path, labels=labels)))
        except MiTasksError as e:
            print(f"refused {path}: {e}", file=sys.stderr)
            refused += 1
    with locked(args.board):
        board = Board.open(args.board, create=True)
        for path, rows in submissions:
            outcome = board.add(rows, str(path))
            refused += outcome.refused is not None
            added += outcome.refused is None
            print(outcome.line(), file=sys.stderr if outcome.refused else sys.stdout)
        if added:
            print(f"board: {board.save()} ({len(board.rows)} rows)")
        else:
            print(f"board unchanged: nothing added to {board.path}")
    return 1 if refused else 0
