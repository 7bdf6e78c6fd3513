"""Which runs of a task may be compared across models, and what to say where they may not.

Equal settings do not always make numbers compare: a family says what else its numbers depend on
(:meth:`~mi_tasks.metrics.family.MetricFamily.comparability`; recoverability's token targets are
each model's own tokens). Reports, figures, cards and leaderboard rows flag a task whose runs
differ in it, and print the family's reason and fix.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..errors import MiTasksError
from ..metrics.family import Comparability
from .results import Results, TaskCurves

log = logging.getLogger(__name__)


def comparability_of(t: TaskCurves) -> Comparability | None:
    """What ``t``'s numbers depend on beyond its settings, as the first of its families that says so states it."""
    return next((c for fam in t.families() if (c := fam.comparability(t.settings, t.meta)) is not None), None)


@dataclass
class Clash:
    """A task whose runs' numbers do not compare (their families' comparability keys differ)."""

    task: str
    runs: list[str]
    message: str


def find_clashes(results: Results) -> list[Clash]:
    """Tasks whose runs differ in what their numbers depend on; every run of such a task is flagged."""
    out = []
    for task in results.task_names():
        runs = [(t, c) for t in results.tasks if t.task == task and (c := comparability_of(t)) is not None]
        if len({c.key for _, c in runs}) < 2:
            continue
        first = runs[0][1]
        which = ", ".join(f"{t.run.label} ({c.label})" for t, c in runs)
        out.append(Clash(task=task, runs=[t.run.label for t, _ in runs],
                         message=f"{task}: {which}: {first.why}; {first.fix}"))
    return out


def comparable(results: Results, t: TaskCurves, found: list[Clash] | None = None) -> bool | None:
    """Whether ``t``'s numbers compare with the other runs of its task (None: its families state no condition)."""
    if comparability_of(t) is None:
        return None
    found = find_clashes(results) if found is None else found
    return not any(c.task == t.task and t.run.label in c.runs for c in found)


def check_comparable(results: Results, strict: bool = False) -> list[Clash]:
    """Log each clash once; with ``strict`` refuse them (one-line error naming the fix)."""
    found = find_clashes(results)
    if strict and found:
        raise MiTasksError(f"results not comparable across models: {found[0].message}")
    for c in found:
        log.warning("%s", c.message)
    return found


def vacuous_at(t: TaskCurves, metric: str, layer: int | None) -> bool:
    """Whether ``metric``'s value at ``layer`` is vacuous (a Fano bound at most 0: 0 by the clamp, not measured)."""
    return t.caveat_at(metric, layer) == "vacuous"


def comparability_columns(t: TaskCurves) -> dict[str, Any]:
    """The fields that record what ``t``'s numbers depend on, for leaderboard rows and card args."""
    c = comparability_of(t)
    return dict(c.columns) if c is not None else {}
