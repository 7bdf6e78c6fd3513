"""Every change mi-tasks makes to lm-eval, and every lm-eval version difference it bridges, in one place.

lm-eval 0.4.9-0.4.13 have no plug-in entry points for tasks or models (lm-eval's main branch reads
an ``lm_eval.models`` group, which ``pyproject.toml`` declares for when it ships). What mi-tasks
changes, and why:

1. ``TaskManager.__init__`` gets mi-tasks' task folder appended to ``include_path``, so
   ``lm_eval --tasks mi_recoverability`` finds the tasks after a plain install; not where
   ``include_defaults=False`` comes with an ``include_path`` (that asks for those paths only). With
   ``MI_TASKS_LMEVAL_ONLY=1`` it indexes mi-tasks' folder and ``--include_path`` only. The class lives in
   ``lm_eval.tasks`` (0.4.9) or ``lm_eval.tasks.manager`` (0.4.10 on); both are watched. Its
   loaders (``load``, ``load_task_or_group``) note the manager's ``metadata`` while they build
   tasks, because 0.4.9 does not hand ``--metadata`` to Python task classes (it does to YAML ones).
2. The model name ``hf-mi`` (:data:`MODEL_NAME`) is registered when ``lm_eval.models`` is imported:
   a lazy placeholder in 0.4.10+'s registry, the class itself in 0.4.9's dict.
3. ``LM.mi_hidden_states`` is added to lm-eval's ``LM`` base class so the stock ``--model hf``
   (and its subclasses) answer mi-tasks requests; ``hf-mi`` defines the method itself.
4. ``evaluator_utils.stderr_for_metric`` returns the standard-error function an mi-tasks
   aggregation carries (``mi_stderr``), deferring to lm-eval for every other metric.
5. ``HFLM._get_backend``: an encoder without a causal-LM class (DistilBERT, MPNet, DeBERTa, ...)
   loaded with ``--model hf`` stops with a one-line error naming ``--model hf-mi`` instead of a
   stack trace from transformers' auto classes.
6. An uncaught :class:`~mi_tasks.errors.MiTasksError` in the ``lm_eval`` command ends the run with
   its one-line message and exit code 2 (lm-eval's ``--verbosity DEBUG`` keeps the traceback). The
   hook itself is in ``error_hook.py``, which ``lm_model.py`` uses too (so neither imports the other).

Patches 1, 2 and 5 are applied by an import watcher that ``mi_tasks_lmeval.pth`` installs at
start-up (it imports nothing heavy); 3, 4 and 6 when mi-tasks' task classes are imported. A patch
that cannot apply (an lm-eval that moved something) logs one warning naming the fallback
(``--include_path``) instead of failing silently. ``MI_TASKS_LMEVAL_AUTOLOAD=0`` turns the watcher off.
"""
from __future__ import annotations

import contextvars
import functools
import os
import sys
from collections.abc import Callable
from typing import Any

from .error_hook import PATCHED as _FLAG
from .error_hook import install_error_hook

MODEL_NAME = "hf-mi"
# Set to 1, lm-eval indexes mi-tasks' task YAMLs (and --include_path's) only, not its own ~14,700: a run of
# mi-tasks' tasks starts ~15-25 s sooner on 2 CPU cores. `mi-tasks suite` sets it when it runs only those.
ONLY_OURS_ENV = "MI_TASKS_LMEVAL_ONLY"
MODEL_TARGET = "mi_tasks.harness.lm_model:HiddenStateLM"
REQUEST_TYPE = "mi_hidden_states"
_warned: set[str] = set()


