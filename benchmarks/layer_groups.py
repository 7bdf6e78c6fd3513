"""Fitting layers in groups under a memory budget vs all layers at once: peak memory, time, equality.

Random states (no model needed) at a scaled-down width with many layers and Zipf token targets; each
configuration runs in its own process so peak RSS is its own. Baseline in the same run: the same fit
and scoring with no budget (all layers at once). Reports each run's peak RSS against the memory
plan's prediction, the time ratio, the largest recall difference, then the plan (no run) for the
8B-sized (33 × 4,096) and 70B-sized (81 × 8,192) configurations at the default budget.
With ``--real minilm,smollm2`` it runs instead the bundled real models on DBpedia (train) and AG News
(eval), once with no budget and once with a budget that splits their layers into ``--groups`` groups,
and reports the largest per-layer recall difference.
Usage: python benchmarks/layer_groups.py [--layers 33] [--dim 1024] [--vocab 30000] [--train 1024] [--groups 3]
       python benchmarks/layer_groups.py --real minilm,smollm2 [--train 1000] [--eval 300]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def run_one(args: argparse.Namespace, budget: float | None) -> dict:
    from mi_tasks import RecoverabilityProbe

    rng = np.random.default_rng(0)
    n = args.train + args.eval

    def targets(k: int) -> list[np.ndarray]:
        return [np.unique(np.minimum(rng.zipf(1.15, size=args.tokens), args.vocab) - 1) for _ in range(k)]

    tg = targets(n)
    # states that carry some of the targets (a random projection of the multi-hot) plus noise, per layer
    proj = rng.normal(size=(args.vocab, args.dim)).astype(np.float32) / np.sqrt(args.tokens)
    base = np.stack([proj[t].sum(0) for t in tg])
    X = np.stack([base * (1 - l / args.layers) + rng.normal(size=base.shape).astype(np.float32)
                  for l in range(args.layers)])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t = time.perf_counter()
    probe = RecoverabilityProbe(seed=0, text_metrics=False, memory_budget_gb=budget)
    res = probe.fit_arrays(X[:, :args.train], tg[:args.train], args.vocab).score_arrays(X[:, args.train:], tg[args.train:])
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    plan = probe.plan_
    return {"seconds": seconds, "peak_rss": peak, "rss_before": before, "n_groups": plan.n_groups,
            "group_size": plan.group_size, "decoder_peak": plan.decoder_peak_bytes, "all_layers": plan.all_layers_bytes,
            "vocab": plan.decoder_vocab, "recall": [r["recall_at_k"] for r in res.layers]}


def real_models(args: argparse.Namespace) -> None:
    """Grouped vs single-group recall on the real models: the model runs once per configuration."""
    from _common import agnews, dbpedia, model

    from mi_tasks import HiddenStateExtractor, RecoverabilityProbe
    from mi_tasks.metrics.recoverability.memory_plan import GIB, layer_bytes

    train, evalc = dbpedia(args.train), agnews(args.eval)
    for alias in args.real.split(","):
        m, tok = model(alias)
        ex = HiddenStateExtractor(m, tok, layers="all", max_text_length=128, progress=False)
        runs = {}
        for name in ("no budget", "grouped"):
            budget = None
            if name == "grouped":
                b = layer_bytes(ex.hidden_size, len(runs["no budget"][0].vocab))
                group = -(-len(ex.layers) // args.groups)
                budget = (group * (b["statistics"] + b["solution"]) + b["solve_transient"] + 1) / GIB
            t = time.perf_counter()
            probe = RecoverabilityProbe(seed=0, memory_budget_gb=budget).fit(ex.stream(train))
            res = probe.score(ex.stream(evalc))
            runs[name] = (probe, res, time.perf_counter() - t)
        (p0, r0, t0), (p1, r1, t1) = runs["no budget"], runs["grouped"]
        diff = max(abs(a["recall_at_k"] - c["recall_at_k"]) for a, c in zip(r0.layers, r1.layers))
        print(f"{alias}: {len(ex.layers)} states, {p1.plan_.n_groups} groups of ≤ {p1.plan_.group_size}; "
              f"train {len(train)} / eval {len(evalc)}; max |recall difference| {diff:.1e}; "
              f"recall first/last layer {r1.layers[0]['recall_at_k']:.4f}/{r1.layers[-1]['recall_at_k']:.4f}; "
              f"time grouped/no budget {t1 / t0:.2f}×")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=33)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--vocab", type=int, default=30000)
    ap.add_argument("--train", type=int, default=1024)
    ap.add_argument("--eval", type=int, default=128)
    ap.add_argument("--tokens", type=int, default=60)
    ap.add_argument("--groups", type=int, default=3, help="budget sized for about this many groups")
    ap.add_argument("--real", default=None, help="bundled real models to run instead, e.g. minilm,smollm2")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.real:
        return real_models(args)
    if args.child is not None:
        print(json.dumps(run_one(args, None if args.child == "none" else float(args.child))))
        return
    from mi_tasks.metrics.recoverability.memory_plan import GIB, layer_bytes, plan_recoverability

    def child(budget: str) -> dict:
        cmd = [sys.executable, __file__, "--child", budget] + [f"--{k}={v}" for k, v in vars(args).items()
                                                               if k not in ("child",)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    whole = child("none")
    b = layer_bytes(args.dim, whole["vocab"])
    per = b["statistics"] + b["solution"]
    group = -(-args.layers // args.groups)
    budget = (group * per + b["solve_transient"] + 1) / GIB
    grouped = child(repr(budget))
    print(f"{args.layers} layers × D={args.dim}, decoder vocabulary {whole['vocab']}, {args.train} train / "
          f"{args.eval} eval texts")
    print(f"{'run':<28} {'groups':>6} {'plan: decoders GiB':>18} {'peak RSS − start GiB':>20} {'time s':>8}")
    for name, r in (("all layers at once", whole), (f"budget {budget:.2f} GiB", grouped)):
        print(f"{name:<28} {r['n_groups']:>6} {r['decoder_peak'] / GIB:>18.2f} "
              f"{(r['peak_rss'] - r['rss_before']) / GIB:>20.2f} {r['seconds']:>8.1f}")
    diff = max(abs(a - c) for a, c in zip(whole["recall"], grouped["recall"]))
    print(f"grouped / all-at-once: peak {((grouped['peak_rss'] - grouped['rss_before']) / max(whole['peak_rss'] - whole['rss_before'], 1)):.2f}×, "
          f"time {grouped['seconds'] / whole['seconds']:.2f}×; max |recall difference| over layers {diff:.1e}")
    print("\nmemory plan at the default budget (no run):")
    for layers, dim in ((33, 4096), (81, 8192)):
        print("  " + plan_recoverability(layers, dim, 25_000, n_train=5000, n_eval=1000).describe())


if __name__ == "__main__":
    main()
