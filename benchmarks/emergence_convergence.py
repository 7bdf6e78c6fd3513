"""Does IE (Gaussian MI, the default) converge as windows grow, and is it stable across seeds?

One macro pass over N windows of WikiText-2 (validation + test, 65k non-overlapping 8-token
tiles) keeps moments per block of ``--part`` windows, so disjoint 16k samples, their unions and
the whole 64k are all scored from the same pass (:meth:`EmergenceProbe.score_parts`). Then the
probe at its defaults (2,048 windows) runs once per seed, as a user would.

    PYTHONPATH=.:benchmarks python benchmarks/emergence_convergence.py [--n 64000 --part 16000]

Prints the per-layer table, the convergence criteria of issue 11 (mean IE moves by <= 0.05 bits
and <= 5 % from 16k to 64k; two seeds at the defaults differ by <= 0.1 bits per layer on
average), the same from other estimator settings, and the seconds of each part.
"""
from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np

from _common import model, need_data
from mi_tasks import load_corpus
from mi_tasks.metrics.emergence import IE_N_WINDOWS, EmergenceProbe, make_windows


def per_layer(res) -> np.ndarray:
    return np.array([r["ie_bits"] for r in res.layers])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64000)
    ap.add_argument("--part", type=int, default=16000)
    ap.add_argument("--dtype", default="bfloat16", help="model dtype (bfloat16: what the main job uses)")
    ap.add_argument("--seeds", type=int, default=3, help="default-size probe runs, seeds 0..K-1")
    ap.add_argument("--json", default=None, help="write every number here")
    args = ap.parse_args()

    data = need_data()
    texts = []
    for f in ("wiki.valid.raw", "wiki.test.raw"):
        texts += load_corpus(data / "wikitext2" / f).texts
    t0 = time.perf_counter()
    m, tok = model("smollm2", dtype=args.dtype)
    out: dict = {"load_s": time.perf_counter() - t0, "n": args.n, "part": args.part, "dtype": args.dtype}

    probe = EmergenceProbe()
    windows = make_windows(tok, texts, probe.window, args.n, seed=0)
    t0 = time.perf_counter()
    parts = probe.score_parts(m, tok, windows, args.part)
    out["pass_s"] = time.perf_counter() - t0
    out["pass_timings"] = parts.timings
    k = len(parts)
    t0 = time.perf_counter()
    blocks = {f"block{i}": per_layer(parts.result([i])) for i in range(k)}
    full = parts.result()
    whole = per_layer(full)
    out["estimate_s_per_result"] = (time.perf_counter() - t0) / (k + 1)
    sizes = {args.part * j: per_layer(parts.result(list(range(j)))) for j in range(1, k + 1)}

    print(f"SmolLM2-135M {args.dtype}, WikiText-2 valid+test, T={probe.window}; {k} blocks of {args.part} windows")
    head = "layer " + " ".join(f"{n:>8}" for n in blocks) + f" {'all ' + str(args.n):>9}   macro   micro"
    print(head)
    for i, r in enumerate(full.layers):
        print(f"{r['layer']:>5} " + " ".join(f"{v[i]:>8.3f}" for v in blocks.values())
              + f" {whole[i]:>9.3f} {r['mi_macro_bits']:>7.3f} {r['mi_micro_bits']:>7.3f}")
    print("mean  " + " ".join(f"{v.mean():>8.3f}" for v in blocks.values()) + f" {whole.mean():>9.3f}")
    print("nested means (first j blocks): " + ", ".join(f"{n}: {v.mean():.4f}" for n, v in sizes.items()))

    conv = [abs(v.mean() - whole.mean()) for v in blocks.values()]
    pair = [float(np.mean(np.abs(a - b))) for a, b in itertools.combinations(blocks.values(), 2)]
    out.update(per_layer_all=whole.tolist(), blocks={n: v.tolist() for n, v in blocks.items()},
               nested_means={str(n): float(v.mean()) for n, v in sizes.items()},
               convergence_abs=conv, convergence_rel=[c / abs(whole.mean()) for c in conv],
               block_pair_mean_abs_diff=pair)
    print(f"|mean IE(16k block) - mean IE({args.n})|: " + ", ".join(f"{c:.4f}" for c in conv)
          + f" bits (max {max(conv):.4f}; {100 * max(conv) / abs(whole.mean()):.2f} % of |{whole.mean():.4f}|)")
    print(f"per-layer mean |diff| between disjoint {args.part}-window blocks: "
          + ", ".join(f"{p:.4f}" for p in pair))

    # other estimator settings, same moments
    variants = {"ridge 1e-2": {"ridge": 1e-2}, "ridge 1e-4": {"ridge": 1e-4},
                "proj_dim 4": {"proj_dim": 4}, "proj_dim 16": {"proj_dim": 16}}
    base = dict(parts.estimator)
    out["variants"] = {}
    for name, change in variants.items():
        est = dict(base, **change)
        parts.estimator = est
        b0, wv = per_layer(parts.result([0])), per_layer(parts.result())
        b1 = per_layer(parts.result([1]))
        out["variants"][name] = {"mean_all": float(wv.mean()), "mean_block0": float(b0.mean()),
                                 "block_pair_diff": float(np.mean(np.abs(b0 - b1))), "per_layer": wv.tolist()}
        print(f"{name:>12}: mean IE {wv.mean():.4f} (64k) vs {b0.mean():.4f} (block 0); "
              f"blocks 0/1 differ by {np.mean(np.abs(b0 - b1)):.4f} per layer; "
              f"corr with default profile {np.corrcoef(wv, whole)[0, 1]:.3f}")
    parts.estimator = base

    # the defaults, one probe run per seed (its own windows, from the registered wikitext2 corpus)
    wt = load_corpus(data / "wikitext2" / "wiki.test.raw")
    runs = {}
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        res = EmergenceProbe(seed=seed, progress=False).score(m, tok, wt)
        runs[seed] = per_layer(res)
        out.setdefault("default_s", []).append(time.perf_counter() - t0)
    dpair = [float(np.mean(np.abs(runs[a] - runs[b]))) for a, b in itertools.combinations(runs, 2)]
    out.update(default_means=[float(v.mean()) for v in runs.values()], default_pair_diff=dpair,
               default_vs_all=[float(np.mean(np.abs(v - whole))) for v in runs.values()])
    print(f"defaults ({IE_N_WINDOWS} windows of WikiText-2 test), seeds 0..{args.seeds - 1}: mean IE "
          + ", ".join(f"{v.mean():.4f}" for v in runs.values())
          + "; per-layer mean |diff| between seeds " + ", ".join(f"{p:.4f}" for p in dpair)
          + "; per layer vs the 64k profile " + ", ".join(f"{d:.4f}" for d in out["default_vs_all"]))
    print(f"seconds: load {out['load_s']:.1f}, one pass over {args.n} windows {out['pass_s']:.1f} "
          f"({json.dumps({k: round(v, 1) for k, v in parts.timings.items()})}), one result from moments "
          f"{out['estimate_s_per_result']:.2f}, default probe runs " + ", ".join(f"{s:.1f}" for s in out["default_s"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
