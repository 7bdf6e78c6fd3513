"""One base for per-layer results, so every metric answers ``curve``, ``table`` and ``to_dict`` alike.

The harness, the reports and the CLI read recoverability, entropy, emergence and token-gain
results through this one interface; a subclass only names its default table columns and adds its
own extra rows, notes and ``to_dict`` keys through the hooks below.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import MiTasksError

ROW_KEYS = ("layer", "depth")
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


@dataclass
class LayerResult:
    """Rows ``layers`` (each with ``layer``, ``depth`` in [0, 1] and the metrics) and the settings ``meta``."""

    layers: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)

    KIND: ClassVar[str] = "per-layer"
    """Named in the unknown-metric message (the family's kind of result)."""
    TABLE_METRICS: ClassVar[tuple[str, ...]] = ()
    """Default table columns (those present in some row); empty: every metric."""
    TABLE_DIGITS: ClassVar[int] = 4

    def metric_names(self) -> list[str]:
        """The metrics the rows hold, in their first-seen order (``layer`` and ``depth`` excepted)."""
        return list(dict.fromkeys(k for r in self.layers for k in r if k not in ROW_KEYS))

    def curve(self, metric: str) -> list[tuple[int, float, float]]:
        """(layer, normalized depth, value) for one metric; a missing value is NaN."""
        names = self.metric_names()
        if metric not in names:
            raise MiTasksError(f"unknown {self.KIND} metric {metric!r}: choose one of {', '.join(names) or '(none)'}")
        return [(int(r["layer"]), float(r["depth"]), _as_float(r.get(metric))) for r in self.layers]

    def to_dict(self) -> dict[str, Any]:
        """``layers``, the subclass's extra keys (:meth:`_extras`), then ``meta``: what results files store.

        Strict JSON: a value that is not finite is ``null`` (``meta["not_measured"]`` says why)."""
        return strict_json({"layers": [dict(r) for r in self.layers], **self._extras(), "meta": dict(self.meta)})

    def table(self, metrics: Sequence[str] | None = None) -> str:
        """A plain-text table: one row per layer (then any extra rows), one column per metric, then notes."""
        cols = self._default_metrics() if metrics is None else list(metrics)
        widths = [max(len(m), 8) for m in cols]
        lines = ["  ".join([f"{'layer':>5}", f"{'depth':>6}", *(f"{m:>{w}}" for m, w in zip(cols, widths))])]
        rows = [(str(int(r["layer"])), f"{float(r['depth']):.3f}", r) for r in self.layers]
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

    def _cell(self, row: dict[str, Any], metric: str) -> str:
        """One table cell's text: the value, or ``-`` where the row has none."""
        v = row.get(metric)
        if v is None or isinstance(v, bool) or isinstance(v, str):
            return "-" if v is None else str(v)
        try:
            x = float(v)
        except (TypeError, ValueError):
            return str(v)
        return "-" if math.isnan(x) else f"{x:.{self.TABLE_DIGITS}f}"

    def _extras(self) -> dict[str, Any]:
        """Keys of :meth:`to_dict` between ``layers`` and ``meta`` (e.g. the prior, a mean)."""
        return {}

    def _extra_rows(self) -> list[tuple[str, dict[str, Any]]]:
        """(label, row) printed after the layers (e.g. the frequency prior)."""
        return []

    def _notes(self, metrics: Sequence[str]) -> list[str]:
        """Lines printed under the table (e.g. a mean, a caveat)."""
        return []


def _as_float(value: Any) -> float:
    return float("nan") if value is None else float(value)
