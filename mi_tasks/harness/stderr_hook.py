"""Attach mi-tasks' own standard-error functions to corpus-level aggregations.

lm-eval asks ``stderr_for_metric(aggregation, bootstrap_iters)`` for a standard-error function and
knows only its own aggregations. An mi-tasks aggregation carries its error function as the
attribute ``mi_stderr``; ``lm_eval_compat.install_stderr_hook`` makes lm-eval use it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

ATTR = "mi_stderr"


def with_stderr(aggregation: Callable[[list[Any]], float],
                stderr: Callable[[list[Any]], float] | None) -> Callable[[list[Any]], float]:
    """``aggregation`` with its standard-error function attached (None leaves lm-eval's N/A)."""
    if stderr is not None:
        setattr(aggregation, ATTR, stderr)
    return aggregation
