"""Do the printed ± hold? Mean reported standard error against the spread over independent draws, every family.

Synthetic part (no models): each metric that prints a ± computed through its own code on ``--draws``
independent draws from a known generator (tests/metrics/error_calibration.py: persistent random walks for
curvature, a 4-d Gaussian for TwoNN and GRIDE, noisy copies for CKA, latent-plus-noise views for
LiDAR, DiME and InfoNCE, token states of random rank for prompt entropy, Zipf token texts through
a fixed fitted decoder for recoverability). Real part (``--real minilm``): the same ratio over
disjoint samples of AG News through ``mi_tasks.evaluate`` (all-MiniLM-L6-v2, layer 3 of 6), the
recoverability decoder fitted once on DBpedia-14. The baseline is the observed spread itself: a
ratio of 1 is an error bar that holds. Writes benchmarks/results/error_calibration.md.
Usage: python benchmarks/error_calibration.py [--draws 200] [--real minilm --real-draws 16 --real-size 200]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "metrics"))
from error_calibration import (Calibration, calibrate, entropy_draw, geometry_draw, recoverability_draw,  # noqa: E402
                               table, views_draw)

OUT = ROOT / "benchmarks" / "results"
REAL_METRICS = {"entropy": ("prompt_entropy", "prompt_effective_rank"),
                "geometry": ("curvature", "twonn", "gride", "cka_to_last"),
                "views": ("lidar", "dime", "infonce"),
                "recoverability": ("recall_at_k", "lift_recall_at_k", "cosine", "fano_mi_bits", "ba_mi_bits")}


def synthetic(draws: int) -> list[Calibration]:
    rows = []
    for family, make, n in (("geometry", geometry_draw, 200), ("views", views_draw, 200),
                            ("entropy", entropy_draw, 200), ("recoverability", recoverability_draw, 300)):
        t = time.perf_counter()
        rows += calibrate(family, make(n), draws, f"{n} texts (synthetic)")
        print(f"{family}: {time.perf_counter() - t:.0f} s", flush=True)
    return rows


def real(alias: str, draws: int, size: int, n_views: int) -> list[Calibration]:
    """Disjoint AG News samples of ``size`` texts through evaluate() at the last layer; one decoder fit for all."""
    from _common import agnews, model
    from mi_tasks.evaluation import evaluate
    from mi_tasks.states.source import StateSource

    m, tok = model(alias)
    texts = agnews(draws * size, seed=1).texts
    source = StateSource(m, tok, batch_size=32, progress=False)
    got: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for d in range(draws):
        part = texts[d * size:(d + 1) * size]
        res = evaluate(m, tok, part, list(REAL_METRICS), source=source, layers="3,-1", train_corpus="dbpedia14",
                       train_limit=1000, random_baseline=False, text_metrics=False, n_views=n_views, seed=d,
                       progress=False)
        for fam, metrics in REAL_METRICS.items():
            row = res[fam].layers[0]  # the middle layer (CKA with the last is not a constant 1 there)
            for metric in metrics:
                got.setdefault((fam, metric), []).append((row[metric], row[f"{metric}_stderr"]))
        print(f"real draw {d + 1}/{draws}", flush=True)
    out = []
    for (fam, metric), pairs in got.items():
        v, se = np.array(pairs, dtype=np.float64).T
        out.append(Calibration(fam, metric, draws, f"{size} AG News texts ({alias})", float(np.nanmean(se)),
                               float(np.std(v, ddof=1))))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--real", default="", help="a bundled model alias for the real-corpus part (e.g. minilm)")
    ap.add_argument("--real-draws", type=int, default=16)
    ap.add_argument("--real-size", type=int, default=200)
    ap.add_argument("--views", type=int, default=4)
    a = ap.parse_args()
    rows = synthetic(a.draws) if a.draws > 0 else []
    if a.real:
        rows += real(a.real, a.real_draws, a.real_size, a.views)
    text = table(rows)
    bad = [r for r in rows if not 0.67 <= r.ratio <= 1.5]
    text += f"\n{len(rows) - len(bad)} of {len(rows)} ratios within [0.67, 1.5]" + (
        "; outside: " + ", ".join(f"{r.family}.{r.metric} {r.ratio:.2f}" for r in bad) if bad else "") + "\n"
    OUT.mkdir(parents=True, exist_ok=True)
    name = "error_calibration" + (f"_{a.real}" if a.real else "") + ".md"
    (OUT / name).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
