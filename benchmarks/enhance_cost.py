"""Seconds per `mi-tasks enhance` step: compute dtype x sequence length x which blocks are trained.

Each configuration runs a few real optimiser steps of :func:`mi_tasks.training.enhance.enhance` on WikiText-2
(batch 16 by default) and reports the median of the per-step wall times it records (the first
``--skip`` steps are dropped as warm-up). Configurations are interleaved over ``--rounds`` so that load
from other jobs on a shared machine hits them alike; the table gives the median over rounds and the
ratio to float32 / all blocks at the same length.

    python benchmarks/enhance_cost.py --model minilm
    python benchmarks/enhance_cost.py --model smollm2 --steps 4 --lengths 64 --blocks all 4
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import tempfile
import time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from _common import need_data  # noqa: E402

from mi_tasks.states.bundled import resolve_model  # noqa: E402
from mi_tasks.training.enhance import enhance  # noqa: E402


def one(path: str, kw: dict, dtype: str, length: int, blocks: int | None, steps: int, skip: int,
        batch_size: int, corpus: str, eval_corpus: str) -> dict:
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        res = enhance(path, out, corpus, steps=steps, eval_interval=10_000, eval_corpus=eval_corpus, eval_limit=16,
                      train_limit=400, batch_size=batch_size, max_text_length=length, train_blocks=blocks, dtype=dtype,
                      lr=2e-5, seed=0, resume=False, progress=False, **kw)
        total = time.perf_counter() - t
    secs = [r["seconds"] for r in res.losses][skip:]
    return {"dtype": dtype, "max_length": length, "train_blocks": blocks, "median_s": statistics.median(secs),
            "steps_s": secs, "call_s": total, "n_trainable_params": res.settings["n_trainable_params"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    ap.add_argument("--lengths", nargs="+", type=int, default=[64, 128])
    ap.add_argument("--blocks", nargs="+", default=["all", "2"], help="'all' or a number of blocks below the last")
    ap.add_argument("--steps", type=int, default=7)
    ap.add_argument("--skip", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--output", default=None, help="write the rows as JSON here")
    args = ap.parse_args()
    data = need_data()
    path, kw = resolve_model(args.model)
    corpus, evalc = str(data / "wikitext2" / "wiki.test.raw"), str(data / "wikitext2" / "wiki.valid.raw")
    blocks = [None if b == "all" else int(b) for b in args.blocks]
    rows: dict[tuple, list[dict]] = {}
    for _ in range(args.rounds):
        for dtype, length, b in itertools.product(args.dtypes, args.lengths, blocks):
            r = one(path, kw, dtype, length, b, args.steps, args.skip, args.batch_size, corpus, evalc)
            rows.setdefault((dtype, length, b), []).append(r)
            print(json.dumps({k: v for k, v in r.items() if k != "steps_s"}), flush=True)
    print(f"\n{args.model}, batch {args.batch_size}, {os.cpu_count()} CPUs; median s/step over "
          f"{args.steps - args.skip} steps x {args.rounds} round(s)")
    print(f"{'dtype':9} {'len':>4} {'blocks':>6} {'trainable':>10} {'s/step':>7} {'vs fp32/all':>11}")
    table = []
    for (dtype, length, b), rs in rows.items():
        med = statistics.median(r["median_s"] for r in rs)
        base = statistics.median(r["median_s"] for r in rows.get(("float32", length, None), rs))
        table.append({"dtype": dtype, "max_length": length, "train_blocks": b, "s_per_step": med, "ratio": med / base,
                      "n_trainable_params": rs[0]["n_trainable_params"], "runs": rs})
        print(f"{dtype:9} {length:4d} {('all' if b is None else b):>6} {rs[0]['n_trainable_params']:10,d} "
              f"{med:7.3f} {med / base:11.2f}")
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"model": args.model, "batch_size": args.batch_size, "rows": table}, f, indent=2)


if __name__ == "__main__":
    main()
