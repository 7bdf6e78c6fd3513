"""Task settings from a task YAML's ``metadata`` block, overridable with ``lm_eval --metadata``.

:class:`TaskSettings` is the composition of the settings families, each defined and validated in
its own module (``states/settings.py``, ``data/settings.py``, ``metrics/*/settings.py``): its
fields are theirs (flat names, as in YAML: ``s.layers``, ``s.train_limit``), and ``s.states``,
``s.corpus("train")`` and ``s.family(name)`` give each family (a metric family's settings under
its name in :mod:`mi_tasks.metrics.registry`). Cache keys are the families' keys.
"""
from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field, fields, make_dataclass
from typing import Any

from .config import Settings, setting
from .data.settings import CorpusSettings, EvalCorpusSettings, TrainCorpusSettings
from .errors import MiTasksError
from .metrics.registry import builtin_families
from .states.settings import StateSettings

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


@dataclass(frozen=True)
class RunSettings(Settings):
    """What every metric of a task shares: the seed, and the layer the printed table shows."""

    seed: int = setting(0, int, "random seed", low=0)
    headline_layer: str = setting("last", str, "layer the printed table shows: last | first | best | index")


# The families in the order their settings are listed (docs/settings.md, results' mi_settings): the
# pass, the corpora, the run, then each metric family's own (mi_tasks.metrics.registry).
FAMILIES: dict[str, type[Settings]] = {
    "states": StateSettings, "train": TrainCorpusSettings, "eval": EvalCorpusSettings, "task": RunSettings,
    **{fam.name: fam.settings for fam in builtin_families() if fam.settings is not None},
}


def _fields() -> list[tuple[str, Any, Any]]:
    out = []
    for fam in FAMILIES.values():
        for flat, (f, _) in fam.specs().items():
            out.append((flat, f.type, field(default=f.default, metadata=f.metadata)))
    return out


_TaskFields = make_dataclass("_TaskFields", _fields(), frozen=True)


def _family_view(name: str) -> property:
    """A read-only attribute giving one family (``s.states``, ``s.emergence``, ...) with the task's values."""
    return property(lambda self: self.family(name), doc=f"The {name} settings of this task.")


@dataclass(frozen=True)
class TaskSettings(_TaskFields):  # type: ignore[misc,valid-type]
    """What a task measures and on which corpora; every field can be set in YAML or --metadata."""

    @classmethod
    def known(cls) -> set[str]:
        """Every setting's name (as YAML and --metadata spell it)."""
        return {f.name for f in fields(cls)}

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any] | None, task: str) -> "TaskSettings":
        """Coerce and check every setting of ``metadata``; unknown keys are an error naming the closest."""
        md = dict(metadata or {})
        ignore = _HARNESS_KEYS | _model_arg_names()
        return cls._checked({k: v for k, v in md.items() if k not in ignore}, f" for task {task}")

    @classmethod
    def given(cls, settings: "TaskSettings | None" = None, where: str = "", **values: Any) -> "TaskSettings":
        """``settings`` (default: the defaults) with keyword ``values`` under their YAML names, checked as YAML is."""
        base = asdict(settings) if settings is not None else {}
        return cls._checked({**base, **values}, where)

    @classmethod
    def _checked(cls, values: dict[str, Any], where: str) -> "TaskSettings":
        known = cls.known()
        unknown = [k for k in values if k not in known]
        if unknown:
            hints = [f"{k!r}" + (f" (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(k, known, 1)) else "")
                     for k in unknown]
            raise MiTasksError(f"unknown setting {', '.join(hints)}{where}; known settings: {', '.join(sorted(known))}")
        flat: dict[str, Any] = {}
        for fam in FAMILIES.values():
            flat.update(fam.from_values(values, where).flat())
        return cls(**flat)

    def family(self, name: str) -> Any:
        """The settings family ``name`` (a key of :data:`FAMILIES`) with this task's values."""
        fam = FAMILIES[name]
        return fam(**{f.name: getattr(self, flat) for flat, (f, _) in fam.specs().items()})

    states = _family_view("states")  # StateSettings (a view, not a dataclass field)

    def corpus(self, role: str) -> CorpusSettings:
        """The ``train`` or ``eval`` corpus settings."""
        return self.family(role)

    def corpus_kwargs(self, role: str) -> dict[str, Any]:
        """Keywords of :func:`~mi_tasks.data.corpora.load_corpus` for the ``train`` or ``eval`` corpus."""
        return self.corpus(role).load_kwargs(self.seed)


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def settings_table() -> str:
    """docs/settings.md's table (one row per setting: family, default, valid values, meaning), from the families."""
    rows = ["| setting | family | default | valid values | what it sets |", "|---|---|---|---|---|"]
    for family, fam in FAMILIES.items():
        where = f"`{fam.__module__.removeprefix('mi_tasks.')}`"
        for flat, (f, spec) in fam.specs().items():
            text = spec.what.replace("|", "/")
            rows.append(f"| `{flat}` | {family} ({where}) | `{_shown(f.default)}` | "
                        f"{spec.range_text().replace('|', '/')} | {text} |")
    return "\n".join(rows) + "\n"
