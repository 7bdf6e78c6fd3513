"""The shape of every family's results: per-layer rows of measurements, written and read here only.

A row holds, for each metric, one :class:`Measurement`: the value, its standard error and how that
was estimated, a caveat where the value is no measurement (Fano's bound clamped to 0), and the
texts used and dropped; plus the row's flags (a decoder that fell back to the prior). The harness,
the reports, the MTEB sweep and the CLI read results through this one shape (:meth:`LayerResult.to_dict`
writes it, :func:`rows_from_dict` reads it back); no reader infers what a number is from its name.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from ..errors import MiTasksError

MEASUREMENTS_KEY = "mi_measurements"
"""Where a flat score dict (an MTEB task's scores) keeps the same numbers whole, as :meth:`Scores.to_dict` writes them."""
NOT_MEASURED = "not_measured"
"""``meta`` key: {metric: {"layers": [...], "reason": ...}} for values a family could not measure (NaN, inf)."""


def strict_json(obj: Any) -> Any:
    """``obj`` with every NaN or infinity as None, so that its JSON is strict (``null``; reasons kept beside it)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    return obj


@dataclass(frozen=True)
class Measurement:
    """One metric at one layer: its value and everything a reader must know to trust it.

    ``stderr`` is NaN where there is none (``stderr_method`` then says why, where the family knows);
    ``caveat`` names why the value is no measurement (``"vacuous"``: a bound clamped to 0), and such a
    value has no error; ``n`` counts the inputs (texts, points) used and ``dropped`` those left out, so
    a skipped input is never silent (None: the family does not count them).
    """

    value: float
    stderr: float = math.nan
    stderr_method: str = ""
    n: int | None = None
    dropped: int | None = None
    caveat: str = ""

    @property
    def has_stderr(self) -> bool:
        return math.isfinite(self.stderr)

    def to_dict(self) -> dict[str, Any]:
        """Its JSON: ``value`` always, the other fields where they say something."""
        out: dict[str, Any] = {"value": self.value}
        if not math.isnan(self.stderr):
            out["stderr"] = self.stderr
        for key in _FIELDS[2:]:   # stderr_method, n, dropped, caveat
            if getattr(self, key) not in ("", None):
                out[key] = getattr(self, key)
        return strict_json(out)

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Measurement:
        """The measurement a results file holds (``null`` reads as NaN); a malformed one names ``where``."""
        try:
            if not isinstance(data, dict):
                raise TypeError(f"expected an object, got {type(data).__name__}")
            unknown = set(data) - set(_FIELDS)
            if unknown:
                raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))}")
            number = (lambda v: math.nan if v is None else float(v))
            return cls(number(data["value"]), number(data.get("stderr")), str(data.get("stderr_method", "")),
                       None if data.get("n") is None else int(data["n"]),
                       None if data.get("dropped") is None else int(data["dropped"]), str(data.get("caveat", "")))
        except (KeyError, TypeError, ValueError) as e:
            raise MiTasksError(f"{where}: malformed measurement ({e}); re-run with this mi-tasks version") from None


_FIELDS = tuple(f.name for f in fields(Measurement))


def measured(value: Any) -> Measurement:
    """``value`` as a :class:`Measurement` (a bare number: a value with no error)."""
    if isinstance(value, Measurement):
        return value
    return Measurement(math.nan if value is None else float(value))


class Scores(MutableMapping):
    """Measurements by metric, read as values: ``scores[metric]`` is the number, ``scores.measurement(m)``
    the whole :class:`Measurement`; assigning a bare number records a value with no error. ``flags`` are the
    row's yes/no facts (``prior_fallback``): never metrics."""

    def __init__(self, measurements: dict[str, Any] | None = None, flags: dict[str, bool] | None = None) -> None:
        self.measurements: dict[str, Measurement] = {k: measured(v) for k, v in (measurements or {}).items()}
        self.flags: dict[str, bool] = {k: bool(v) for k, v in (flags or {}).items()}

    def __getitem__(self, metric: str) -> float:
        return self.measurements[metric].value

    def __setitem__(self, metric: str, value: Any) -> None:
        self.measurements[metric] = measured(value)

    def __delitem__(self, metric: str) -> None:
        del self.measurements[metric]

    def __iter__(self) -> Iterator[str]:
        return iter(self.measurements)

    def __len__(self) -> int:
        return len(self.measurements)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.measurements!r}, flags={self.flags!r})"

    def __eq__(self, other: object) -> bool:
        """Equal rows hold the same measurements (NaN equal to NaN: both not measured) and flags."""
        if type(self) is not type(other):
            return NotImplemented
        return self.to_dict() == other.to_dict()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def measurement(self, metric: str) -> Measurement:
        """The metric's measurement, or a NaN one where the row has none."""
        return self.measurements.get(metric) or Measurement(math.nan)

    def stderr(self, metric: str) -> float:
        return self.measurement(metric).stderr

    def caveat(self, metric: str) -> str:
        return self.measurement(metric).caveat

    def to_dict(self) -> dict[str, Any]:
        """Its JSON: ``metrics`` (each :meth:`Measurement.to_dict`) and ``flags``."""
        return {"metrics": {k: m.to_dict() for k, m in self.measurements.items()}, "flags": dict(self.flags)}

    @classmethod
    def _parts(cls, data: Any, where: str) -> tuple[dict[str, Measurement], dict[str, bool]]:
        if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
            raise MiTasksError(f"{where}: a row without its metrics; re-run with this mi-tasks version")
        return ({k: Measurement.from_dict(v, f"{where}, {k}") for k, v in data["metrics"].items()},
                {k: bool(v) for k, v in (data.get("flags") or {}).items()})

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Scores:
        return cls(*cls._parts(data, where))


