"""Module paths of releases before the subpackage layout, kept importable for one release.

``import mi_tasks.recoverability`` (or ``from mi_tasks.decoders import ...``) gives the very module
that now lives at the new path, so attributes, ``isinstance`` checks and monkeypatching see one
object. Installed by ``mi_tasks/__init__.py`` as a finder that only answers for the names below.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

MOVED: dict[str, str] = {
    "mi_tasks.backbone": "mi_tasks.states.backbone",
    "mi_tasks.modeling": "mi_tasks.states.modeling",
    "mi_tasks.devices": "mi_tasks.states.devices",
    "mi_tasks.layers": "mi_tasks.states.layers",
    "mi_tasks.pooling": "mi_tasks.states.pooling",
    "mi_tasks.extraction": "mi_tasks.states.extraction",
    "mi_tasks.distributed": "mi_tasks.states.distributed",
    "mi_tasks.state_store": "mi_tasks.states.state_store",
    "mi_tasks.bundled": "mi_tasks.states.bundled",
    "mi_tasks.corpora": "mi_tasks.data.corpora",
    "mi_tasks.corpus_specs": "mi_tasks.data.specs",
    "mi_tasks.corpus_hub": "mi_tasks.data.hub",
    "mi_tasks.corpus_files": "mi_tasks.data.files",
    "mi_tasks.data_dir": "mi_tasks.data.folder",
    "mi_tasks.bbcnews": "mi_tasks.data.bbcnews",
    "mi_tasks.recoverability": "mi_tasks.metrics.recoverability.probe",
    "mi_tasks.decoders": "mi_tasks.metrics.recoverability.decoders",
    "mi_tasks.calibration": "mi_tasks.metrics.recoverability.calibration",
    "mi_tasks.information": "mi_tasks.metrics.recoverability.bounds",
    "mi_tasks.memory_plan": "mi_tasks.metrics.recoverability.memory_plan",
    "mi_tasks.vocabulary": "mi_tasks.metrics.recoverability.vocabulary",
    "mi_tasks.text_metrics": "mi_tasks.metrics.recoverability.text_metrics",
    "mi_tasks.words": "mi_tasks.metrics.recoverability.words",
    "mi_tasks.uncertainty": "mi_tasks.metrics.uncertainty",
    "mi_tasks.entropy": "mi_tasks.metrics.entropy.probe",
    "mi_tasks.spectra": "mi_tasks.metrics.entropy.spectra",
    "mi_tasks.emergence": "mi_tasks.metrics.emergence",
    "mi_tasks.mi_estimators": "mi_tasks.metrics.emergence.estimators",
    "mi_tasks.enhance": "mi_tasks.training.enhance",
    "mi_tasks.token_gain": "mi_tasks.training.token_gain",
    "mi_tasks.reporting.cli": "mi_tasks.cli.reporting",
}


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers an old module path with the module at its new path (the same object)."""

    def find_spec(self, fullname: str, path: object = None, target: object = None):  # noqa: ANN201
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(MOVED[spec.name])
        spec.loader_state = module.__spec__  # the import system overwrites __spec__ with the old path's
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run (the module was imported at its new path); give it back its own spec, so that
        ``importlib.reload`` and ``__spec__.name`` keep meaning the new path."""
        module.__spec__ = module.__spec__.loader_state


def install() -> None:
    """Put the finder first on ``sys.meta_path``, once."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())  # ahead of the path finder: a stale file of an old install loses
