"""mi-tasks: how much information a language model's hidden states keep about its input, layer by layer.

Public names are imported on first use, so that importing the package (as lm-eval's start-up hook
does in every Python process) costs nothing until a name is needed.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_WHERE = {"Corpus": ".corpora", "load_corpus": ".corpora", "MiTasksError": ".errors",
          "HiddenStateExtractor": ".extraction", "fano_mi_bits": ".information", "parse_layers": ".layers",
          "load_model": ".modeling", "RecoverabilityProbe": ".recoverability",
          "RecoverabilityResult": ".recoverability"}
__all__ = [*sorted(_WHERE), "__version__"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
