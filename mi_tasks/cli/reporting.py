"""``mi-tasks report`` and ``mi-tasks card`` on the command line."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import MiTasksError
from .options import add_label_option, label_map


def add_subparser(sub: Any) -> None:
    """Register the three commands on the ``mi-tasks`` parser."""
    r = sub.add_parser("report", help="figures, tables and leaderboard rows from lm-eval results JSONs (and MTEB sweeps)")
    r.add_argument("results", nargs="+", help="results_*.json files or folders (searched recursively)")
    r.add_argument("--out", required=True, help="folder for figures/, *.md, *.csv, leaderboard.*")
    r.add_argument("--overview", default=None, help="comma-separated metrics for overview.png (default: recall_at_k,"
                                                    "fano_mi_bits,ba_mi_bits + one per other task)")
    r.add_argument("--no-figures", action="store_true", help="tables only")
    r.add_argument("--strict", action="store_true",
                   help="refuse runs whose numbers do not compare (token targets of different tokenizers, or another "
                        "family's condition) (default: flag them)")
    add_label_option(r)
    r.set_defaults(func=run)

    c = sub.add_parser("card", help="model-index YAML for a Hugging Face model card, and leaderboard rows")
    c.add_argument("results", nargs="+", help="results_*.json files or folders")
    c.add_argument("--model", default=None, help="which model's run when the results hold several (label or path)")
    c.add_argument("--name", default=None, help="model name in model-index (default: the label, or the card's own)")
    c.add_argument("--update", default=None, metavar="README.md",
                   help="rewrite this card's model-index in place (other header keys and the body stay as they are)")
    c.add_argument("--leaderboard", default=None, metavar="DIR", help="also write leaderboard.json/.csv (all runs) here")
    add_label_option(c)
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Dispatch on ``args.command``; errors are MiTasksError (printed by ``mi-tasks`` without a trace)."""
    if args.command == "report":
        from ..reporting.report import write_report

        overview = [m.strip() for m in args.overview.split(",") if m.strip()] if args.overview else None
        rep = write_report(args.results, args.out, labels=label_map(args.label), overview=overview,
                           figures=not args.no_figures, strict=args.strict)
        print(rep.headline)
        if rep.layer_choice:
            print(rep.layer_choice)
        print(f"\nreport: {rep.markdown}" + (f"\nfigure: {rep.figures.overview}" if rep.figures.overview else ""))
        return 0
    if args.command == "card":
        from ..reporting.card import leaderboard_rows, model_index_yaml, update_card, write_leaderboard
        from ..reporting.results import load_results

        res = load_results(args.results, labels=label_map(args.label))
        if args.update:
            update_card(args.update, res, model=args.model, name=args.name)
            print(f"updated model-index in {args.update}", file=sys.stderr)
        else:
            sys.stdout.write(model_index_yaml(res, model=args.model, name=args.name))
        if args.leaderboard:
            j, c = write_leaderboard(leaderboard_rows(res), args.leaderboard)
            print(f"leaderboard rows: {j}, {c}", file=sys.stderr)
        return 0
    raise MiTasksError(f"unknown command {args.command!r}")
