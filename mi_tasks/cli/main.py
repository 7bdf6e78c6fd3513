"""``mi-tasks`` command line: one subcommand a module, each offering ``add_subparser`` and ``run``."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .. import __version__
from ..errors import MiTasksError, print_error, translate_errors

# Each module offers ``add_subparser(subparsers) -> None`` (setting ``func=run``) and ``run(args) -> int``.
# The family commands come last: a family whose name a command has is left without one (saying so).
COMMAND_MODULES: tuple[str, ...] = ("mi_tasks.cli.suite", "mi_tasks.cli.reporting", "mi_tasks.cli.enhance",
                                    "mi_tasks.cli.leaderboard", "mi_tasks.cli.families")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mi-tasks", description="Layer-wise information metrics of language models.")
    p.add_argument("--version", action="version", version=__version__)
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_subparser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        with translate_errors(f"mi-tasks {args.command} stopped", f"check the inputs it names (mi-tasks {args.command} --help)"):
            return int(args.func(args) or 0)
    except MiTasksError as e:
        print_error(e)
        return 2


if __name__ == "__main__":
    sys.exit(main())
