"""Task settings from a task YAML's ``metadata`` block, overridable with ``lm_eval --metadata``.

:class:`TaskSettings` is the composition of the settings families, each defined and validated in
its own module (``states/settings.py``, ``data/settings.py``, each metric family's folder, a plugin
family's own module): its settings are theirs (flat names, as in YAML: ``s.layers``, ``s.train_limit``),
and ``s.pass_settings``, ``s.corpus("train")`` and ``s.family(name)`` give each group. The groups are read
from the registry when used, so a family registered at run time has its settings everywhere.
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from .config import Settings, setting
from .data.settings import CorpusSettings, EvalCorpusSettings, TrainCorpusSettings
from .errors import MiTasksError
from .metrics.registry import all_families
from .states.settings import PassSettings

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


# The groups every task has, in the order their settings are listed (docs/settings.md, results'
# mi_settings): the pass, the corpora, the run. Each metric family's own follow (settings_groups).
BASE_GROUPS: dict[str, type[Settings]] = {
    "pass": PassSettings, "train": TrainCorpusSettings, "eval": EvalCorpusSettings, "task": RunSettings,
}


def settings_groups() -> dict[str, type[Settings]]:
    """The base groups, then every known metric family's settings under its name (built-ins first, then
    plugins: :mod:`mi_tasks.metrics.registry`), read when used, so a family registered after import counts.

    A setting's flat name belongs to one group; a family declaring another's is refused here, naming both.
    """
    groups = dict(BASE_GROUPS)
    owner = {flat: name for name, group in groups.items() for flat in group.specs()}
    for fam in all_families():
        if fam.settings is None:
            continue
        for flat in fam.settings.specs():
            if owner.get(flat, fam.name) != fam.name:
                raise MiTasksError(f"metric family {fam.name!r} ({fam.__module__}) declares the setting {flat!r}, "
                                   f"which is already {owner[flat]!r}'s; give it a name of its own")
            owner[flat] = fam.name
        groups[fam.name] = fam.settings
    return groups


class TaskSettings:
    """What a task measures and on which corpora; every setting can be set in YAML or --metadata.

    ``TaskSettings(**values)`` checks each value through its group (the defaults for the rest). Each
    setting reads as an attribute under its flat name (``s.layers``, ``s.train_limit``, a plugin
    family's own); :meth:`family` gives one group as its settings object. Read-only:
    :meth:`given` makes a changed copy.
    """

    __slots__ = ("_values",)

    def __init__(self, **values: Any) -> None:
        object.__setattr__(self, "_values", _checked(values, ""))

    @classmethod
    def _of(cls, checked: dict[str, Any]) -> "TaskSettings":
        out = object.__new__(cls)
        object.__setattr__(out, "_values", checked)
        return out

    def __getattr__(self, name: str) -> Any:
        try:
            return object.__getattribute__(self, "_values")[name]
        except KeyError:
            raise AttributeError(f"no setting {name!r}; known settings: {', '.join(sorted(self.known()))}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"task settings are read-only: TaskSettings.given(s, {name}=...) makes a changed copy")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TaskSettings) and self._values == other._values

    def __hash__(self) -> int:
        return hash(json.dumps(self._values, sort_keys=True, default=str))

    def __repr__(self) -> str:
        return f"TaskSettings({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (TaskSettings._of, (dict(self._values),))

    @classmethod
    def known(cls) -> set[str]:
        """Every setting's name (as YAML and --metadata spell it)."""
        return {flat for group in settings_groups().values() for flat in group.specs()}

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any] | None, task: str) -> "TaskSettings":
        """Coerce and check every setting of ``metadata``; unknown keys are an error naming the closest."""
        md = dict(metadata or {})
        ignore = _HARNESS_KEYS | _model_arg_names()
        return cls._of(_checked({k: v for k, v in md.items() if k not in ignore}, f" for task {task}"))

    @classmethod
    def given(cls, settings: "TaskSettings | None" = None, where: str = "", **values: Any) -> "TaskSettings":
        """``settings`` (default: the defaults) with keyword ``values`` under their YAML names, checked as YAML is."""
        base = dict(settings._values) if settings is not None else {}
        return cls._of(_checked({**base, **values}, where))

    def as_dict(self) -> dict[str, Any]:
        """Every setting under its flat name, in the groups' order (results' ``mi_settings``)."""
        return dict(self._values)

    def family(self, name: str) -> Any:
        """The settings group ``name`` (``pass``, ``train``, ``eval``, ``task`` or a metric family's name)."""
        group = settings_groups()[name]
        return group(**{f.name: self._values[flat] for flat, (f, _) in group.specs().items()})

    @property
    def pass_settings(self) -> PassSettings:
        """The settings of this task's hidden-state pass (layers, pooling, length, special tokens)."""
        return self.family("pass")

    def corpus(self, role: str) -> CorpusSettings:
        """The ``train`` or ``eval`` corpus settings."""
        return self.family(role)

    def corpus_kwargs(self, role: str) -> dict[str, Any]:
        """Keywords of :func:`~mi_tasks.data.corpora.load_corpus` for the ``train`` or ``eval`` corpus."""
        return self.corpus(role).load_kwargs(self.seed)


def _checked(values: dict[str, Any], where: str) -> dict[str, Any]:
    """Every group's values from ``values`` (flat names), each coerced and checked by its group; an unknown
    name is one line naming the closest known one."""
    groups = settings_groups()
    known = {flat for group in groups.values() for flat in group.specs()}
    unknown = [k for k in values if k not in known]
    if unknown:
        hints = [f"{k!r}" + (f" (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(k, known, 1)) else "")
                 for k in unknown]
        raise MiTasksError(f"unknown setting {', '.join(hints)}{where}; known settings: {', '.join(sorted(known))}")
    flat: dict[str, Any] = {}
    for group in groups.values():
        flat.update(group.from_values(values, where).flat())
    return flat


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def settings_table() -> str:
    """docs/settings.md's table (one row per setting: family, default, valid values, meaning), from the families."""
    rows = ["| setting | family | default | valid values | what it sets |", "|---|---|---|---|---|"]
    for family, fam in settings_groups().items():
        where = f"`{fam.__module__.removeprefix('mi_tasks.')}`"
        for flat, (f, spec) in fam.specs().items():
            text = spec.what.replace("|", "/")
            rows.append(f"| `{flat}` | {family} ({where}) | `{_shown(f.default)}` | "
                        f"{spec.range_text().replace('|', '/')} | {text} |")
    return "\n".join(rows) + "\n"
