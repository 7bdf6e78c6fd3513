"""Let lm-eval print mi-tasks' own standard errors for corpus-level metrics instead of ``N/A``.

lm-eval asks ``stderr_for_metric(aggregation, bootstrap_iters)`` for a standard-error function and
knows only its own aggregations (``mean`` in closed form, a fixed list by bootstrap). An mi-tasks
aggregation may carry its error function as the attribute ``mi_stderr``; the hook returns it, and
defers to lm-eval for everything else. ``--bootstrap_iters 0`` still means no standard errors.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

_ATTR = "mi_stderr"


def with_stderr(aggregation: Callable[[list[Any]], float],
                stderr: Callable[[list[Any]], float] | None) -> Callable[[list[Any]], float]:
    """``aggregation`` with its standard-error function attached (None leaves lm-eval's N/A)."""
    if stderr is not None:
        setattr(aggregation, _ATTR, stderr)
    return aggregation


def install_stderr_hook() -> None:
    """Wrap lm-eval's ``stderr_for_metric`` once so attached error functions are used."""
    from lm_eval import evaluator_utils

    original = evaluator_utils.stderr_for_metric
    if getattr(original, "_mi_tasks_hook", False):
        return

    def stderr_for_metric(metric: Callable[..., float], bootstrap_iters: int) -> Callable[..., float] | None:
        own = getattr(metric, _ATTR, None)
        if own is not None:
            return own if isinstance(bootstrap_iters, int) and bootstrap_iters > 0 else None
        return original(metric=metric, bootstrap_iters=bootstrap_iters)

    stderr_for_metric._mi_tasks_hook = True  # type: ignore[attr-defined]
    evaluator_utils.stderr_for_metric = stderr_for_metric
