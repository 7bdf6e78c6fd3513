"""mi-tasks: how much information a language model's hidden states keep about its input, layer by layer.

The flow, one subpackage a stage: ``data`` (corpora → texts) → ``states`` (the model's one
hidden-state pass → pooled states per layer) → ``metrics`` (recoverability and its bounds,
entropy, emergence) → the adapters ``harness`` (lm-eval), ``mteb``, ``reporting`` and ``cli``;
``training`` fine-tunes a model to raise its MI.

Public names are imported on first use, so that importing the package (as lm-eval's start-up hook
does in every Python process) costs nothing until a name is needed.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_WHERE = {"Corpus": ".data.corpora", "load_corpus": ".data.corpora", "MiTasksError": ".errors",
          "HiddenStateExtractor": ".states.extraction", "fano_mi_bits": ".metrics.recoverability.bounds",
          "parse_layers": ".states.layers", "load_model": ".states.modeling",
          "RecoverabilityProbe": ".metrics.recoverability.probe",
          "RecoverabilityResult": ".metrics.recoverability.result",
          "EntropyProbe": ".metrics.entropy.probe", "EmergenceProbe": ".metrics.emergence",
          "evaluate": ".evaluation", "StateStream": ".states.stream"}
__all__ = [*sorted(_WHERE), "__version__"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
