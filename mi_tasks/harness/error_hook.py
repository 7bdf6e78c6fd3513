"""In the ``lm_eval`` command, a :class:`~mi_tasks.errors.MiTasksError` ends the run as one line, exit code 2.

Patch 6 of ``lm_eval_compat``; its own module because both the patches and ``--model hf-mi`` install it.
"""
from __future__ import annotations

import os
import sys
from typing import Any

PATCHED = "_mi_tasks_patched"
"""Attribute set on everything mi-tasks wraps, so that no patch is applied twice."""


def _in_lm_eval_command() -> bool:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and getattr(spec, "name", "").startswith("lm_eval"):
        return True
    return os.path.basename(sys.argv[0] if sys.argv else "") in ("lm_eval", "lm-eval")


def install_error_hook() -> None:
    """In the ``lm_eval`` command, end a run that hits a MiTasksError with its one line and exit code 2."""
    if not _in_lm_eval_command() or getattr(sys.excepthook, PATCHED, False):
        return
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
        from ..errors import mi_error_in, print_error

        ours = mi_error_in(exc)
        if ours is None:
            return previous(kind, exc, tb)
        import logging  # here, not at start-up: this module is imported in every Python process

        if logging.getLogger("lm_eval").isEnabledFor(logging.DEBUG):
            previous(kind, exc, tb)
        print_error(ours)
        import atexit

        sys.stdout.flush()
        sys.stderr.flush()
        atexit._run_exitfuncs()  # what a normal exit runs, before leaving with the documented status
        os._exit(2)

    setattr(hook, PATCHED, True)
    sys.excepthook = hook
