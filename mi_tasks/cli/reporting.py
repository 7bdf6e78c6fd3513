"""``mi-tasks report``, ``mi-tasks card`` and ``mi-tasks suite`` (the main job) on the command line."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import MiTasksError
from .options import corpus_options
from ..harness.settings import TaskSettings
from ..metrics.recoverability.words import TARGETS
from ..states.pooling import POOLINGS

COMMANDS = ("report", "card", "suite")


def _labels(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise MiTasksError(f"--label {item!r}: write MODEL=NAME (MODEL as in the results: its path or folder name)")
        k, v = item.split("=", 1)
        out[k] = v
    return out


def _add_label(p: argparse.ArgumentParser) -> None:
    p.add_argument("--label", action="append", default=None, metavar="MODEL=NAME",
                   help="display name for a model (its path or folder name as in the results); repeatable")


def add_subparser(sub: Any) -> None:
    """Register the three commands on the ``mi-tasks`` parser."""
    r = sub.add_parser("report", help="figures, tables and leaderboard rows from lm-eval results JSONs (and MTEB sweeps)")
    r.add_argument("results", nargs="+", help="results_*.json files or folders (searched recursively)")
    r.add_argument("--out", required=True, help="folder for figures/, *.md, *.csv, leaderboard.*")
    r.add_argument("--overview", default=None, help="comma-separated metrics for overview.png (default: recall_at_k,"
                                                    "fano_mi_bits,ba_mi_bits + one per other task)")
    r.add_argument("--no-figures", action="store_true", help="tables only")
    r.add_argument("--strict", action="store_true",
                   help="refuse to compare token-target results of different tokenizers (default: flag them)")
    _add_label(r)
    r.set_defaults(func=run)

    c = sub.add_parser("card", help="model-index YAML for a Hugging Face model card, and leaderboard rows")
    c.add_argument("results", nargs="+", help="results_*.json files or folders")
    c.add_argument("--model", default=None, help="which model's run when the results hold several (label or path)")
    c.add_argument("--name", default=None, help="model name in model-index (default: the label, or the card's own)")
    c.add_argument("--update", default=None, metavar="README.md",
                   help="rewrite this card's model-index in place (other header keys and the body stay as they are)")
    c.add_argument("--leaderboard", default=None, metavar="DIR", help="also write leaderboard.json/.csv (all runs) here")
    _add_label(c)
    c.set_defaults(func=run)

    s = sub.add_parser("suite", help="main job: run the MI suite through lm_eval on models, then write the report",
                       description="Runs `lm_eval --model hf ... --tasks TASKS` once per model (progress streams), "
                                   "prints the headline table and writes figures, tables and leaderboard rows.")
    s.add_argument("--model", action="append", default=None,
                   help="alias (minilm, smollm2), model folder or hub id, optionally 'PATH,gguf_file=F,...'; "
                        "repeatable (default: minilm and smollm2)")
    s.add_argument("--tasks", default="mi_suite", help="lm-eval tasks or groups, comma-separated (default mi_suite)")
    corpus_options(s, "train", "bbcnews:train", 500)
    corpus_options(s, "eval", "bbcnews:test", 200)
    d = TaskSettings()  # the task settings' defaults (what the task YAMLs hold), for the help texts
    s.add_argument("--n-windows", type=int, default=512,
                   help=f"IE windows (default 512: the 200 BBC News eval texts yield 714; the task YAML's is {d.n_windows})")
    s.add_argument("--mi-steps", type=int, default=None,
                   help=f"critic steps of a neural IE estimator (default: the task YAML's, {d.mi_steps}; unused by gaussian)")
    s.add_argument("--layers", default=None, help=f"all | 0,6,-1 | 0:1:0.25 (default: the task YAML's, {d.layers})")
    s.add_argument("--pooling", default=None, choices=POOLINGS, help=f"default: the task YAML's ({d.pooling})")
    s.add_argument("--seed", type=int, default=None, help=f"default: the task YAML's ({d.seed})")
    s.add_argument("--targets", default="words", choices=TARGETS,
                   help="recoverability targets: words (default: the same for every model, so the report and cards "
                        "compare models) or tokens (each model's own, the paper's)")
    s.add_argument("--metadata", default=None, help="more task settings as JSON, merged last (see task_configs/)")
    s.add_argument("--dtype", default="bfloat16", help="model dtype passed in --model_args (default bfloat16)")
    s.add_argument("--device", default="cpu")
    s.add_argument("--batch-size", default="32")
    s.add_argument("--limit", type=int, default=None, help="lm_eval --limit (eval texts per task)")
    s.add_argument("--out", default="mi-report", help="report folder; lm-eval's JSONs go to OUT/lm_eval/")
    s.add_argument("--quiet", action="store_true", help="no progress output from lm_eval")
    s.set_defaults(func=run)


def _suite_metadata(args: argparse.Namespace) -> dict[str, Any]:
    md: dict[str, Any] = {"train_corpus": args.train_corpus, "eval_corpus": args.eval_corpus}
    opt = {"train_text_field": args.train_field, "train_template": args.train_template,
           "eval_text_field": args.eval_field, "eval_template": args.eval_template, "train_limit": args.train_limit,
           "eval_limit": args.eval_limit, "layers": args.layers, "pooling": args.pooling, "seed": args.seed,
           "n_windows": args.n_windows, "mi_steps": args.mi_steps}
    md.update({k: v for k, v in opt.items() if v is not None})
    if args.metadata:
        try:
            extra = json.loads(args.metadata)
        except json.JSONDecodeError as e:
            raise MiTasksError(f"--metadata is not JSON ({e}); e.g. --metadata '{{\"max_text_length\": 64}}'") from None
        if not isinstance(extra, dict):
            raise MiTasksError("--metadata must be a JSON object")
        md.update(extra)
    return md


def run(args: argparse.Namespace) -> int:
    """Dispatch on ``args.command``; errors are MiTasksError (printed by ``mi-tasks`` without a trace)."""
    if args.command == "report":
        from ..reporting.report import write_report

        overview = [m.strip() for m in args.overview.split(",") if m.strip()] if args.overview else None
        rep = write_report(args.results, args.out, labels=_labels(args.label), overview=overview,
                           figures=not args.no_figures, strict=args.strict)
        print(rep.headline)
        print(f"\nreport: {rep.markdown}" + (f"\nfigure: {rep.figures.overview}" if rep.figures.overview else ""))
        return 0
    if args.command == "card":
        from ..reporting.card import leaderboard_rows, model_index_yaml, update_card, write_leaderboard
        from ..reporting.results import load_results

        res = load_results(args.results, labels=_labels(args.label))
        if args.update:
            update_card(args.update, res, model=args.model, name=args.name)
            print(f"updated model-index in {args.update}", file=sys.stderr)
        else:
            sys.stdout.write(model_index_yaml(res, model=args.model, name=args.name))
        if args.leaderboard:
            j, c = write_leaderboard(leaderboard_rows(res), args.leaderboard)
            print(f"leaderboard rows: {j}, {c}", file=sys.stderr)
        return 0
    if args.command == "suite":
        from ..reporting.main_job import DEFAULT_MODELS, SuiteConfig, run_suite

        cfg = SuiteConfig(models=args.model or list(DEFAULT_MODELS), tasks=args.tasks, metadata=_suite_metadata(args),
                          targets=args.targets,
                          out_dir=Path(args.out), device=args.device, dtype=args.dtype, batch_size=args.batch_size,
                          limit=args.limit, quiet=args.quiet)
        rep = run_suite(cfg)
        print(rep.headline)
        print(f"\nreport: {rep.markdown}\nfigure: {rep.figures.overview}")
        return 0
    raise MiTasksError(f"unknown command {args.command!r}")
