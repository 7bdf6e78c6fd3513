"""One description per setting (type, default, range, meaning) and the machinery every family shares.

A settings family (states, corpora, recoverability, entropy, emergence) is a frozen dataclass
whose fields are made with :func:`setting`; the family's module owns its defaults and checks.
Values from a task YAML or ``lm_eval --metadata`` are coerced and range-checked here, so every
bad value gets the same one-line :class:`~mi_tasks.errors.MiTasksError` naming the setting, the
value and the range, and a family's cache key is derived from its fields, never listed by hand.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import Field, asdict, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from ..errors import MiTasksError, one_line

_NULLS = ("null", "none")
S = TypeVar("S", bound="Settings")


@dataclass(frozen=True)
class Spec:
    """What a setting accepts: its kind, its range or choices, and what it means (errors, docs)."""

    kind: type                        # int, float, bool, str, or tuple (a comma list of names)
    what: str                         # what it means, for errors and docs/settings.md
    low: float | None = None          # lowest valid number
    open_low: bool = False            # the bound itself is invalid
    below: float | None = None        # numbers must stay below this
    nullable: bool = False            # null (YAML) / None is valid
    choices: tuple[str, ...] = ()     # the valid words, for a str setting

    def range_text(self) -> str:
        """The valid values in words (docs/settings.md and error messages)."""
        if self.choices:
            return " | ".join(self.choices)
        if self.kind is bool:
            return "true | false" + (", or null" if self.nullable else "")
        if self.kind is tuple:
            return "comma list of names" + (", or null" if self.nullable else "")
        if self.kind in (int, float) and self.low is not None:
            text = f"{'>' if self.open_low else '>='} {self.low:g}" + (f", < {self.below:g}" if self.below else "")
            return text + (", or null" if self.nullable else "")
        return "text, or null" if self.nullable else "text"


def setting(default: Any, kind: type, what: str, **spec: Any) -> Any:
    """A dataclass field carrying its :class:`Spec` (keywords: low, open_low, below, nullable, choices)."""
    return field(default=default, metadata={"spec": Spec(kind, what, **spec)})


def spec_of(f: Field) -> Spec:
    return f.metadata["spec"]


def _bad_number(name: str, spec: Spec, value: Any, where: str) -> MiTasksError:
    bound = f"{'>' if spec.open_low else '>='} {spec.low:g}"
    expect = f"{'a whole number' if spec.kind is int else 'a number'} {bound} ({spec.what})"
    return MiTasksError(f"{name}{where} must be {expect}, got {value!r}")


def _number(name: str, spec: Spec, value: Any, where: str) -> int | float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in _NULLS):
        if spec.nullable:
            return None
        raise _bad_number(name, spec, value, where)
    try:
        if isinstance(value, bool):
            raise ValueError
        number: int | float = float(value)
        if spec.kind is int:
            if not float(number).is_integer():
                raise ValueError
            number = int(number)
    except (TypeError, ValueError, OverflowError):
        raise _bad_number(name, spec, value, where) from None
    low = spec.low if spec.low is not None else float("-inf")
    too_low = number <= low if spec.open_low else number < low
    if too_low or (spec.below is not None and number >= spec.below) or not math.isfinite(number):
        raise _bad_number(name, spec, value, where)
    return number


def _flag(name: str, spec: Spec, value: Any, where: str) -> bool | None:
    """A YAML/--metadata flag as a bool ("false" from the command line must not read as true)."""
    if isinstance(value, bool) or (value is None and spec.nullable):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise MiTasksError(f"{name} must be true or false{where}, got {value!r}")


def _is_scalar(x: Any) -> bool:
    return isinstance(x, (str, int, float)) and not isinstance(x, bool)


def _text(name: str, spec: Spec, value: Any, where: str) -> str | tuple[str, ...] | None:
    if value is None:
        if spec.nullable:
            return None
        raise MiTasksError(f"{name}{where} must be {spec.range_text()} ({spec.what}), got None")
    # a text, a number written bare in YAML/JSON (headline_layer: 3), or a list of those (layers: [0, -1]);
    # a list setting (columns) takes a text or a list, never a bare number
    items = value if isinstance(value, (list, tuple)) else [value]
    if (not all(_is_scalar(x) for x in items)) or (spec.kind is tuple and not isinstance(value, (str, list, tuple))):
        raise MiTasksError(f"{name}{where} must be {spec.range_text()} ({spec.what}), got {type(value).__name__} "
                           f"{one_line(repr(value), 60)}")
    if spec.kind is tuple:
        parts = value.split(",") if isinstance(value, str) else [str(x) for x in value]
        return tuple(c.strip() for c in parts)
    text = ",".join(str(x) for x in value) if isinstance(value, (list, tuple)) else str(value)
    if spec.choices and text not in spec.choices:
        use = " or ".join(spec.choices) if len(spec.choices) == 2 else "one of " + ", ".join(spec.choices)
        raise MiTasksError(f"unknown {name} {text!r}{where}: use {use}")
    return text


def coerce(name: str, spec: Spec, value: Any, where: str = "") -> Any:
    """``value`` (from YAML, --metadata or Python) as the setting's kind, or a one-line error.

    ``where`` (e.g. " for task mi_recoverability") follows the setting's name in the message.
    """
    if spec.kind in (int, float):
        return _number(name, spec, value, where)
    if spec.kind is bool:
        return _flag(name, spec, value, where)
    return _text(name, spec, value, where)


class Settings:
    """Base of the settings families (frozen dataclasses made of :func:`setting` fields).

    ``PREFIX`` is put before each field's name where the family appears among a task's settings
    (the corpus families: ``train_`` and ``eval_``).
    """

    PREFIX: ClassVar[str] = ""

    @classmethod
    def specs(cls) -> dict[str, tuple[Field, Spec]]:
        """Each setting's flat name (as in YAML) with its field and spec."""
        return {cls.PREFIX + f.name: (f, spec_of(f)) for f in fields(cls)}  # type: ignore[arg-type]

    @classmethod
    def from_values(cls: type[S], values: Mapping[str, Any], where: str = "") -> S:
        """The family from a mapping of flat names (others ignored), each value coerced and checked."""
        kw = {f.name: coerce(flat, spec, values[flat], where) for flat, (f, spec) in cls.specs().items()
              if flat in values}
        out = cls(**kw)
        out.check(where)
        return out

    def check(self, where: str = "") -> None:
        """Checks beyond one field's range (a device that must exist); families override it."""

    @classmethod
    def given(cls: type[S], settings: "S | None" = None, where: str = "", **values: Any) -> S:
        """``settings`` (default: the defaults) with keyword ``values`` coerced and checked as YAML values are.

        What a Python constructor taking this family calls, so its keywords get the same names,
        defaults, checks and messages as the task YAML; an unknown keyword names the known ones.
        """
        base = settings if settings is not None else cls()
        if not isinstance(base, cls):
            raise MiTasksError(f"{where.strip() or cls.__name__}: settings must be a {cls.__name__}, "
                               f"got {type(base).__name__}")
        known = {f.name: (f, spec_of(f)) for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise MiTasksError(f"unknown keyword {', '.join(unknown)}{where}: the {cls.__name__} settings are "
                               f"{', '.join(known)}")
        if not values:
            return base
        kw = {**asdict(base), **{k: coerce(k, known[k][1], v, where) for k, v in values.items()}}  # type: ignore[call-overload]
        out = cls(**kw)
        out.check(where)
        return out

    def flat(self) -> dict[str, Any]:
        """The family's values under their flat names."""
        return {self.PREFIX + k: v for k, v in asdict(self).items()}  # type: ignore[call-overload]

    def key(self) -> str:
        """A cache key made of every field: equal keys, equal results."""
        return settings_key(self)


def settings_key(*families: Settings, **extra: Any) -> str:
    """One JSON key of several families' fields (flat names) and ``extra`` values."""
    merged: dict[str, Any] = {}
    for fam in families:
        merged.update(fam.flat())
    merged.update(extra)
    return json.dumps(merged, sort_keys=True, default=str)