def task_dir() -> str | None:
    """Folder of the installed task YAMLs (``mi_tasks/task_configs``), or ``task_configs/`` of a checkout."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # this module is inside mi_tasks/
    for path in (os.path.join(package, "task_configs"), os.path.join(os.path.dirname(package), "task_configs")):
        if os.path.isfile(os.path.join(path, "mi_recoverability.yaml")):
            return os.path.abspath(path)
    return None


def _warn_once(what: str, err: BaseException) -> None:
    if what in _warned:
        return
    _warned.add(what)
    folder = task_dir() or "<site-packages>/mi_tasks/task_configs"
    print(f"mi-tasks: could not {what} in this lm-eval ({type(err).__name__}: {err}); "
          f"pass --include_path {folder} (and --model hf) instead", file=sys.stderr)


# ---------------------------------------------------------------- 1. task discovery
def patch_task_manager(module: Any) -> None:
    """Append mi-tasks' task folder to every ``TaskManager``'s ``include_path``."""
    import inspect

    manager = getattr(module, "TaskManager", None)
    if manager is None or manager.__module__ != module.__name__ or getattr(manager, _FLAG, False):
        return  # re-exported from another module: patched there
    original = manager.__init__
    signature = inspect.signature(original)
    if "include_path" not in signature.parameters:
        raise TypeError("TaskManager.__init__ has no include_path parameter")

    @functools.wraps(original)
    def __init__(*args: Any, **kwargs: Any) -> None:
        bound = signature.bind(*args, **kwargs)
        ours = task_dir()
        current = bound.arguments.get("include_path")
        paths = [] if current is None else list(current) if isinstance(current, (list, tuple)) else [current]
        only_given = bound.arguments.get("include_defaults", True) is False and paths  # "only my paths"
        if ours and not only_given and all(os.path.abspath(str(p)) != ours for p in paths):
            bound.arguments["include_path"] = paths + [ours]
        if os.environ.get(ONLY_OURS_ENV) == "1" and "include_defaults" in signature.parameters:
            bound.arguments["include_defaults"] = False  # index mi-tasks' YAMLs and --include_path's only
        original(*bound.args, **bound.kwargs)

    manager.__init__ = __init__
    for name in ("load", "load_task_or_group"):
        _note_metadata_while(manager, name)
    setattr(manager, _FLAG, True)


_loading_metadata: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "mi_tasks_task_manager_metadata", default=None)


def _note_metadata_while(manager: type, name: str) -> None:
    original = getattr(manager, name, None)
    if original is None:
        return

    @functools.wraps(original)
    def load(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = _loading_metadata.set(getattr(self, "metadata", None))
        try:
            return original(self, *args, **kwargs)
        finally:
            _loading_metadata.reset(token)

    setattr(manager, name, load)


def manager_metadata() -> dict[str, Any]:
    """``--metadata`` of the TaskManager now building tasks ({} outside a load)."""
    return dict(_loading_metadata.get() or {})


# ---------------------------------------------------------------- 2. the hf-mi model name
def register_model_name(_models_module: Any = None) -> None:
    """Register :data:`MODEL_NAME` in lm-eval's model registry (after ``lm_eval.models`` filled it)."""
    from lm_eval.api import registry

    reg = getattr(registry, "model_registry", None)
    if reg is not None and hasattr(reg, "register"):  # 0.4.10+: lazy, imported when asked for
        if MODEL_NAME not in reg:
            reg.register(MODEL_NAME, target=MODEL_TARGET)
        return
    table = registry.MODEL_REGISTRY  # 0.4.9: a dict filled by decorators
    if MODEL_NAME not in table:
        from .lm_model import HiddenStateLM

        table[MODEL_NAME] = HiddenStateLM


# ---------------------------------------------------------------- 5. encoders under --model hf
def guard_hf_encoders(module: Any) -> None:
    """Make ``--model hf`` on an encoder without a causal-LM class fail with one line that names hf-mi."""
    hflm = getattr(module, "HFLM", None)
    if hflm is None or getattr(hflm._get_backend, _FLAG, False):
        return
    original = hflm._get_backend

    @functools.wraps(original)
    def _get_backend(self: Any, config: Any, backend: str = "default", trust_remote_code: bool | None = False) -> None:
        original(self, config, backend=backend, trust_remote_code=trust_remote_code)
        if type(self).__module__.startswith("mi_tasks"):
            return
        from ..states.modeling import has_causal_lm_class

        if getattr(self, "backend", None) == "causal" and not has_causal_lm_class(config):
            from ..errors import MiTasksError

            install_error_hook()
            raise MiTasksError(
                f"{getattr(config, 'model_type', '?')} has no causal-LM class, so `--model hf` cannot load it; "
                f"run mi-tasks with `--model {MODEL_NAME}` (same --model_args), which reads any architecture's hidden states")

    setattr(_get_backend, _FLAG, True)
    hflm._get_backend = _get_backend


