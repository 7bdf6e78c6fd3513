"""The metric families mi-tasks knows: one line each for the built-ins; a family outside the package plugs in.

Adding a built-in: its folder under ``metrics/`` (settings, computation, a :class:`MetricFamily`) and
one line in :data:`BUILTIN`; its task YAML names it (``family: <name>``). A family in a package of its
own is declared as an entry point of the group ``mi_tasks.families`` (``name = "module:Class"`` in its
``pyproject.toml``), so every entry point (lm-eval, the CLI, ``evaluate``, ``layer_sweep``) finds it
and its settings with nothing imported by hand; ``@register_family`` registers one in a running process.
"""
from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

from ..errors import MiTasksError
from .embedding import EmbeddingScorer
from .family import MetricFamily

BUILTIN: dict[str, str] = {
    "recoverability": "mi_tasks.metrics.recoverability.family:RecoverabilityFamily",
    "entropy": "mi_tasks.metrics.entropy.family:EntropyFamily",
    "emergence": "mi_tasks.metrics.emergence.family:EmergenceFamily",
    "geometry": "mi_tasks.metrics.geometry.family:GeometryFamily",
    "views": "mi_tasks.metrics.geometry.family:ViewsFamily",
}
ENTRY_POINT_GROUP = "mi_tasks.families"
_REGISTERED: dict[str, type[MetricFamily]] = {}
_PLUGINS_LOADED = False


def _load_plugins() -> None:
    """Register the families installed packages declare under :data:`ENTRY_POINT_GROUP` (once per process)."""
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as e:  # a broken plugin is named, never a traceback from inside its import
            raise MiTasksError(f"metric family plugin {ep.name!r} ({ep.value}) does not import: "
                               f"{type(e).__name__}: {e}; fix or uninstall the package that declares it") from None
        if _REGISTERED.get(getattr(cls, "name", None)) is not cls:
            problem = _registration_problem(cls, replace=False)
            if problem:
                raise MiTasksError(f"metric family plugin {ep.name!r} ({ep.value}): {problem}")
            _REGISTERED[cls.name] = cls


def _origin(cls: type) -> tuple[str, str]:
    """Where a class is defined: its source file and name. lm-eval executes a task YAML's module under a
    name of its own, so one family file imported by it and by an entry point is the same family."""
    try:
        where = str(Path(inspect.getfile(cls)).resolve())
    except (TypeError, OSError):
        where = cls.__module__
    return where, cls.__qualname__


def _registration_problem(cls: Any, replace: bool) -> str | None:
    """Why ``cls`` cannot be registered (one phrase and the fix), or None."""
    if not (isinstance(cls, type) and issubclass(cls, MetricFamily)):
        return (f"{cls!r} is not a MetricFamily: subclass mi_tasks.metrics.family.MetricFamily "
                "(name, compute and the metrics it reports)")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.strip():
        return f"{cls.__name__} has no name: set the class attribute name = \"my_family\" (its YAML's family:)"
    if getattr(cls, "__abstractmethods__", None):
        return (f"{cls.__name__} ({name}) has no {', '.join(sorted(cls.__abstractmethods__))}: define "
                "compute(self, inputs) returning a LayerResult")
    scorer = getattr(cls, "embedding_scorer", None)
    if scorer is not None and not (isinstance(scorer, type) and issubclass(scorer, EmbeddingScorer)
                                   and all(getattr(scorer, a, None) for a in ("task_name", "description", "headline"))):
        return (f"{cls.__name__} ({name}): embedding_scorer must be a subclass of "
                "mi_tasks.metrics.embedding.EmbeddingScorer with task_name, description and headline set, or None")
    if name in BUILTIN and not replace:
        return (f"{name!r} is a built-in family; name yours differently, or register_family(..., replace=True) "
                "to replace the built-in on purpose")
    old = _REGISTERED.get(name)
    if old is not None and not replace and _origin(old) != _origin(cls):
        return (f"a family {name!r} is already registered ({old.__module__}.{old.__qualname__}); name yours "
                "differently, or pass replace=True")
    return None


def register_family(cls: Any = None, *, replace: bool = False) -> Any:
    """Make ``cls`` known by its ``name``; a class decorator for families outside the package.

    ``@register_family`` or ``@register_family(replace=True)`` (the only way to replace a built-in).
    A class that is no :class:`MetricFamily`, has no ``name`` or no ``compute``, or takes a known
    name is refused with one line.
    """
    def register(c: Any) -> type[MetricFamily]:
        problem = _registration_problem(c, replace)
        if problem:
            raise MiTasksError(f"register_family: {problem}")
        _REGISTERED[c.name] = c
        return c
    return register if cls is None else register(cls)


def family_class(name: str) -> type[MetricFamily]:
    """The family called ``name``, or a one-line error listing the known ones."""
    if name not in _REGISTERED and name not in BUILTIN:
        _load_plugins()
    if name not in _REGISTERED and name in BUILTIN:
        module, attr = BUILTIN[name].split(":")
        _REGISTERED[name] = getattr(importlib.import_module(module), attr)
    if name not in _REGISTERED:
        raise MiTasksError(f"unknown metric family {name!r}: known families are {', '.join(known_families())}")
    return _REGISTERED[name]


def family_reporting(metric: str) -> type[MetricFamily] | None:
    """The family that reports ``metric``, or None when no known family does."""
    return next((fam for fam in all_families() if metric in fam.metrics()), None)


def metric_direction(metric: str) -> bool | None:
    """``higher_is_better`` of ``metric`` as the family that reports it declares it; None when no known family does."""
    fam = family_reporting(metric)
    return None if fam is None else fam.higher_is_better(metric)


def known_families() -> list[str]:
    """Every family's name: the built-ins in :data:`BUILTIN` order, then plugins in the order they registered."""
    _load_plugins()
    return [*BUILTIN, *(name for name in _REGISTERED if name not in BUILTIN)]


def all_families() -> list[type[MetricFamily]]:
    """Every family class (a built-in replaced on purpose is its replacement), in :func:`known_families` order."""
    return [family_class(name) for name in known_families()]


def builtin_families() -> list[type[MetricFamily]]:
    """The built-in family classes, in :data:`BUILTIN` order."""
    return [family_class(name) for name in BUILTIN]
