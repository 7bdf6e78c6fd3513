"""Command-line options more than one subcommand takes."""
from __future__ import annotations

import argparse


def corpus_options(p: argparse.ArgumentParser, role: str, default: str, limit: int | None) -> None:
    """``--{role}-corpus``, ``-field``, ``-template`` and ``-limit`` for the ``train`` or ``eval`` corpus."""
    p.add_argument(f"--{role}-corpus", default=default, help=f"{role} corpus: registered name (name:split) or file path")
    p.add_argument(f"--{role}-field", default=None, help=f"text field of a .jsonl/.csv/.tsv {role} file (default: text)")
    p.add_argument(f"--{role}-template", default=None, help="format string joining fields, e.g. '{title}. {content}'")
    p.add_argument(f"--{role}-limit", type=int, default=limit,
                   help=f"keep a seeded sample of this many texts (default: {limit or 'the whole corpus'})")
