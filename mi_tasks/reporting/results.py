"""Read lm-eval results JSONs (and MTEB layer sweeps and MI task results) into tidy per-layer records.

A results file holds one model run; every mi-tasks task in it carries its per-layer curves under
``configs.<task>.mi_results``. Each (run, task) becomes a :class:`TaskCurves`; ``Results.records``
flattens them to rows of (model, task, metric, layer, depth, value), ready for tables and plots.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from ..states.bundled import display_name
from ..errors import MiTasksError
from ..metrics.registry import family_reporting
from ..metrics.result import MEASUREMENTS_KEY, LayerRow, Measurement, Scores, rows_from_dict

log = logging.getLogger(__name__)

MTEB_KIND = "mteb_layer_sweep"
# A layer sweep's row: where and what, then the measurement's own fields (Measurement.to_dict), and the
# reason a value could not be measured where one could not.
SWEEP_ROW_FIELDS = ("layer", "depth", "task", "metric", "not_measured")


def sweep_row(layer: int, depth: float, task: str, metric: str, m: Measurement, not_measured: str = "") -> dict[str, Any]:
    """One row of an MTEB layer sweep (``kind: mteb_layer_sweep``), as ``layer_sweep`` saves it and reports read it."""
    return {"layer": layer, "depth": depth, "task": task, "metric": metric, **m.to_dict(),
            **({"not_measured": not_measured} if not_measured else {})}

# Path components that say nothing about which model it is; labels then take the parent too.
_GENERIC_DIRS = {"model", "models", "final", "checkpoint", "snapshots", "output", "outputs", "main", "hf", "merged"}


@dataclass(frozen=True)
class Run:
    """One evaluation of one model: which model, loaded how, when, with which package versions."""

    model: str                      # the model as lm-eval names it (``pretrained=``), or MTEB's model name
    model_args: dict[str, Any]      # lm-eval ``config.model_args`` (pretrained, gguf_file, dtype, ...)
    date: str                       # ISO-8601 UTC
    source: str                     # the results file
    versions: dict[str, str]        # mi_tasks, lm_eval, transformers, torch, mteb where known
    label: str = ""                 # short display name, unique among the loaded runs

    @property
    def key(self) -> str:
        """The model's identity for comparisons: what was loaded and how (all model_args)."""
        args = ",".join(f"{k}={v}" for k, v in sorted(self.model_args.items())) if self.model_args else self.model
        return args


def revision_of(run: Run) -> str:
    """The model's revision as lm-eval records it: ``revision=`` in model_args, else its default ``main``."""
    return str(run.model_args.get("revision") or "main")


@dataclass
class TaskCurves:
    """Per-layer results of one task in one run, with the headline scalars lm-eval printed.

    ``rows`` are the run's rows as written (:mod:`mi_tasks.metrics.result`: per layer, each metric's
    measurement with its standard error, caveat and counts, and the row's flags); ``curves`` and
    ``measurements`` are views of them by metric.
    """

    run: Run
    task: str
    rows: list[LayerRow]
    headline: dict[str, float]                          # metric -> value in the printed table
    headline_layer: int | None
    settings: dict[str, Any] = field(default_factory=dict)   # mi_settings
    meta: dict[str, Any] = field(default_factory=dict)       # mi_results.meta
    kind: str = "lm_eval"

    @property
    def curves(self) -> dict[str, list[tuple[int, float, float]]]:
        """metric -> [(layer, depth, value), ...] in row order."""
        out: dict[str, list[tuple[int, float, float]]] = {}
        for row in self.rows:
            for metric, m in row.measurements.items():
                out.setdefault(metric, []).append((row.layer, row.depth, m.value))
        return out

    @property
    def measurements(self) -> dict[str, dict[int, Measurement]]:
        """metric -> layer -> measurement."""
        out: dict[str, dict[int, Measurement]] = {}
        for row in self.rows:
            for metric, m in row.measurements.items():
                out.setdefault(metric, {})[row.layer] = m
        return out

    def metrics(self) -> list[str]:
        """Metrics with a value at some layer (one a run turned off, bleu4 with text_metrics false, is all NaN:
        no figure, no column)."""
        return [m for m, pts in self.curves.items() if any(math.isfinite(v) for _, _, v in pts)]

    def stderr(self, metric: str) -> list[tuple[int, float, float]] | None:
        """(layer, depth, standard error) where the metric has errors (NaN at a layer without one), else None."""
        at = [(row.layer, row.depth, row.measurements[metric]) for row in self.rows if metric in row.measurements]
        if not any(m.has_stderr for _, _, m in at):
            return None
        return [(lay, d, m.stderr) for lay, d, m in at]

    def row_at(self, layer: int | None) -> LayerRow | None:
        """The row of ``layer``, or None where the task has none."""
        return next((r for r in self.rows if r.layer == layer), None) if layer is not None else None

    def caveat_at(self, metric: str, layer: int | None) -> str:
        """Why the metric's value at ``layer`` is no measurement (``vacuous``), or ""."""
        row = self.row_at(layer)
        return row.measurements[metric].caveat if row is not None and metric in row.measurements else ""

    def families(self) -> list[Any]:
        """The metric families whose metrics its curves hold (their row settings and comparability apply)."""
        return list(dict.fromkeys(f for f in map(family_reporting, self.curves) if f is not None))

    def value_at(self, metric: str, layer: int) -> float | None:
        row = self.row_at(layer)
        return row.measurements[metric].value if row is not None and metric in row.measurements else None


