"""The board's row schema (versioned) and the checks a submitted row must pass.

A row is one (model run, task, metric) value with everything that decides whether it can stand
beside another model's row: the rows ``mi-tasks card --leaderboard`` and ``mi-tasks suite`` write,
plus the schema version, the model revision, an optional per-layer curve and provenance. Standard
lm-eval scores found in the same results files are rows too (``standard: true``). docs/leaderboard.md
describes every field; bump ``SCHEMA_VERSION`` when a field changes meaning.
"""
from __future__ import annotations

import math
import re
from typing import Any, Iterable

from ...metrics.registry import all_families, family_reporting

SCHEMA_VERSION = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TEXT = ("model", "model_path", "model_args", "model_revision", "task", "metric", "source")
# settings that must be equal for two models' rows of one task to be compared
PASS_KEYS = ("layers", "pooling", "max_text_length", "seed", "include_special")


def family_row_settings() -> tuple[str, ...]:
    """Every family's ``row_settings`` (settings a reader must see beside its numbers), each once."""
    return tuple(dict.fromkeys(k for fam in all_families() for k in fam.row_settings))


def mi_keys() -> tuple[str, ...]:
    """The settings an MI row carries and compares by: the pass's, then the families' row settings."""
    return (*PASS_KEYS, *family_row_settings())


def family_comparability(row: dict[str, Any]) -> dict[str, Any] | str:
    """The fields beyond the settings that must be equal for ``row`` to compare, as its metric's family says
    (:meth:`~mi_tasks.metrics.family.MetricFamily.row_comparability`), or what in the row makes that unknowable."""
    fam = family_reporting(str(row.get("metric"))) if kind_of(row) != "standard" else None
    return fam.row_comparability(row) if fam is not None else {}


STANDARD_KEYS = ("num_fewshot", "task_version", "limit")
FIX = "re-run with this mi-tasks version (`lm_eval ... --output_path DIR`) and submit its results_*.json"


def kind_of(row: dict[str, Any]) -> str:
    """``standard`` (an lm-eval task's own score), ``mteb`` or ``mi`` (an mi-tasks task run by lm-eval)."""
    if row.get("standard"):
        return "standard"
    return "mteb" if str(row.get("task", "")).startswith("mteb:") else "mi"


def _required(kind: str) -> tuple[str, ...]:
    if kind == "mteb":
        return ("mteb_version",)
    need = ("model_dtype", "lm_eval_version", "transformers_version")
    return need if kind == "standard" else need + ("seed", "mi_tasks_version")


def corpus_keys(row: dict[str, Any]) -> list[str]:
    """The corpora a row names (``train_corpus``, ``eval_corpus``, ``entropy_corpus``, ...)."""
    return sorted([k for k in row if k[-7:] == "_corpus" and row[k] not in (None, "")])


def check_row(row: Any) -> str | None:
    """What is wrong with ``row`` (one phrase naming the field and the fix), or None when it is a valid row."""
    if not isinstance(row, dict):
        return f"a row must be a JSON object, not {type(row).__name__}"
    version = row.get("schema_version")
    if version != SCHEMA_VERSION:
        return (f"schema_version is {version!r}, this board reads version {SCHEMA_VERSION}; "
                "write the rows with this mi-tasks version (`mi-tasks card --leaderboard`)")
    for k in _TEXT:
        if not isinstance(row.get(k), str) or not row[k].strip():
            return f"{k} is missing or not text"
    value = row.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        at = f" at layer {row['headline_layer']}" if row.get("headline_layer") is not None else ""
        return (f"value {value!r}{at} is not a finite number: the run did not measure it (its log says why); "
                "a board holds measured numbers only: re-run with inputs that support the metric")
    problem = non_finite(row)
    if problem:
        return problem
    err = row.get("value_stderr")
    if err is not None and (isinstance(err, bool) or not isinstance(err, (int, float)) or not math.isfinite(err) or err < 0):
        return f"value_stderr {err!r} is not a finite number >= 0 (or null where the task records none)"
    if row.get("higher_is_better") not in (None, True, False):
        return f"higher_is_better {row['higher_is_better']!r} is not true, false or null"
    kind = kind_of(row)
    missing = [k for k in _required(kind) if row.get(k) in (None, "")]
    if missing:
        return f"no provenance: {', '.join(missing)} missing; {FIX}"
    for k in corpus_keys(row):
        sha = row.get(f"{k}_sha256")
        if not isinstance(sha, str) or not _SHA256.match(sha):
            return f"{k} {row[k]!r} has no sha256 ({k}_sha256), so nobody can tell which texts were scored; {FIX}"
    compared = family_comparability(row)
    if isinstance(compared, str):
        return f"{compared}; {FIX}"
    curve = row.get("curve")
    if curve is not None and not _curve_ok(curve):
        return "curve must hold equally long lists layer, depth, value (and optionally stderr) of numbers or null"
    return None


