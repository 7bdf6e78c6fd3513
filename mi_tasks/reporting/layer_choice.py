"""Which per-layer metric tells you a model's best layer: rank correlation with downstream scores across layers.

For one model, a metric curve and a downstream curve (e.g. MTEB STS-B per layer from ``layer_sweep``)
are dicts keyed by layer index. Over the layers both cover, this module gives Spearman's ρ with a
seeded percentile-bootstrap interval that resamples layers, whether the metric's best layer (by its
stated direction) is the downstream best layer, and whether an intermediate layer beats the last.

Limits: a model has few layers (7 for MiniLM-L6 with embeddings), so ρ moves in coarse steps, the
interval is wide, resamples with fewer than 3 distinct layers are skipped, and neighbouring layers
are not independent; read the interval as a rough range, not a test.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from ..errors import MiTasksError

DIRECTIONS = ("max", "min")
"""Which end of a metric's curve is its best layer: each metric family declares its metrics' direction
(:meth:`~mi_tasks.metrics.family.MetricFamily.higher_is_better`), the one lm-eval prints too."""


@dataclass(frozen=True)
class LayerChoice:
    """How one metric's curve relates to one downstream score's curve over a model's layers."""

    metric: str
    downstream: str
    n_layers: int
    spearman: float
    ci_low: float
    ci_high: float
    metric_best_layer: int
    downstream_best_layer: int

    @property
    def picks_best_layer(self) -> bool:
        return self.metric_best_layer == self.downstream_best_layer


def _common(a: Mapping[int, float], b: Mapping[int, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    layers = np.array(sorted(k for k in set(a) & set(b)
                             if math.isfinite(float(a[k])) and math.isfinite(float(b[k]))), dtype=int)
    return layers, np.array([float(a[k]) for k in layers]), np.array([float(b[k]) for k in layers])


def _spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's ρ along the last axis (average ranks for ties); NaN where either row is constant."""
    rx, ry = rankdata(x, axis=-1), rankdata(y, axis=-1)
    rx = rx - rx.mean(-1, keepdims=True)
    ry = ry - ry.mean(-1, keepdims=True)
    denom = np.sqrt((rx * rx).sum(-1) * (ry * ry).sum(-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(np.where(denom > 0, (rx * ry).sum(-1) / denom, np.nan), -1.0, 1.0)


def spearman_across_layers(metric: Mapping[int, float], downstream: Mapping[int, float], n_boot: int = 2000,
                           seed: int = 0, level: float = 0.95) -> tuple[float, float, float, int]:
    """(ρ, interval low, interval high, layers used) over the layers with finite values in both curves.

    The interval is the percentile bootstrap over layers resampled with replacement (seeded);
    resamples with fewer than 3 distinct layers or a constant curve are skipped. NaN interval if
    fewer than 4 layers are shared or most resamples are skipped.
    """
    if not 0 < level < 1:
        raise MiTasksError(f"level must be in (0, 1), got {level}")
    layers, x, y = _common(metric, downstream)
    n = layers.size
    if n < 3:
        raise MiTasksError(f"rank correlation across layers needs at least 3 shared layers with finite values, got {n}")
    rho = float(_spearman(x, y))
    if n < 4 or n_boot < 2:
        return rho, float("nan"), float("nan"), n
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    distinct = np.array([np.unique(row).size for row in idx]) >= 3
    stats = _spearman(x[idx[distinct]], y[idx[distinct]])
    stats = stats[np.isfinite(stats)]
    if stats.size < n_boot // 2:
        return rho, float("nan"), float("nan"), n
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(stats, [tail, 100 - tail])
    return rho, float(lo), float(hi), n


def best_layer(curve: Mapping[int, float], direction: str = "max") -> int:
    """The layer with the highest (``max``) or lowest (``min``) finite value; ties go to the earlier layer."""
    if direction not in DIRECTIONS:
        raise MiTasksError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    finite = {int(k): float(v) for k, v in curve.items() if math.isfinite(float(v))}
    if not finite:
        raise MiTasksError("the curve has no finite value; check the per-layer results")
    keys = sorted(finite)
    vals = np.array([finite[k] for k in keys])
    return keys[int(np.argmax(vals) if direction == "max" else np.argmin(vals))]


def intermediate_beats_last(downstream: Mapping[int, float], higher_is_better: bool = True) -> dict[str, float | int | bool]:
    """The best intermediate layer (neither the first nor the last) against the last layer, on a downstream score."""
    finite = {int(k): float(v) for k, v in downstream.items() if math.isfinite(float(v))}
    if len(finite) < 3:
        raise MiTasksError(f"an intermediate layer needs at least 3 layers with scores, got {len(finite)}")
    keys = sorted(finite)
    middle = {k: finite[k] for k in keys[1:-1]}
    best = best_layer(middle, "max" if higher_is_better else "min")
    last = keys[-1]
    gain = (middle[best] - finite[last]) * (1 if higher_is_better else -1)
    return {"best_intermediate_layer": best, "best_intermediate_score": middle[best], "last_layer": last,
            "last_score": finite[last], "gain_over_last": gain, "intermediate_beats_last": bool(gain > 0)}


def layer_choice(metrics: Mapping[str, tuple[Mapping[int, float], str]], downstream: Mapping[str, Mapping[int, float]],
                 n_boot: int = 2000, seed: int = 0) -> list[LayerChoice]:
    """One ``LayerChoice`` per (metric, downstream score): ``metrics`` maps a name to (curve, direction).

    Downstream scores are taken as higher-is-better (MTEB's main scores are).
    """
    out = []
    for m_name, (curve, direction) in metrics.items():
        m_best = best_layer(curve, direction)
        for d_name, d_curve in downstream.items():
            rho, lo, hi, n = spearman_across_layers(curve, d_curve, n_boot, seed)
            out.append(LayerChoice(m_name, d_name, n, rho, lo, hi, m_best, best_layer(d_curve, "max")))
    return out


def _num(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{x:+.2f}"


def layer_choice_markdown(rows: list[LayerChoice]) -> str:
    """A markdown table: metric, downstream score, ρ [interval], best layers and whether they agree."""
    lines = ["| metric | downstream | layers | Spearman ρ [95% CI] | metric's best layer | downstream best layer | same |",
             "|---|---|---:|---|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r.metric} | {r.downstream} | {r.n_layers} | {_num(r.spearman)} [{_num(r.ci_low)}, "
                     f"{_num(r.ci_high)}] | {r.metric_best_layer} | {r.downstream_best_layer} | "
                     f"{'yes' if r.picks_best_layer else 'no'} |")
    return "\n".join(lines) + "\n"