@dataclass
class Results:
    """Everything read from the given files, in the order found."""

    tasks: list[TaskCurves]

    @property
    def runs(self) -> list[Run]:
        seen: dict[tuple[str, str], Run] = {}
        for t in self.tasks:
            seen.setdefault((t.run.source, t.run.label), t.run)
        return list(seen.values())

    def task_names(self) -> list[str]:
        return list(dict.fromkeys(t.task for t in self.tasks))

    def for_run(self, run: Run) -> list[TaskCurves]:
        return [t for t in self.tasks if t.run == run]

    @property
    def records(self) -> list[dict[str, Any]]:
        """Tidy rows: one per (run, task, metric, layer), each with its measurement's error, caveat and counts."""
        out = []
        for t in self.tasks:
            for metric in t.curves:
                for row in t.rows:
                    if metric not in row.measurements:
                        continue
                    m = row.measurements[metric]
                    out.append({"model": t.run.label, "model_path": t.run.model, "run_date": t.run.date,
                                "task": t.task, "metric": metric, "layer": row.layer, "depth": row.depth, "value": m.value,
                                "stderr": m.stderr if m.has_stderr else None, "caveat": m.caveat, "n": m.n,
                                "dropped": m.dropped, "headline_layer": t.headline_layer, "source": t.run.source})
        return out