_CURVE_TYPES = {int, float, type(None)}


def non_finite(row: dict[str, Any]) -> str | None:
    """The first NaN or infinity anywhere in ``row`` (a field, or a curve's point with its layer), or None.

    Non-finite numbers are refused, not kept as missing: a board and its downloads are strict JSON,
    and a missing point is written ``null`` by whoever knows why it is missing."""
    for k, v in row.items():
        if isinstance(v, float) and not math.isfinite(v):
            return f"{k} is {v!r}, not a finite number (write null where there is no number)"
    curve = row.get("curve")
    if isinstance(curve, dict) and isinstance(curve.get("layer"), list):
        for col, values in curve.items():
            for i, v in enumerate(values if isinstance(values, list) else []):
                if isinstance(v, float) and not math.isfinite(v):
                    layer = curve["layer"][i] if i < len(curve["layer"]) else i
                    return f"curve {col} is {v!r} at layer {layer}, not a finite number (null where it was not measured)"
    return None


def _curve_ok(curve: Any) -> bool:
    if not isinstance(curve, dict) or not all(isinstance(curve.get(k), list) for k in ("layer", "depth", "value")):
        return False
    cols = [curve[k] for k in ("layer", "depth", "value", "stderr") if k in curve]
    if not isinstance(curve.get("stderr", []), list) or len({len(c) for c in cols}) != 1:
        return False
    return {type(v) for c in cols for v in c} <= _CURVE_TYPES  # numbers or null (a bool is not a number here)


def settings_of(row: dict[str, Any]) -> dict[str, Any]:
    """The settings that decide comparability of ``row`` with another model's row of the same task."""
    if kind_of(row) == "standard":
        return {k: row.get(k) for k in STANDARD_KEYS}
    out = {k: row.get(k) for k in mi_keys()}
    out.update({f"{k}_sha256": row.get(f"{k}_sha256") for k in corpus_keys(row)})
    compared = family_comparability(row)
    out.update(compared if isinstance(compared, dict) else {})
    return out


def model_key(row: dict[str, Any]) -> tuple[str, str]:
    """Which model a row is about: what was loaded and how (lm-eval's model_args) at which revision."""
    return str(row.get("model_args")), str(row.get("model_revision"))


def comparability_problem(new: Iterable[dict[str, Any]], board: Iterable[dict[str, Any]]) -> str | None:
    """Why ``new`` rows cannot stand beside the ``board``'s rows of their tasks (None when they can).

    Rows of the same model and task are left out of the reference: a submission replaces them.
    """
    new = list(new)
    mine = {(model_key(r), r["task"]) for r in new}
    reference: dict[str, dict[str, Any]] = {}
    for r in board:
        if (model_key(r), r["task"]) not in mine:
            reference.setdefault(r["task"], r)
    for r in new:
        ref = reference.setdefault(r["task"], r)  # the first row of a task new to the board sets its settings
        want, got = settings_of(ref), settings_of(r)
        for k in sorted(set(want) | set(got)):
            if want.get(k) != got.get(k):
                return (f"task {r['task']}: {k} is {got.get(k)!r} but the board's rows (e.g. {ref['model']}) have "
                        f"{want.get(k)!r}; rows with different {k} do not compare: re-run with the board's "
                        "settings or start another board")
    return None
