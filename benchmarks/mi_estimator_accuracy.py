"""Accuracy of the neural MI estimators on correlated Gaussians with closed-form MI.

Prints a markdown table (true vs estimated bits, error, train-split bits, seconds) for each
method at the library defaults, so docs/emergence.md can quote it. Timings are wall-clock on a
possibly shared machine; the estimates themselves are deterministic for the seeds used.

    PYTHONPATH=. python benchmarks/mi_estimator_accuracy.py [--n 2000] [--methods infonce,dv,smile]
"""
from __future__ import annotations

import argparse
import time

from mi_tasks.metrics.emergence.closed_form import rho_for_bits, sample_correlated_gaussians
from mi_tasks.metrics.emergence.estimators import estimate_mi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="samples per case (30%% held out)")
    ap.add_argument("--dims", default="1,5,20")
    ap.add_argument("--bits", default="0.5,2,4")
    ap.add_argument("--methods", default="infonce,dv,smile")
    args = ap.parse_args()
    dims = [int(d) for d in args.dims.split(",")]
    bits = [float(b) for b in args.bits.split(",")]
    print(f"n = {args.n} samples per case, defaults of estimate_mi (proj_dim=32, hidden=64, steps=300, "
          "batch 256, lr 3e-3, 30% held out, early stopping on 20% of train)\n")
    print("| method | dim | true bits | estimate | error | train-split | cap | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for method in args.methods.split(","):
        for d in dims:
            for b in bits:
                x, y = sample_correlated_gaussians(args.n, d, rho_for_bits(b, d), seed=1)
                t = time.perf_counter()
                e = estimate_mi(x, y, method=method, seed=0)
                s = time.perf_counter() - t
                cap = f"{e.upper_limit_bits:.2f}" if e.upper_limit_bits is not None else "-"
                print(f"| {method} | {d} | {b:.2f} | {e.bits:.3f} | {e.bits - b:+.3f} | {e.train_bits:.3f} | {cap} | "
                      f"{s:.1f} |", flush=True)


if __name__ == "__main__":
    main()
