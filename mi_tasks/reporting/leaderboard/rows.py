"""Board rows from what people submit: lm-eval results JSONs, MTEB results and sweeps, or rows already written.

MI rows are the ones ``mi-tasks card --leaderboard`` writes (``card.leaderboard_rows``), each with its
per-layer curve and the results file's sha256 added; the standard lm-eval tasks of the same file
(hellaswag ``acc``, ...) become rows of their own with the settings that decide their comparability.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from ...errors import MiTasksError
from ..card import leaderboard_rows
from ..results import TaskCurves, load_results, model_args_of, revision_of
from .schema import SCHEMA_VERSION


def _nums(values: Any) -> list[float | None]:
    """Finite numbers as they are, NaN and infinities as null (JSON has neither)."""
    isfinite = math.isfinite
    return [v if isfinite(v) else None for v in values]


def curve_of(t: TaskCurves, metric: str) -> dict[str, list[Any]] | None:
    """One metric's per-layer values (and standard errors where the task has them) as column lists."""
    pts = t.curves.get(metric)
    if not pts:
        return None
    err = {lay: v for lay, _, v in (t.stderr(metric) or [])}
    layer, depth, value = zip(*pts)
    # a value that is not finite stays so, and the board refuses it naming the layer; a missing error bar is null
    out: dict[str, list[Any]] = {"layer": list(layer), "depth": _nums(depth), "value": list(value)}
    if err:
        out["stderr"] = _nums(err.get(lay, math.nan) for lay in layer)
    return out


def headline_stderr(curve: dict[str, list[Any]] | None, layer: Any) -> float | None:
    """The standard error at the headline layer (None where the task records none, or it is not finite there)."""
    if not curve or "stderr" not in curve or layer not in curve["layer"]:
        return None
    return curve["stderr"][curve["layer"].index(layer)]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def standard_rows(data: dict[str, Any], like: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows for the lm-eval tasks of a results file that are not mi-tasks tasks (their scores as lm-eval printed)."""
    configs = data.get("configs") or {}
    # lm-eval lists every task in group_subtasks; a group is one with subtasks
    groups = {g for g, sub in (data.get("group_subtasks") or {}).items() if sub} | set(data.get("groups") or {})
    cfg = data.get("config") or {}
    better = data.get("higher_is_better") or {}
    out = []
    for task, scores in (data.get("results") or {}).items():
        tcfg = configs.get(task)
        if task in groups or not isinstance(tcfg, dict) or "mi_results" in tcfg or not isinstance(scores, dict):
            continue
        for key, value in scores.items():
            metric, _, flt = key.partition(",")
            if not flt or metric.endswith("_stderr") or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            # a NaN or infinity stays, so the board refuses the file naming task and metric (never dropped unsaid)
            err = scores.get(f"{metric}_stderr,{flt}")
            name = metric if flt == "none" else f"{metric},{flt}"
            hib = (better.get(task) or {}).get(metric) if isinstance(better.get(task), dict) else None
            out.append({**like, "task": task, "metric": name, "value": float(value), "standard": True,
                        "higher_is_better": hib if isinstance(hib, bool) else None,
                        "value_stderr": float(err) if isinstance(err, (int, float)) and math.isfinite(err) else None,
                        "num_fewshot": (data.get("n-shot") or {}).get(task),
                        "task_version": (data.get("versions") or {}).get(task), "limit": cfg.get("limit")})
    return out


def _rows_file(data: Any) -> list[Any] | None:
    """Rows already written: a leaderboard.json (a list) or a board (``{"rows": [...]}``)."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("rows"), list) and "schema_version" in data:
        return data["rows"]
    return None


def rows_from_file(path: str | Path, labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every row one submitted file holds (unchecked: the board checks them)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MiTasksError(f"cannot read {p} as JSON ({e}); submit results_*.json, MTEB results or leaderboard.json") from None
    rows = _rows_file(data)
    if rows is not None:
        return rows
    res = load_results([p], labels=labels, parsed={p.resolve(): data}, standard_tasks_expected=True)
    curves = {(t.run.source, t.task): t for t in res.tasks}
    sha = _sha256(p)
    out = []
    for row in leaderboard_rows(res):
        t = curves[(row["source"], row["task"])]
        curve = curve_of(t, row["metric"])
        out.append({**row, "value_stderr": headline_stderr(curve, row.get("headline_layer")), "source_sha256": sha,
                    "curve": curve})
    if isinstance(data, dict) and isinstance(data.get("configs"), dict):
        run = res.tasks[0].run if res.tasks else None
        if run is not None:
            cfg = data.get("config") or {}
            like = {"schema_version": SCHEMA_VERSION, "model": run.label, "model_path": run.model,
                    "model_args": run.key, "model_revision": revision_of(run), "run_date": run.date,
                    "model_dtype": str(cfg.get("model_dtype") or model_args_of(data).get("dtype") or "") or None,
                    **{f"{k}_version": v for k, v in sorted(run.versions.items())},
                    "source": run.source, "source_sha256": sha}
            out += standard_rows(data, like)
    return out
