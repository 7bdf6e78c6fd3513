"""Markdown and CSV tables: every layer's value (long format), and a compact headline table.

The headline table has one row per (task, metric) that lm-eval printed and one column per model:
the value at the task's headline layer, and the curve's peak with its normalized depth. A row
that repeats an earlier task's numbers exactly (``mi_fano`` shares ``mi_recoverability``'s
bounds) is shown once. A Fano bound that is vacuous at the headline layer (0 by the clamp) reads
"vacuous", and a task whose token-target results mix tokenizers gets a note saying so.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from ..metrics.recoverability.coverage import FLAGS_KEY
from .comparability import find_clashes, vacuous_at
from .results import Results, Run

LAYER_COLUMNS = ("model", "model_path", "run_date", "task", "metric", "layer", "depth", "value", "stderr", "caveat", "n",
                 "dropped", "headline_layer", "source")


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def _md(header: list[str], rows: list[list[Any]]) -> str:
    cells = [[_fmt(c) for c in r] for r in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in cells]
    return "\n".join(lines)


def _csv(header: list[str] | tuple[str, ...], rows: list[list[Any]] | list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    if rows and isinstance(rows[0], dict):
        w = csv.DictWriter(buf, fieldnames=list(header), extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)  # type: ignore[arg-type]
    else:
        w2 = csv.writer(buf, lineterminator="\n")
        w2.writerow(header)
        w2.writerows(rows)  # type: ignore[arg-type]
    return buf.getvalue()


def layers_csv(results: Results) -> str:
    """Every (model, task, metric, layer) value, one row each."""
    return _csv(LAYER_COLUMNS, results.records)


def headline_entries(results: Results) -> list[dict[str, Any]]:
    """Per (task, metric, run): headline value and layer, and the curve's peak value, layer and depth."""
    entries = []
    for t in results.tasks:
        for metric, value in t.headline.items():
            pts = t.curves.get(metric, [])
            finite = [p for p in pts if math.isfinite(p[2])]
            peak = max(finite, key=lambda p: p[2]) if finite else None
            se = next((v for lay, _, v in (t.stderr(metric) or []) if lay == t.headline_layer and math.isfinite(v)), None)
            vacuous = vacuous_at(t, metric, t.headline_layer)
            entries.append({"task": t.task, "metric": metric, "model": t.run.label, "run_date": t.run.date,
                            "value": value, "stderr": None if vacuous else se, "vacuous": vacuous,
                            "headline_layer": t.headline_layer,
                            "num_layers": t.meta.get("num_layers"),
                            "peak_value": peak[2] if peak else None, "peak_layer": peak[0] if peak else None,
                            "peak_depth": peak[1] if peak else None,
                            "not_measured": None if math.isfinite(value) else why_not_measured(t, metric)})
    return entries


def why_not_measured(t: Any, metric: str) -> str:
    """The reason a task's metric has no number (its results' ``not_measured``, or a skipped family's)."""
    entry = (t.meta.get("not_measured") or {}).get(metric) or {}
    return str(entry.get("reason") or "no number in the results (see the run's log)")


def _headline_grid(results: Results) -> tuple[list[Run], list[tuple[str, str]], dict[tuple[str, str, str], dict[str, Any]]]:
    runs = results.runs
    cells = {(e["task"], e["metric"], e["model"]): e for e in headline_entries(results)}
    rows: list[tuple[str, str]] = []
    for task in results.task_names():
        for t in results.tasks:
            if t.task == task:
                rows.extend((task, m) for m in t.headline if (task, m) not in rows)
    kept: list[tuple[str, str]] = []
    for task, metric in rows:
        def vals(tk: str) -> list[Any]:
            return [cells.get((tk, metric, r.label), {}).get("value") for r in runs]
        if any(m == metric and vals(tk) == vals(task) for tk, m in kept):
            continue
        kept.append((task, metric))
    return runs, kept, cells


def headline_markdown(results: Results) -> str:
    """Compact table: (task, metric) rows, one column per model with 'headline (peak @ depth)'."""
    runs, rows, cells = _headline_grid(results)
    header = ["task", "metric"] + [r.label for r in runs]
    body, unmeasured = [], []
    for task, metric in rows:
        line: list[Any] = [task, metric]
        for r in runs:
            e = cells.get((task, metric, r.label))
            if e is None:
                line.append("")
            else:
                se = e.get("stderr")
                if e.get("not_measured"):
                    cell = "not measured*"
                    unmeasured.append(f"- \\* {r.label}, {task}, {metric}: {e['not_measured']}")
                else:
                    cell = "vacuous (0)" if e.get("vacuous") else \
                        f"{e['value']:.4f}" + (f" ± {se:.4f}" if se is not None and math.isfinite(se) else "")
                if e["peak_value"] is not None:
                    cell += f" (peak {e['peak_value']:.4f} @ {e['peak_depth']:.2f})"
                line.append(cell)
        body.append(line)
    def where(r: Run) -> str:
        layer = next((t.headline_layer for t in results.for_run(r)), None)
        if layer == -1:  # an MTEB encoder without layers (sentence-transformers, API): its output embedding
            return "its output embedding is scored"
        return f"layer {'?' if layer is None else layer} of " \
               f"{next((t.meta.get('num_layers') for t in results.for_run(r)), '?')} is the headline layer"
    notes = [f"- {r.label}: {where(r)}; {r.model}" for r in runs] + unmeasured
    vacuous = any(e.get("vacuous") for e in cells.values())
    text = _md(header, body) + ("\n\nValue at the headline layer ± its standard error where the metric has one "
                                "(peak over layers @ its normalized depth)." +
                                (" \"vacuous (0)\": Fano's bound is at most 0 there, so it says nothing (no "
                                 "standard error)." if vacuous else "") + "\n") + "\n".join(notes)
    clashes = find_clashes(results)
    if clashes:
        text += "\n\n" + "\n".join(f"**Not comparable across models.** {c.message}." for c in clashes)
    caveats = [f"**Caveat** ({t.run.label}, {t.task}): {flag}." for t in results.tasks for flag in t.meta.get(FLAGS_KEY) or ()]
    if caveats:  # scores recorded with a reason to doubt them (metrics/recoverability/coverage.py)
        text += "\n\n" + "\n".join(caveats)
    return text


def headline_csv(results: Results) -> str:
    cols = ["model", "run_date", "task", "metric", "value", "stderr", "vacuous", "headline_layer", "num_layers",
            "peak_value", "peak_layer", "peak_depth"]
    return _csv(cols, headline_entries(results))


def layers_markdown(results: Results) -> str:
    """Per task and model: one row per layer, one column per metric."""
    parts = []
    for task in results.task_names():
        for t in results.tasks:
            if t.task != task:
                continue
            metrics = [m for m in t.headline if m in t.curves] + [m for m in t.metrics() if m not in t.headline]
            layers = sorted({(lay, d) for m in metrics for lay, d, _ in t.curves[m]})
            rows = [[lay, d] + [t.value_at(m, lay) for m in metrics] for lay, d in layers]
            parts.append(f"### {task}: {t.run.label}\n\n" + _md(["layer", "depth", *metrics], rows))
    return "\n\n".join(parts)


def write_tables(results: Results, out_dir: str | Path) -> dict[str, Path]:
    """headline.md, headline.csv, layers.md, layers.csv in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"headline.md": headline_markdown(results) + "\n", "headline.csv": headline_csv(results),
             "layers.md": layers_markdown(results) + "\n", "layers.csv": layers_csv(results)}
    paths = {}
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
        paths[name] = out / name
    return paths
