"""Make ``lm_eval --tasks mi_*`` find mi-tasks' task YAMLs after a plain ``pip install``.

lm-eval 0.4.x has no plug-in entry point for external tasks. ``mi_tasks_lmeval.pth`` imports
this module at interpreter start-up; all it does then is add an import watcher (no lm_eval,
torch or mi_tasks import, so start-up costs nothing measurable). Only when ``lm_eval.tasks.manager``
is imported does it wrap ``TaskManager.__init__`` to append mi-tasks' task folder to
``include_path``. Any failure leaves lm-eval untouched (``--include_path`` still works).
Switch it off with ``MI_TASKS_LMEVAL_AUTOLOAD=0``.
"""
from __future__ import annotations

import importlib.util
import os
import sys

TARGET = "lm_eval.tasks.manager"


def task_dir() -> str | None:
    """Folder of the installed task YAMLs (also the future ``lm_eval.tasks`` entry point)."""
    spec = importlib.util.find_spec("mi_tasks")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = list(spec.submodule_search_locations)[0]
    for path in (os.path.join(package, "task_configs"), os.path.join(os.path.dirname(package), "task_configs")):
        if os.path.isfile(os.path.join(path, "mi_recoverability.yaml")):  # installed, or a source checkout
            return os.path.abspath(path)
    return None


def _patch(module) -> None:
    import functools
    import inspect

    manager = getattr(module, "TaskManager", None)
    if manager is None or getattr(manager, "_mi_tasks_patched", False):
        return
    original = manager.__init__
    signature = inspect.signature(original)
    if "include_path" not in signature.parameters:
        return

    @functools.wraps(original)
    def __init__(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
            ours = task_dir()
            current = bound.arguments.get("include_path")
            paths = [] if current is None else list(current) if isinstance(current, (list, tuple)) else [current]
            if ours and all(os.path.abspath(str(p)) != ours for p in paths):
                bound.arguments["include_path"] = paths + [ours]
            args, kwargs = bound.args, bound.kwargs
        except Exception:
            pass
        original(*args, **kwargs)

    manager.__init__ = __init__
    manager._mi_tasks_patched = True


class _Watcher:
    """Meta-path finder that patches lm-eval's TaskManager right after its module is executed."""

    def find_spec(self, name, path=None, target=None):
        if name != TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                original_exec = spec.loader.exec_module

                def exec_module(module, _orig=original_exec):
                    _orig(module)
                    try:
                        _patch(module)
                    except Exception:
                        pass

                spec.loader.exec_module = exec_module
                return spec
        return None


def install() -> None:
    if os.environ.get("MI_TASKS_LMEVAL_AUTOLOAD", "1").strip().lower() in ("0", "false", "no", "off"):
        return
    if TARGET in sys.modules:
        _patch(sys.modules[TARGET])
    elif not any(isinstance(f, _Watcher) for f in sys.meta_path):
        sys.meta_path.insert(0, _Watcher())


try:
    install()
except Exception:
    pass