def _iso(date: Any, fallback: Path) -> str:
    if isinstance(date, (int, float)):
        return datetime.fromtimestamp(float(date), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(date, str) and date:
        return date
    m = re.search(r"(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})", fallback.name)
    return f"{m.group(1)}T{m.group(2)}:{m.group(3)}:{m.group(4)}Z" if m else ""


def _torch_version(env_info: Any) -> str | None:
    m = re.search(r"PyTorch version: (\S+)", env_info) if isinstance(env_info, str) else None
    return m.group(1) if m else None


def _number(value: Any) -> float:
    """A results file's number; ``null`` (strict JSON) and ``"N/A"`` (lm-eval's table) read as NaN, as bare NaN does."""
    return math.nan if value is None or value == "N/A" else float(value)


def model_args_of(data: dict[str, Any]) -> dict[str, Any]:
    """A results JSON's ``config.model_args`` as a dict (lm-eval 0.4.9 writes ``"pretrained=...,dtype=..."``)."""
    model_args = (data.get("config") or {}).get("model_args") or {}
    if isinstance(model_args, str):
        return dict(kv.split("=", 1) for kv in model_args.split(",") if "=" in kv)
    return dict(model_args)


def _lm_eval_file(path: Path, data: dict[str, Any], standard_tasks_expected: bool = False) -> list[TaskCurves]:
    model_args = model_args_of(data)
    configs = data.get("configs") or {}
    # lm-eval sorts configs by name; the run's own order (mi_recoverability before mi_fano) reads better
    ordered = [t for sub in (data.get("group_subtasks") or {}).values() if isinstance(sub, list) for t in sub if t in configs]
    ordered += [t for t in data.get("results") or {} if t in configs]
    # mi_suite's order whatever order lm-eval wrote (0.4.9 writes other tasks' lists in reverse)
    family = ("mi_recoverability", "mi_fano", "mi_entropy", "mi_geometry", "mi_views", "mi_emergence")
    rank = {t: next((i for i, f in enumerate(family) if t.startswith(f)), len(family)) for t in ordered}
    ordered = sorted(dict.fromkeys(ordered), key=lambda t: rank[t])
    mi_of = {t: configs[t].get("mi_results") if isinstance(configs[t], dict) else None
             for t in dict.fromkeys(ordered + list(configs))}
    skipped = [t for t, mi in mi_of.items() if not isinstance(mi, dict)]
    if skipped and not standard_tasks_expected:
        log.warning("%s: skipped task(s) without mi_results (not mi-tasks tasks, or the run failed): %s",
                    path, ", ".join(skipped))
    for t, mi in list(mi_of.items()):  # a task that declined this model (e.g. emergence on an encoder) says why
        if isinstance(mi, dict) and not mi.get("layers"):
            log.warning("%s: task %s has no per-layer results for this model: %s", path, t,
                        mi.get("skipped") or "empty mi_results")
            mi_of[t] = None
    metas = {t: dict(mi.get("meta") or {}) for t, mi in mi_of.items() if isinstance(mi, dict)}
    versions = {"lm_eval": data.get("lm_eval_version"), "transformers": data.get("transformers_version"),
                "torch": _torch_version(data.get("pretty_env_info")),
                "mi_tasks": next((str(m["mi_tasks_version"]) for m in metas.values() if m.get("mi_tasks_version")), None)}
    model = (data.get("model_name") or model_args.get("pretrained")
             or next((m["model"] for m in metas.values() if m.get("model")), None) or "unknown")
    run = Run(model=str(model), model_args=dict(model_args), date=_iso(data.get("date"), path), source=str(path),
              versions={k: str(v) for k, v in versions.items() if v})  # one run for every task of the file
    out = []
    for task, meta in metas.items():
        mi, tcfg = mi_of[task], configs[task]
        headline = {k.split(",", 1)[0]: _number(val) for k, val in (data.get("results", {}).get(task) or {}).items()
                    if "," in k and "_stderr" not in k and (isinstance(val, (int, float)) or val in (None, "N/A"))}
        hl = mi.get("headline_layer")
        rows = rows_from_dict(mi, f"{path}: task {task}")
        if not any(row.measurements for row in rows):
            raise MiTasksError(f"{path}: task {task} has mi_results without per-layer measurements")
        out.append(TaskCurves(run=run, task=task, rows=rows, headline=headline,
                              headline_layer=int(hl) if hl is not None else None,
                              settings=dict(tcfg.get("mi_settings") or {}), meta=meta))
    return out


def _mteb_file(path: Path, data: dict[str, Any]) -> list[TaskCurves]:
    rows = data.get("rows")
    if not isinstance(rows, list) or not rows:
        raise MiTasksError(f"{path}: MTEB layer sweep without rows")
    versions = {k: str(data[f"{k}_version"]) for k in ("mteb", "mi_tasks") if data.get(f"{k}_version")}
    st = os.stat(path)
    run = Run(model=str(data.get("model", "unknown")), model_args={"pretrained": data.get("model", "unknown"),
                                                                    "pooling": data.get("pooling")},
              date=_iso(st.st_mtime, path), source=str(path), versions=versions)
    by_task: dict[str, dict[int, LayerRow]] = {}
    try:
        for i, r in enumerate(rows):
            task, metric, layer = str(r["task"]), str(r["metric"]), int(r["layer"])
            fields = {k: v for k, v in r.items() if k not in SWEEP_ROW_FIELDS}
            m = Measurement.from_dict(fields, f"{path}: row {i + 1} ({task}, layer {layer})")
            by_task.setdefault(task, {}).setdefault(layer, LayerRow(layer, float(r["depth"]))).measurements[metric] = m
    except MiTasksError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise MiTasksError(f"{path}: malformed MTEB sweep row ({e})") from None
    out = []
    for task, layer_rows in by_task.items():
        last = max(layer_rows)  # headline: the last scored layer
        out.append(TaskCurves(run=run, task=f"mteb:{task}", rows=[layer_rows[lay] for lay in sorted(layer_rows)],
                              headline=dict(layer_rows[last]), headline_layer=last,
                              settings={"pooling": data.get("pooling"), "normalize": data.get("normalize")},
                              meta={"num_layers": data.get("num_layers"), "pooling": data.get("pooling")}, kind="mteb"))
    return out


_MTEB_NO_NAME = ("no_model_name/available", "no_model_name_available")


def _mteb_mi_scores(data: Any) -> dict[str, Any] | None:
    """The test scores of a stored MTEB result of an mi-tasks information task (its scores hold the measurements
    whole under ``mi_measurements``), or None for any other file."""
    if not (isinstance(data, dict) and "task_name" in data and isinstance(data.get("scores"), dict)):
        return None
    test = data["scores"].get("test")
    row = test[0] if isinstance(test, list) and test and isinstance(test[0], dict) else None
    return row if row is not None and isinstance(row.get(MEASUREMENTS_KEY), dict) else None


def _mteb_mi_file(path: Path, data: dict[str, Any], scores: dict[str, Any]) -> list[TaskCurves]:
    """A stored MTEB result of an information task: one point (the encoder's layer, else its output)."""
    meta_file = path.parent / "model_meta.json"
    mm = _read_json(meta_file) if meta_file.is_file() else {}
    exp = mm.get("experiment_kwargs") or {}
    parts = path.parts
    name = mm.get("name") or (parts[-3].replace("__", "/") if len(parts) >= 3 else "unknown")
    if name in _MTEB_NO_NAME:  # mteb's placeholder for a model it could not name (a SentenceTransformer from a folder)
        name = display_name(str(mm.get("adapted_from") or "")) or (
            f"unnamed model ({mm['embed_dim']}-d)" if mm.get("embed_dim") else "unnamed model")
        log.warning("%s: mteb stored no model name; it is shown as %r (set model.model_card_data.model_name before "
                    "mteb.evaluate, or pass --label '%s=NAME')", path.parent, name, name)
    layer, n = exp.get("layer"), exp.get("num_layers")
    if layer is None:  # an encoder without layers (sentence-transformers, API): its output embedding
        layer, depth, n = -1, 1.0, None
    else:
        depth = int(layer) / int(n) if n else float("nan")
    whole = Scores.from_dict(scores[MEASUREMENTS_KEY], f"{path}: {MEASUREMENTS_KEY}")
    # the numbers beside the measurements (a prior's score, vocabulary sizes, counts) describe the run
    extras = {k: v for k, v in scores.items() if k not in whole.measurements and k != "main_score"
              and isinstance(v, (int, float)) and not isinstance(v, bool)}
    fam = next((f for f in map(family_reporting, whole.measurements) if f is not None), None)
    shown = fam.embedding_scorer.headline if fam is not None and fam.embedding_scorer is not None else tuple(whole)
    # one run per stored model variant (the folder), so its tasks share a column in tables
    stamp = max(q.stat().st_mtime for q in path.parent.glob("*.json"))
    run = Run(model=str(name), model_args={"pretrained": str(name), "revision": mm.get("revision"), **exp},
              date=_iso(stamp, path), source=str(path.parent),
              versions={"mteb": str(data.get("mteb_version") or scores.get("mteb_version") or "")})
    task = str(data["task_name"])
    corpus = {"name": task, "sha256": data.get("dataset_revision"), "rows": scores.get("n_test")}
    return [TaskCurves(run=run, task=f"mteb:{task}", rows=[LayerRow(int(layer), float(depth), whole.measurements, whole.flags)],
                       headline={k: whole[k] for k in shown if k in whole}, headline_layer=int(layer),
                       settings={"pooling": exp.get("pooling"), "normalize": exp.get("normalize")},
                       meta={"num_layers": n, "pooling": exp.get("pooling"), "eval_corpus": corpus, **extras},
                       kind="mteb")]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MiTasksError(f"cannot read {path} as JSON ({e}); give lm-eval results_*.json files or their folders") from None


def load_file(path: str | os.PathLike, data: Any = None, standard_tasks_expected: bool = False) -> list[TaskCurves]:
    """One lm-eval results JSON or MTEB layer-sweep JSON (``data``: its content where the caller parsed it already)."""
    p = Path(path)
    data = _read_json(p) if data is None else data
    if isinstance(data, dict) and data.get("kind") == MTEB_KIND:
        return _mteb_file(p, data)
    if isinstance(data, dict) and isinstance(data.get("results"), dict) and isinstance(data.get("configs"), dict):
        return _lm_eval_file(p, data, standard_tasks_expected)
    mi = _mteb_mi_scores(data)
    if mi is not None:
        return _mteb_mi_file(p, data, mi)
    raise MiTasksError(f"{p} is neither an lm-eval results JSON (keys results, configs), an mi-tasks MTEB "
                       f"layer sweep (kind: {MTEB_KIND}) nor an MTEB result of an mi-tasks information task; pass the "
                       "results_*.json that `lm_eval --output_path` writes, or mteb's results folder")


def _head(p: Path, size: int = 4096) -> str:
    try:
        if p.stat().st_size > 20_000_000:
            return ""
        with p.open("r", encoding="utf-8-sig") as f:
            return f.read(size)
    except (OSError, UnicodeDecodeError):
        return ""


def _is_mteb_sweep(p: Path) -> bool:
    return f'"{MTEB_KIND}"' in _head(p)


def _is_mteb_mi_result(p: Path) -> bool:
    head = _head(p, 1_000_000)
    return '"task_name"' in head and f'"{MEASUREMENTS_KEY}"' in head and _mteb_mi_scores(_read_json(p)) is not None


def find_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files named directly, plus results_*.json and MTEB sweeps found recursively in folders."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            found = sorted(p.rglob("results_*.json"))
            found += sorted(q for q in p.rglob("*.json") if q not in found and (_is_mteb_sweep(q) or _is_mteb_mi_result(q)))
            if not found:
                raise MiTasksError(f"no lm-eval results (results_*.json), MTEB layer sweeps or MTEB MI results found "
                                   f"under {p}; run `lm_eval ... --output_path DIR` first and pass DIR")
            out.extend(found)
        else:
            raise MiTasksError(f"{p} does not exist; pass lm-eval results JSONs or the --output_path folder")
    return list(dict.fromkeys(out))


def default_label(run: Run) -> list[str]:
    """Candidate labels, shortest first: gguf file stem, then ever longer tails of the model path."""
    parts = [x for x in re.split(r"[\\/]+", run.model) if x]
    tails = []
    start = len(parts) - 1
    while start > 0 and (parts[start].lower() in _GENERIC_DIRS or parts[start].lower().startswith("checkpoint-")):
        start -= 1
    for i in range(start, -1, -1):
        tails.append("/".join(parts[i:]))
    gguf = run.model_args.get("gguf_file")
    if gguf:
        stem = Path(str(gguf)).stem
        tails = [stem] + [f"{t}:{stem}" for t in tails]
    bundled = display_name(run.model) or display_name(str(run.model_args.get("adapted_from") or ""))
    if bundled:  # the name the headline table, cards and `--model` use for a bundled model
        tails = [bundled] + tails
    return tails or [run.model]


def _assign_labels(tasks: list[TaskCurves], labels: dict[str, str] | None) -> None:
    runs = list({t.run.source: t.run for t in tasks}.items())
    labels = labels or {}
    chosen: dict[str, str] = {}
    names: dict[str, list[str]] = {}
    for source, run in runs:
        given = labels.get(run.model) or labels.get(run.key) or labels.get(Path(run.model).name)
        names[source] = [given] if given else default_label(run)
    # shortest candidate that no other model shares
    keys = {source: run.key for source, run in runs}
    for source, _ in runs:
        cands = names[source]
        pick = cands[-1]
        for c in cands:
            clash = any(c in names[o] and keys[o] != keys[source] for o in names if o != source)
            if not clash:
                pick = c
                break
        chosen[source] = pick
    # the same model run more than once: tell runs apart by date
    by_label: dict[str, list[str]] = {}
    for source, lab in chosen.items():
        by_label.setdefault(lab, []).append(source)
    for lab, sources in by_label.items():
        if len(sources) > 1:
            for s in sources:
                run = next(r for src, r in runs if src == s)
                chosen[s] = f"{lab} @ {run.date or Path(s).stem}"
    for t in tasks:
        t.run = replace(t.run, label=chosen[t.run.source])


def load_results(paths: Iterable[str | os.PathLike] | str | os.PathLike, labels: dict[str, str] | None = None,
                 parsed: dict[Path, Any] | None = None, standard_tasks_expected: bool = False) -> Results:
    """Load results files or folders; ``labels`` maps a model path (or its last folder name) to a display name.

    ``parsed``: files' JSON already read, by resolved path (the leaderboard reads each submission once).
    ``standard_tasks_expected``: tasks without mi_results are read elsewhere (the leaderboard's standard
    scores), so they are not warned of.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = find_files(paths)
    tasks: list[TaskCurves] = []
    for f in files:
        tasks.extend(load_file(f, (parsed or {}).get(Path(f).resolve()), standard_tasks_expected))
    if not tasks:
        raise MiTasksError(f"no mi-tasks results in {', '.join(map(str, files))}: none of their tasks holds mi_results "
                           "(run lm_eval with --tasks mi_suite or another mi-tasks task)")
    _assign_labels(tasks, labels)
    return Results(tasks=tasks)
