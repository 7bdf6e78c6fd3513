"""Task settings from a task YAML's ``metadata`` block, overridable with ``lm_eval --metadata``."""
from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..states.devices import check_device
from ..errors import MiTasksError
from ..metrics.emergence.estimators import METHODS as MI_METHODS
from ..metrics.recoverability.probe import check_targets

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


# Numeric settings: (type, lowest valid value, whether the bound is exclusive, None allowed, what it means)
_NUMBERS: dict[str, tuple[type, float, bool, bool, str]] = {
    "max_text_length": (int, 1, False, False, "tokens per text"),
    "seed": (int, 0, False, False, "random seed"),
    "train_limit": (int, 1, False, True, "train texts; null for the whole corpus"),
    "eval_limit": (int, 1, False, True, "eval texts; null for the whole corpus"),
    "random_limit": (int, 1, False, True, "texts of the random-init baseline; null for all"),
    "window": (int, 2, False, False, "tokens per IE window"),
    "n_windows": (int, 1, False, False, "IE windows"),
    "mi_steps": (int, 1, False, False, "critic steps of a neural IE estimator"),
    "proj_dim": (int, 1, False, True, "IE projection width; null for none"),
    "alpha": (float, 0, True, False, "Renyi order"),
    "mi_ridge": (float, 0, True, False, "the Gaussian channel's noise"),
    "memory_budget_gb": (float, 0, False, True, "GiB; 0 or null for no bound"),
    "calibration_fraction": (float, 0, False, False, "share of the train corpus held out, below 1"),
}


def _number(name: str, value: Any, task: str) -> int | float | None:
    """A numeric setting checked where it is read: the message names the setting, the value and the range."""
    kind, low, open_low, nullable, what = _NUMBERS[name]
    bound = f"{'>' if open_low else '>='} {low:g}"
    expect = f"{'a whole number' if kind is int else 'a number'} {bound} ({what})"
    if value is None or (isinstance(value, str) and value.strip().lower() in ("null", "none")):
        if nullable:
            return None
        raise MiTasksError(f"{name} for task {task} must be {expect}, got {value!r}")
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
        if kind is int:
            if not number.is_integer():
                raise ValueError
            number = int(number)
    except (TypeError, ValueError, OverflowError):
        raise MiTasksError(f"{name} for task {task} must be {expect}, got {value!r}") from None
    too_low = number <= low if open_low else number < low
    if too_low or (name == "calibration_fraction" and number >= 1) or number != number:
        raise MiTasksError(f"{name} for task {task} must be {expect}, got {value!r}")
    return number


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
    targets: str = "tokens"                 # tokens (the model's own; the paper) | words (the same for every model)
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
        for k in ("include_special", "text_metrics", "random_baseline", "train_header", "eval_header"):
            if kw.get(k) is not None:
                kw[k] = _as_bool(kw[k], k, task)
        for k in ("layers", "headline_layer"):
            if k in kw and not isinstance(kw[k], str):
                kw[k] = ",".join(str(x) for x in kw[k]) if isinstance(kw[k], (list, tuple)) else str(kw[k])
        for k, v in list(kw.items()):
            if k in _NUMBERS:
                kw[k] = _number(k, v, task)
        s = cls(**kw)
        if s.decoder_device is not None:
            check_device(s.decoder_device, "decoder_device", f"for task {task}")
        if s.mi_estimator not in MI_METHODS:
            raise MiTasksError(f"unknown mi_estimator {s.mi_estimator!r} for task {task}: use one of "
                               f"{', '.join(MI_METHODS)}")
        check_targets(s.targets, f" for task {task}")
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
                "header": g("header"), "columns": g("columns"), "limit_name": f"{role}_limit"}
