"""PNG figures of per-layer curves, every model overlaid on normalized depth (layer / L).

Models of different depth share one x axis, which is how the encoder-vs-decoder comparison of
the recoverability paper is drawn. Every figure's plotted numbers go to ``figures.json`` beside
the PNGs, so tests and users can check a figure against the results it came from.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402

from ..metrics.registry import all_families  # noqa: E402
from .comparability import find_clashes  # noqa: E402
from .results import Results, TaskCurves  # noqa: E402

# Panels of the overview figure when present: token recovery beside the two information bounds.
DEPTH_LABEL = "normalized depth (layer / number of layers)"
NOT_COMPARABLE = "\nnot comparable across models (figures.json and report.md say why)"


@dataclass
class FigureSet:
    """Paths of the written PNGs and, per PNG, the series drawn in it."""

    paths: list[Path] = field(default_factory=list)
    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    overview: Path | None = None
    sidecar: Path | None = None


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "x"


def _series(t: TaskCurves, metric: str) -> dict[str, Any]:
    pts = sorted(t.curves[metric])
    se = {lay: v for lay, _, v in (t.stderr(metric) or [])}
    return {"label": t.run.label, "model": t.run.model, "run_date": t.run.date, "task": t.task, "metric": metric,
            "num_layers": t.meta.get("num_layers"), "headline_layer": t.headline_layer,
            "layers": [p[0] for p in pts], "depths": [p[1] for p in pts], "values": [p[2] for p in pts],
            "stderr": [se[p[0]] for p in pts] if se else None}


def _draw(ax: Any, series: list[dict[str, Any]], metric: str, title: str, colors: dict[str, str]) -> None:
    for s in series:
        n = s["num_layers"]
        label = f"{s['label']} ({n} layers)" if n else s["label"]
        line, = ax.plot(s["depths"], s["values"], marker="o", markersize=3.5, linewidth=1.5, label=label,
                        color=colors.get(s["label"]))
        if s["stderr"]:
            lo = [v - e for v, e in zip(s["values"], s["stderr"])]
            hi = [v + e for v, e in zip(s["values"], s["stderr"])]
            ax.fill_between(s["depths"], lo, hi, color=line.get_color(), alpha=0.15, linewidth=0)
    ax.set_xlabel(DEPTH_LABEL)
    ax.set_ylabel(metric)
    ax.set_title(title, fontsize=10)
    ax.set_xlim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def overview_metrics(results: Results, wanted: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(task, metric) panels: the wanted metrics where found, else the families' overview metrics (each
    family's ``overview_metrics``) plus one headline per task none of those speak for."""
    tasks = results.task_names()
    has = {(t.task, m) for t in results.tasks for m in t.metrics()}
    panels: list[tuple[str, str]] = []
    for m in (wanted or [m for fam in all_families() for m in fam.overview_metrics]):
        task = next((t for t in tasks if (t, m) in has), None)
        if task is not None:
            panels.append((task, m))
    if wanted:
        return panels
    covered = {t for t, _ in panels}
    covered_metrics = {m for _, m in panels}
    for task in tasks:  # tasks that none of the panels speak for (entropy, emergence, MTEB, ...)
        first = next((t for t in results.tasks if t.task == task), None)
        if first is None or task in covered or covered_metrics & set(first.headline):
            continue
        metric = next((m for m in first.headline if m in first.curves), None) or (first.metrics() or [None])[0]
        if metric:
            panels.append((task, metric))
    return panels


def plot_results(results: Results, out_dir: str | Path, overview: Sequence[str] | None = None, dpi: int = 110) -> FigureSet:
    """One PNG per (task, metric) with every run's curve, plus ``overview.png``; returns paths and plotted data.

    A (task, metric) whose curves are identical to an earlier task's is not drawn twice: the earlier
    PNG lists it under ``also_tasks`` in ``figures.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fs = FigureSet()
    colors = {r.label: f"C{i % 10}" for i, r in enumerate(results.runs)}  # one colour per model in every figure
    drawn: dict[tuple[str, str], str] = {}  # (metric, curves) -> PNG already holding exactly these curves
    clashes = {c.task: c for c in find_clashes(results)}  # runs whose numbers do not compare
    for task in results.task_names():
        runs = [t for t in results.tasks if t.task == task]
        metrics = list(dict.fromkeys(m for t in runs for m in t.metrics()))
        for metric in metrics:
            series = [_series(t, metric) for t in runs if metric in t.curves]
            same = (metric, json.dumps([(s["label"], s["layers"], s["values"], s["stderr"]) for s in series]))
            if same in drawn:  # e.g. mi_fano's bounds are mi_recoverability's: one PNG, named in figures.json
                fs.data[drawn[same]].setdefault("also_tasks", []).append(task)
                continue
            fig, ax = plt.subplots(figsize=(6, 4))
            _draw(ax, series, metric, f"{task}: {metric}" + (NOT_COMPARABLE if task in clashes else ""), colors)
            fig.tight_layout()
            path = out / f"{_safe(task)}__{_safe(metric)}.png"
            fig.savefig(path, dpi=dpi)
            plt.close(fig)
            fs.paths.append(path)
            fs.data[path.name] = {"task": task, "metric": metric, "series": series}
            if task in clashes:
                fs.data[path.name]["not_comparable"] = clashes[task].message
            drawn[same] = path.name
    panels = overview_metrics(results, overview)
    if panels:
        ncols = min(3, len(panels))
        nrows = -(-len(panels) // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(5 * ncols, 4 * nrows), squeeze=False)
        for ax in axes.flat[len(panels):]:
            ax.set_visible(False)
        for ax, (task, metric) in zip(axes.flat, panels):
            _draw(ax, [_series(t, metric) for t in results.tasks if t.task == task and metric in t.curves],
                  metric, f"{metric} ({task})" + (NOT_COMPARABLE if task in clashes else ""), colors)
        fig.tight_layout()
        path = out / "overview.png"
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
        fs.paths.append(path)
        fs.overview = path
        fs.data[path.name] = {"panels": [
            {"task": task, "metric": metric,
             "series": [_series(t, metric) for t in results.tasks if t.task == task and metric in t.curves]}
            for task, metric in panels]}
    fs.sidecar = out / "figures.json"
    fs.sidecar.write_text(json.dumps(fs.data, indent=1))
    return fs
