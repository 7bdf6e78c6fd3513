"""Task settings from a task YAML's ``metadata`` block, overridable with ``lm_eval --metadata``."""
from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch

from ..errors import MiTasksError
from ..mi_estimators import METHODS as MI_METHODS

# Keys lm-eval itself puts into task metadata (its own, and every --model_args key).
_HARNESS_KEYS = {"version", "config_source", "_metadata", "num_fewshot"}


def _model_arg_names() -> set[str]:
    try:
        import inspect

        from lm_eval.models.huggingface import HFLM
        return set(inspect.signature(HFLM.__init__).parameters) - {"self", "kwargs"}
    except Exception:  # lm-eval internals moved: accept the usual ones
        return {"pretrained", "dtype", "revision", "trust_remote_code", "gguf_file", "device", "batch_size",
                "max_length", "backend", "tokenizer", "parallelize", "max_batch_size", "add_bos_token", "peft"}


def _as_bool(value: Any, name: str, task: str) -> bool:
    """A YAML/--metadata flag as a bool ("false" from the command line must not read as true)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise MiTasksError(f"{name} must be true or false for task {task}, got {value!r}")


@dataclass(frozen=True)
class TaskSettings:
    """What a task measures and on which corpora; every field can be set in YAML or --metadata."""

    layers: str = "all"
    pooling: str = "mean"
    max_text_length: int = 128
    train_corpus: str = "dbpedia14"
    train_limit: int | None = 5000
    train_text_field: str | None = None
    train_template: str | None = None
    train_header: bool | None = None
    train_columns: tuple[str, ...] | None = None
    eval_corpus: str = "agnews"
    eval_limit: int | None = 1000
    eval_text_field: str | None = None
    eval_template: str | None = None
    eval_header: bool | None = None
    eval_columns: tuple[str, ...] | None = None
    fit: str = "ridge"
    seed: int = 0
    headline_layer: str = "last"
    text_metrics: bool = True
    calibration_fraction: float = 0.1
    memory_budget_gb: float | None = 16.0   # decoders held at once; more layers are fitted in groups (0: no bound)
    decoder_device: str | None = None       # where the decoders' statistics and solve run (None: the model's device)
    # representation entropy (mi_entropy)
    alpha: float = 1.0
    random_baseline: bool = True
    random_limit: int | None = 256
    include_special: bool = False   # BOS/CLS/SEP in the token matrices and the mean (Diff-eRank's authors keep BOS)
    # information emergence (mi_emergence)
    window: int = 8
    n_windows: int = 2048
    proj_dim: int | None = 8
    mi_estimator: str = "gaussian"   # gaussian (noise-channel MI, converges) | infonce | dv | smile | mine_paper
    mi_ridge: float = 0.1            # gaussian: channel noise as a fraction of the slice's mean variance
    mi_steps: int = 200              # neural estimators only
    micro_mode: str = "pooled"

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any] | None, task: str) -> "TaskSettings":
        md = dict(metadata or {})
        known = {f.name for f in fields(cls)}
        ignore = _HARNESS_KEYS | _model_arg_names()
        unknown = [k for k in md if k not in known and k not in ignore]
        if unknown:
            hints = [f"{k!r}" + (f" (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(k, known, 1)) else "")
                     for k in unknown]
            raise MiTasksError(f"unknown setting {', '.join(hints)} for task {task}; known settings: {', '.join(sorted(known))}")
        kw = {k: md[k] for k in known if k in md}
        for k in ("train_columns", "eval_columns"):
            if isinstance(kw.get(k), str):
                kw[k] = tuple(c.strip() for c in kw[k].split(","))
            elif kw.get(k) is not None:
                kw[k] = tuple(kw[k])
        if "include_special" in kw:
            kw["include_special"] = _as_bool(kw["include_special"], "include_special", task)
        for k in ("layers", "headline_layer"):
            if k in kw and not isinstance(kw[k], str):
                kw[k] = ",".join(str(x) for x in kw[k]) if isinstance(kw[k], (list, tuple)) else str(kw[k])
        try:
            s = cls(**kw)
            for k in ("max_text_length", "seed", "window", "n_windows", "mi_steps"):
                object.__setattr__(s, k, int(getattr(s, k)))
            object.__setattr__(s, "alpha", float(s.alpha))
            object.__setattr__(s, "mi_ridge", float(s.mi_ridge))
            if s.memory_budget_gb is not None:
                object.__setattr__(s, "memory_budget_gb", float(s.memory_budget_gb))
        except (TypeError, ValueError) as e:
            raise MiTasksError(f"bad setting for task {task}: {e}") from None
        if s.alpha <= 0:
            raise MiTasksError(f"alpha must be > 0 (Rényi order) for task {task}, got {s.alpha}")
        if s.decoder_device is not None:
            try:
                torch.device(s.decoder_device)
            except (RuntimeError, TypeError):
                raise MiTasksError(f"unknown decoder_device {s.decoder_device!r} for task {task}: use cpu, cuda, cuda:1, "
                                   "... or leave it unset for the model's device") from None
        if s.mi_estimator not in MI_METHODS:
            raise MiTasksError(f"unknown mi_estimator {s.mi_estimator!r} for task {task}: use one of "
                               f"{', '.join(MI_METHODS)}")
        if not s.mi_ridge > 0:
            raise MiTasksError(f"mi_ridge must be > 0 (the Gaussian channel's noise) for task {task}, got {s.mi_ridge}")
        if s.fit not in ("ridge", "bce"):
            raise MiTasksError(f"unknown fit {s.fit!r} for task {task}: use ridge or bce")
        return s

    def train_key(self) -> str:
        keep = {k: v for k, v in asdict(self).items() if not k.startswith("eval_") and k not in ("headline_layer",)}
        return json.dumps(keep, sort_keys=True, default=str)

    def entropy_key(self) -> str:
        keep = ("layers", "pooling", "max_text_length", "alpha", "random_baseline", "random_limit", "seed",
                "include_special")
        return json.dumps({k: getattr(self, k) for k in keep}, sort_keys=True, default=str)

    def emergence_key(self) -> str:
        keep = ("layers", "window", "n_windows", "proj_dim", "mi_estimator", "mi_ridge", "mi_steps", "micro_mode", "seed")
        return json.dumps({k: getattr(self, k) for k in keep}, sort_keys=True, default=str)

    def corpus_kwargs(self, role: str) -> dict[str, Any]:
        g = lambda k: getattr(self, f"{role}_{k}")  # noqa: E731
        return {"text_field": g("text_field"), "template": g("template"), "limit": g("limit"), "seed": self.seed,
                "header": g("header"), "columns": g("columns")}
