"""The metric families mi-tasks knows: one line each. A family outside the package registers itself.

Adding a family: its folder under ``metrics/`` (settings, computation, a :class:`MetricFamily`) and
one line in :data:`BUILTIN`; its task YAML names it (``family: <name>``).
"""
from __future__ import annotations

import importlib

from ..errors import MiTasksError
from .family import MetricFamily

BUILTIN: dict[str, str] = {
    "recoverability": "mi_tasks.metrics.recoverability.family:RecoverabilityFamily",
    "entropy": "mi_tasks.metrics.entropy.family:EntropyFamily",
    "emergence": "mi_tasks.metrics.emergence.family:EmergenceFamily",
    "geometry": "mi_tasks.metrics.geometry.family:GeometryFamily",
    "views": "mi_tasks.metrics.geometry.family:ViewsFamily",
}
_REGISTERED: dict[str, type[MetricFamily]] = {}


def register_family(cls: type[MetricFamily]) -> type[MetricFamily]:
    """Make ``cls`` known by its ``name`` (usable as a class decorator by families outside the package)."""
    _REGISTERED[cls.name] = cls
    return cls


def family_class(name: str) -> type[MetricFamily]:
    """The family called ``name``, or a one-line error listing the known ones."""
    if name not in _REGISTERED and name in BUILTIN:
        module, attr = BUILTIN[name].split(":")
        register_family(getattr(importlib.import_module(module), attr))
    if name not in _REGISTERED:
        raise MiTasksError(f"unknown metric family {name!r}: known families are {', '.join(known_families())}")
    return _REGISTERED[name]


def metric_direction(metric: str) -> bool | None:
    """``higher_is_better`` of ``metric`` as the family that reports it declares it; None when no known family does."""
    for name in known_families():
        fam = family_class(name)
        if metric in fam.metrics():
            return fam.higher_is_better(metric)
    return None


def known_families() -> list[str]:
    return sorted(set(BUILTIN) | set(_REGISTERED))


def builtin_families() -> list[type[MetricFamily]]:
    """Every built-in family class, in :data:`BUILTIN` order."""
    return [family_class(name) for name in BUILTIN]
