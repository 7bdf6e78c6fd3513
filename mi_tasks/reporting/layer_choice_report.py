"""The report's layer-choice section: which per-layer metric tracks a model's downstream scores across layers.

Given loaded results that hold, for one model, an MTEB layer sweep (downstream main scores per
layer) and per-layer MI metrics (lm-eval curves of the same model, or the sweep's own ``mi:`` rows),
this pairs every metric with every downstream task through :mod:`.layer_choice`: Spearman's rho
with its bootstrap interval, whether the metric's best layer is the task's best layer, and per task
whether an intermediate layer beats the last. A model without both halves gets no table.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from ..metrics.registry import metric_direction
from ..states.bundled import display_name
from .layer_choice import (LayerChoice, intermediate_beats_last, layer_choice,
                           layer_choice_markdown)
from .results import Results, Run, TaskCurves

log = logging.getLogger(__name__)

SWEEP_METRIC_PREFIX = "mteb:mi:"   # how a sweep's ``mi:<family>.<metric>`` rows read once loaded


@dataclass
class ModelLayerChoice:
    """One model's layer-choice rows and its intermediate-vs-last verdict per downstream task."""

    model: str
    rows: list[LayerChoice]
    intermediate: dict[str, dict[str, float | int | bool]]
    skipped: list[str] = field(default_factory=list)


def model_identity(run: Run) -> str:
    """The model a run scored, the same for its lm-eval results and its MTEB sweep (bundled models by display name)."""
    return (display_name(run.model) or display_name(str(run.model_args.get("adapted_from") or ""))
            or display_name(str(run.model_args.get("pretrained") or "")) or run.model)


def direction_of(metric: str) -> str:
    """Which end of a metric's curve is its best layer: its family's direction (the highest where no family reports it)."""
    return "min" if metric_direction(metric) is False else "max"


def _by_layer(points: list[tuple[int, float, float]]) -> dict[int, float]:
    return {int(layer): float(v) for layer, _, v in points}


def _finite_layers(curve: dict[int, float]) -> int:
    return sum(1 for v in curve.values() if math.isfinite(v))


def _is_downstream(t: TaskCurves) -> bool:
    return t.kind == "mteb" and not t.task.startswith(SWEEP_METRIC_PREFIX) and \
        any(_finite_layers(_by_layer(p)) >= 3 for p in t.curves.values())


def _metric_curves(tasks: list[TaskCurves]) -> dict[str, dict[int, float]]:
    """Every per-layer MI metric of a model: lm-eval curves as ``task.metric``, sweep rows as ``family.metric``.

    A curve equal to one already taken (a metric two tasks of one run both store) is kept once.
    """
    out: dict[str, dict[int, float]] = {}
    for t in tasks:
        if t.kind == "lm_eval":
            named = [(f"{t.task}.{m}", m) for m in t.metrics()]
        elif t.task.startswith(SWEEP_METRIC_PREFIX):
            named = [(t.task[len(SWEEP_METRIC_PREFIX):], m) for m in t.metrics()]
        else:
            continue
        for name, metric in named:
            curve = _by_layer(t.curves[metric])
            if _finite_layers(curve) >= 3 and curve not in out.values():
                out[name] = curve
    return out


def layer_choice_of(res: Results, n_boot: int = 2000, seed: int = 0) -> list[ModelLayerChoice]:
    """One entry per model that has both downstream scores per layer and per-layer metrics, in the order found."""
    models: dict[str, list[TaskCurves]] = {}
    for t in res.tasks:
        models.setdefault(model_identity(t.run), []).append(t)
    out = []
    for model, tasks in models.items():
        downstream = {t.task.removeprefix("mteb:") + (f" ({m})" if len(t.curves) > 1 else ""): _by_layer(p)
                      for t in tasks if _is_downstream(t) for m, p in t.curves.items()}
        downstream = {k: c for k, c in downstream.items() if _finite_layers(c) >= 3}
        if not downstream:
            continue
        curves = _metric_curves(tasks)
        if not curves:
            log.warning("%s: a layer sweep without per-layer metrics to compare with; give lm-eval results of the "
                        "same model beside it, or run layer_sweep(metrics=...)", model)
            continue
        rows, skipped = [], []
        for name, curve in curves.items():
            shared = [k for k in curve if math.isfinite(curve[k]) and any(k in d for d in downstream.values())]
            if len(shared) < 3:
                skipped.append(f"{name} (fewer than 3 layers shared with the sweep)")
                continue
            rows += layer_choice({name: (curve, direction_of(name.rsplit(".", 1)[-1]))},
                                 {d: c for d, c in downstream.items() if len(set(c) & set(shared)) >= 3},
                                 n_boot=n_boot, seed=seed)
        inter = {d: intermediate_beats_last(c) for d, c in downstream.items()}
        out.append(ModelLayerChoice(model=model, rows=rows, intermediate=inter, skipped=skipped))
    return out


def intermediate_markdown(inter: dict[str, dict[str, float | int | bool]]) -> str:
    """Per downstream task: the best intermediate layer against the last, and whether it beats it."""
    lines = ["| downstream | best intermediate layer | its score | last layer | last score | gain | beats last |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for task, v in inter.items():
        lines.append(f"| {task} | {v['best_intermediate_layer']} | {v['best_intermediate_score']:.4f} | "
                     f"{v['last_layer']} | {v['last_score']:.4f} | {v['gain_over_last']:+.4f} | "
                     f"{'yes' if v['intermediate_beats_last'] else 'no'} |")
    return "\n".join(lines) + "\n"


def layer_choice_section(res: Results, n_boot: int = 2000, seed: int = 0) -> str:
    """The report's markdown section, or "" when no model has both a layer sweep and per-layer metrics."""
    found = layer_choice_of(res, n_boot=n_boot, seed=seed)
    if not found:
        return ""
    parts = ["## Which metric tells you the best layer", "",
             "Spearman's rho across layers between each per-layer metric and each downstream score (95% bootstrap "
             "interval over layers), and whether the metric's best layer is the downstream best layer "
             "(docs/findings.md).", ""]
    for m in found:
        parts += [f"### {m.model}", "", layer_choice_markdown(m.rows), "Intermediate layer against the last:", "",
                  intermediate_markdown(m.intermediate)]
        if m.skipped:
            parts += ["Not compared: " + "; ".join(m.skipped), ""]
    return "\n".join(parts)
