"""Encoder defaults from a model folder's sentence-transformers configuration.

A folder saved by sentence-transformers says how the model embeds: ``modules.json`` lists its
modules (Transformer, Pooling, optionally Normalize and Dense), ``<pooling dir>/config.json`` the
pooling mode, ``sentence_bert_config.json`` the maximum sequence length. This is the one place where
an encoder's defaults differ from the pass settings' (:class:`~mi_tasks.states.settings.PassSettings`):
``LayerEncoder`` and ``layer_sweep`` follow these files so that, at defaults, the last layer reproduces
the model's own embeddings; a folder without them gets the pass settings' defaults, the same as a task
YAML's. What was used is returned as an :class:`EncoderDefaults`.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MiTasksError
from ..states.settings import PassSettings

log = logging.getLogger("mi_tasks")

MI_TASKS_DEFAULTS = "mi-tasks defaults"
ST_CONFIG = "sentence-transformers config"
# sentence-transformers pooling mode -> (mi-tasks pooling, special tokens in the mean)
_POOLING = {"mean": ("mean", True), "cls": ("first", False), "lasttoken": ("last", False)}


@dataclass(frozen=True)
class EncoderDefaults:
    """How a LayerEncoder embeds when the caller does not say, and where that came from."""

    pooling: str = PassSettings.pooling
    normalize: bool = True
    include_special: bool = PassSettings.include_special
    max_length: int = PassSettings.max_text_length
    dtype: str = "auto"
    source: str = MI_TASKS_DEFAULTS
    model_folder: str | None = None          # where the Transformer module's weights are (ST folders may nest it)
    ignored_modules: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ignored_modules"] = list(self.ignored_modules)
        return d


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise MiTasksError(f"cannot read {path} ({e.__class__.__name__}: {e}); the folder's sentence-transformers "
                           "configuration is broken: fix the file, or pass pooling=, normalize= and "
                           "include_special= explicitly") from e


def _pooling_mode(cfg: dict[str, Any], where: Path) -> str:
    mode = cfg.get("pooling_mode")
    if isinstance(mode, str):
        return {"mean_tokens": "mean", "cls_token": "cls", "max_tokens": "max", "lasttoken": "lasttoken"}.get(mode, mode)
    on = [k for k in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens",
                      "lasttoken") if cfg.get(f"pooling_mode_{k}")]
    if len(on) != 1:
        raise MiTasksError(f"{where} turns on {len(on)} pooling modes ({', '.join(on) or 'none'}); LayerEncoder "
                           "follows exactly one: pass pooling= (mean, first or last) explicitly")
    return {"cls_token": "cls", "mean_tokens": "mean", "max_tokens": "max", "mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
            "weightedmean_tokens": "weightedmean", "lasttoken": "lasttoken"}[on[0]]


def encoder_defaults(path: str | os.PathLike) -> EncoderDefaults:
    """Defaults for ``path``: from its sentence-transformers files if it has them, else mi-tasks' own."""
    root = Path(path)
    modules_file = root / "modules.json"
    if not modules_file.is_file():
        return EncoderDefaults()
    modules = _read_json(modules_file)
    if not isinstance(modules, list):
        raise MiTasksError(f"{modules_file} should hold a list of modules")
    kinds = [(str(m.get("type", "")).rsplit(".", 1)[-1], str(m.get("path", ""))) for m in modules]
    transformer = next((p for k, p in kinds if k == "Transformer"), None)
    pool_dir = next((p for k, p in kinds if k == "Pooling"), None)
    if transformer is None or pool_dir is None:
        log.warning("%s has no Transformer + Pooling modules; LayerEncoder uses mi-tasks' defaults", modules_file)
        return EncoderDefaults()
    mode = _pooling_mode(_read_json(root / pool_dir / "config.json"), root / pool_dir / "config.json")
    if mode not in _POOLING:  # max, mean_sqrt_len_tokens, weightedmean
        raise MiTasksError(f"{root.name}'s sentence-transformers pooling is {mode!r}, which LayerEncoder does not "
                           "compute; pass pooling= (mean, first or last) to choose one explicitly")
    pooling, special = _POOLING[mode]
    after = [k for k, _ in kinds[[k for k, _ in kinds].index("Pooling") + 1:] if k != "Normalize"]
    if after:
        log.warning("%s applies %s after pooling; LayerEncoder embeds the pooled hidden state without them, so "
                    "its last layer differs from the model's own embeddings", root.name, ", ".join(after))
    st_cfg = root / transformer / "sentence_bert_config.json"
    if not st_cfg.is_file():
        st_cfg = root / "sentence_bert_config.json"
    max_len = _read_json(st_cfg).get("max_seq_length") if st_cfg.is_file() else None
    return EncoderDefaults(pooling=pooling, normalize=any(k == "Normalize" for k, _ in kinds), include_special=special,
                           max_length=int(max_len) if max_len else PassSettings.max_text_length, dtype="float32",
                           source=ST_CONFIG,
                           model_folder=str(root / transformer),
                           ignored_modules=tuple(after))
