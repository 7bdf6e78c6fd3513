"""Command-line options made from the settings families: one name, default, range and meaning per setting.

``--train-limit`` is the setting ``train_limit``, with the help text, range and default its
family declares; values are checked by the family (the same one-line errors as a task YAML's),
so no subcommand defines or checks a setting of its own.
"""
from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

from ..config import Settings
from ..errors import MiTasksError
from ..settings import TaskSettings, settings_groups


def option_name(setting: str) -> str:
    return "--" + setting.replace("_", "-")


def add_settings(p: argparse.ArgumentParser, families: Iterable[str | type[Settings]],
                 defaults: Mapping[str, Any] | None = None, skip: Iterable[str] = (),
                 only: Iterable[str] | None = None) -> None:
    """One option per setting of the named groups (keys of :func:`mi_tasks.settings.settings_groups`) or
    settings classes of a command's own (enhancement's training settings).

    ``defaults`` replace a setting's default for this command (shown in the help); unset options
    stay None, meaning "the command's default"; ``skip``/``only`` leave settings out or keep just those.
    """
    defaults, skip, only = dict(defaults or {}), set(skip), None if only is None else set(only)
    groups = settings_groups()
    for name in families:
        fam: type[Settings] = groups[name] if isinstance(name, str) else name
        group = p.add_argument_group(f"{name if isinstance(name, str) else fam.__name__} settings")
        for flat, (f, spec) in fam.specs().items():
            if flat in skip or (only is not None and flat not in only):
                continue
            shown = defaults.get(flat, f.default)
            group.add_argument(option_name(flat), dest=flat, default=None, metavar=flat.split("_")[-1].upper(),
                               help=f"{spec.what} [{spec.range_text()}] (default: {shown})")
    p.set_defaults(_setting_defaults={**(p.get_default("_setting_defaults") or {}), **defaults})


def settings_from(args: argparse.Namespace, command: str) -> TaskSettings:
    """The task settings the options give (the command's defaults where unset), checked by their families."""
    known = TaskSettings.known()
    given = {k: v for k, v in vars(args).items() if k in known and v is not None}
    for k, v in given.items():  # each option alone first, so a bad value's message names its option
        TaskSettings.given(None, f" (mi-tasks {command} {option_name(k)})", **{k: v})
    return TaskSettings.given(None, f" (mi-tasks {command})", **{**getattr(args, "_setting_defaults", {}), **given})


def label_map(items: list[str] | None) -> dict[str, str]:
    """``--label MODEL=NAME`` values as {model: display name}."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise MiTasksError(f"--label {item!r}: write MODEL=NAME (MODEL as in the results: its path or folder name)")
        k, v = item.split("=", 1)
        out[k] = v
    return out


def add_label_option(p: argparse.ArgumentParser) -> None:
    """``--label MODEL=NAME``: the reading commands' display names (report, card, leaderboard add)."""
    p.add_argument("--label", action="append", default=None, metavar="MODEL=NAME",
                   help="display name for a model (its path or folder name as in the results); repeatable")