# ---------------------------------------------------------------- 3, 4, 6: applied with the task classes
def install_request_method(handler: Callable[[Any, list[Any]], list[Any]]) -> None:
    """Give lm-eval's ``LM`` base class the ``mi_hidden_states`` request method (idempotent)."""
    from lm_eval.api.model import LM

    if getattr(LM, REQUEST_TYPE, None) is None:
        from ..errors import translate_errors

        def answer(self: Any, requests: list[Any]) -> list[Any]:
            with translate_errors("mi-tasks could not score its corpora with this model",
                                  "check the task's settings (--metadata) and the model"):
                return handler(self, requests)

        setattr(LM, REQUEST_TYPE, answer)


def install_stderr_hook() -> None:
    """Let lm-eval print the standard error an mi-tasks aggregation carries (``stderr_hook.ATTR``; idempotent)."""
    from lm_eval import evaluator_utils

    from .stderr_hook import ATTR

    original = evaluator_utils.stderr_for_metric
    if getattr(original, _FLAG, False):
        return

    def stderr_for_metric(metric: Callable[..., float], bootstrap_iters: int) -> Callable[..., float] | None:
        own = getattr(metric, ATTR, None)
        if own is not None:
            return own if isinstance(bootstrap_iters, int) and bootstrap_iters > 0 else None
        return original(metric=metric, bootstrap_iters=bootstrap_iters)

    setattr(stderr_for_metric, _FLAG, True)
    evaluator_utils.stderr_for_metric = stderr_for_metric


def install_runtime_patches(handler: Callable[[Any, list[Any]], list[Any]]) -> None:
    """Patches 3, 4 and 6 (called when mi-tasks' task classes are imported)."""
    install_request_method(handler)
    install_stderr_hook()
    install_error_hook()


# ---------------------------------------------------------------- version differences
def task_config_class() -> type:
    """lm-eval's ``TaskConfig`` (``lm_eval.config.task`` from 0.4.10, ``lm_eval.api.task`` before)."""
    try:
        from lm_eval.config.task import TaskConfig
    except ImportError:
        from lm_eval.api.task import TaskConfig
    return TaskConfig


def load_tasks(task_manager: Any, names: list[str]) -> dict[str, Any]:
    """Task objects by name: ``TaskManager.load`` (0.4.10+) or the flattened ``get_task_dict`` (0.4.9)."""
    if hasattr(task_manager, "load"):
        return dict(task_manager.load(names)["tasks"])
    from lm_eval.tasks import get_task_dict

    out: dict[str, Any] = {}

    def walk(d: dict[Any, Any]) -> None:
        for key, value in d.items():
            if isinstance(value, dict):
                walk(value)
            elif value is not None and hasattr(value, "config"):
                out[value.config.task] = value

    walk(get_task_dict(names, task_manager))
    return out


# ---------------------------------------------------------------- the import watcher
WATCHED: dict[str, Callable[[Any], None]] = {
    "lm_eval.tasks": patch_task_manager,
    "lm_eval.tasks.manager": patch_task_manager,
    "lm_eval.models": register_model_name,
    "lm_eval.models.huggingface": guard_hf_encoders,
}
_WHAT = {patch_task_manager: "add mi-tasks' task folder to TaskManager",
         register_model_name: f"register the model name {MODEL_NAME}",
         guard_hf_encoders: "check encoders under --model hf"}


def _apply(name: str, module: Any) -> None:
    patch = WATCHED[name]
    try:
        patch(module)
    except Exception as err:  # an lm-eval that moved something: say so once, keep lm-eval working
        _warn_once(_WHAT[patch], err)


class _Watcher:
    """Meta-path finder that applies a patch right after a watched lm-eval module has executed."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in WATCHED:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                original_exec = spec.loader.exec_module

                def exec_module(module: Any, _orig: Callable[[Any], None] = original_exec) -> None:
                    _orig(module)
                    _apply(name, module)

                spec.loader.exec_module = exec_module
                return spec
        return None


def autoload_enabled() -> bool:
    return os.environ.get("MI_TASKS_LMEVAL_AUTOLOAD", "1").strip().lower() not in ("0", "false", "no", "off")


def install() -> None:
    """Patch lm-eval modules already imported and watch for the others (what the .pth file calls)."""
    if not autoload_enabled():
        return
    for name in WATCHED:
        if name in sys.modules:
            _apply(name, sys.modules[name])
    if not any(isinstance(f, _Watcher) for f in sys.meta_path):
        sys.meta_path.insert(0, _Watcher())