class LayerRow(Scores):
    """The measurements of one layer: its index, its depth in [0, 1] (layer / number of blocks) and scores.

    ``row["layer"]`` and ``row["depth"]`` read like its metrics, so a row reads as the table shows it."""

    def __init__(self, layer: int, depth: float, measurements: dict[str, Any] | None = None,
                 flags: dict[str, bool] | None = None) -> None:
        super().__init__(measurements, flags)
        self.layer, self.depth = int(layer), float(depth)

    def __getitem__(self, key: str) -> float:
        if key == "layer":
            return self.layer
        if key == "depth":
            return self.depth
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        return key in ("layer", "depth") or key in self.measurements

    def __repr__(self) -> str:
        return f"LayerRow(layer={self.layer}, depth={self.depth:.3f}, {self.measurements!r}, flags={self.flags!r})"

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "depth": self.depth, **super().to_dict()}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> LayerRow:
        try:
            layer, depth = int(data["layer"]), float(data["depth"])
        except (KeyError, TypeError, ValueError) as e:
            raise MiTasksError(f"{where}: a row without its layer and depth ({e}); re-run with this mi-tasks version") from None
        return cls(layer, depth, *cls._parts(data, f"{where}, layer {layer}"))


def rows_from_dict(data: Any, where: str) -> list[LayerRow]:
    """The rows of a results record (``to_dict``'s ``layers``); a malformed record names ``where``."""
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, list):
        raise MiTasksError(f"{where}: no per-layer rows; re-run with this mi-tasks version")
    return [LayerRow.from_dict(r, where) for r in layers]


@dataclass
class LayerResult:
    """Rows ``layers`` (:class:`LayerRow`: layer, depth and measurements) and the settings ``meta``."""

    layers: list[LayerRow]
    meta: dict[str, Any] = field(default_factory=dict)

    KIND: ClassVar[str] = "per-layer"
    """Named in the unknown-metric message (the family's kind of result)."""
    TABLE_METRICS: ClassVar[tuple[str, ...]] = ()
    """Default table columns (those present in some row); empty: every metric."""
    TABLE_DIGITS: ClassVar[int] = 4

    def __post_init__(self) -> None:
        wrong = next((r for r in self.layers if not isinstance(r, LayerRow)), None)
        if wrong is not None:
            raise MiTasksError(f"a {type(self).__name__} row is a {type(wrong).__name__}, not a LayerRow; build each row "
                               "as LayerRow(layer, depth, {metric: value or Measurement(value, stderr, ...)})")

    def metric_names(self) -> list[str]:
        """The metrics the rows hold, in their first-seen order (``layer`` and ``depth`` excepted)."""
        return list(dict.fromkeys(k for r in self.layers for k in r.measurements))

    def curve(self, metric: str) -> list[tuple[int, float, float]]:
        """(layer, normalized depth, value) for one metric; a missing value is NaN."""
        names = self.metric_names()
        if metric not in names:
            raise MiTasksError(f"unknown {self.KIND} metric {metric!r}: choose one of {', '.join(names) or '(none)'}")
        return [(r.layer, r.depth, r.measurement(metric).value) for r in self.layers]

    def to_dict(self) -> dict[str, Any]:
        """``layers``, the subclass's extra keys (:meth:`_extras`), then ``meta``: what results files store.

        Strict JSON: a value that is not finite is ``null`` (``meta["not_measured"]`` says why)."""
        return strict_json({"layers": [r.to_dict() for r in self.layers], **self._extras(), "meta": dict(self.meta)})

    def table(self, metrics: Sequence[str] | None = None) -> str:
        """A plain-text table: one row per layer (then any extra rows), one column per metric, then notes."""
        cols = self._default_metrics() if metrics is None else list(metrics)
        widths = [max(len(m), 8) for m in cols]
        lines = ["  ".join([f"{'layer':>5}", f"{'depth':>6}", *(f"{m:>{w}}" for m, w in zip(cols, widths))])]
        rows: list[tuple[str, str, Scores]] = [(str(r.layer), f"{r.depth:.3f}", r) for r in self.layers]
        rows += [(label, "", r) for label, r in self._extra_rows()]
        for label, depth, r in rows:
            cells = (f"{self._cell(r, m):>{w}}" for m, w in zip(cols, widths))
            lines.append("  ".join([f"{label:>5}", f"{depth:>6}", *cells]))
        return "\n".join([*lines, *self._notes(cols), *self._not_measured(cols)])

    def _not_measured(self, metrics: Sequence[str]) -> list[str]:
        """A line per shown metric the family could not measure (its cells read ``-``)."""
        flagged = self.meta.get(NOT_MEASURED) or {}
        return [f"{m}: not measured at layers {', '.join(map(str, flagged[m]['layers']))}: {flagged[m]['reason']}"
                for m in metrics if m in flagged]

    def _default_metrics(self) -> list[str]:
        names = self.metric_names()
        return [m for m in self.TABLE_METRICS if m in names] if self.TABLE_METRICS else names

    def _cell(self, row: Scores, metric: str) -> str:
        """One table cell's text: the value, its caveat in its place (``vacuous``), or ``-`` where there is none."""
        m = row.measurement(metric)
        if m.caveat:
            return m.caveat
        return "-" if math.isnan(m.value) else f"{m.value:.{self.TABLE_DIGITS}f}"

    def _extras(self) -> dict[str, Any]:
        """Keys of :meth:`to_dict` between ``layers`` and ``meta`` (e.g. the prior, a mean)."""
        return {}

    def _extra_rows(self) -> list[tuple[str, Scores]]:
        """(label, row) printed after the layers (e.g. the frequency prior)."""
        return []

    def _notes(self, metrics: Sequence[str]) -> list[str]:
        """Lines printed under the table (e.g. a mean, a caveat)."""
        return []

