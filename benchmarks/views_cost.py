"""Where the views family's time goes on a bundled model, and the suite's cost, as ratios to plain passes.

Baseline: the plain pass (``HiddenStateExtractor``, all layers, pooled, same texts, length and batch
size) over the eval texts, measured in the same process. Reported:
  views  ``evaluate(model, tok, texts, ["views"])`` at the mi_views defaults (8 views, 256 AG News
         texts, all layers), profiled: augmentation, tokenisation, forward passes, LiDAR, DiME,
         InfoNCE, and the total as a ratio to (1 + views) plain passes (the target is <= 2x).
  suite  the families of ``mi_suite`` (recoverability, entropy, geometry, emergence) at their defaults
         through one ``evaluate``, as a ratio to the plain passes it cannot avoid (the eval texts and
         the train texts; IE's windows are its own passes and are counted in the suite, not the baseline).
Usage: OMP_WAIT_POLICY=PASSIVE python benchmarks/views_cost.py [--model minilm] [--parts views,suite]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time

import torch

from _common import DATA, agnews, dbpedia, model as load_bundled

os.environ.setdefault("MI_TASKS_DATA_DIR", str(DATA))  # the registered corpora from the shared copies, offline
from mi_tasks.evaluation import evaluate
from mi_tasks.settings import TaskSettings
from mi_tasks.states.extraction import HiddenStateExtractor

PHASES = {  # profiled function (file suffix, name) -> phase
    ("augment.py", "augment_texts"): "augmentation",
    ("extraction.py", "encode"): "tokenisation",
    ("extraction.py", "forward_batch"): "forward passes + pooling",
    ("views.py", "lidar"): "LiDAR (with its jackknife)",
    ("views.py", "dime"): "DiME",
    ("views.py", "infonce"): "InfoNCE",
}


def plain_pass(model, tok, texts: list[str], batch: int, max_len: int) -> float:
    ext = HiddenStateExtractor(model, tok, layers="all", pooling="mean", max_text_length=max_len,
                               batch_size=batch, progress=False)
    t = time.perf_counter()
    for _ in ext.iter_batches(texts):
        pass
    return time.perf_counter() - t


def phases(prof: cProfile.Profile) -> dict[str, float]:
    out = {v: 0.0 for v in PHASES.values()}
    for (path, _, name), (_, _, _, cum, _) in pstats.Stats(prof).stats.items():  # type: ignore[attr-defined]
        for (suffix, fn), phase in PHASES.items():
            if name == fn and path.endswith(suffix):
                out[phase] += cum
    return out


def part_views(model, tok, a: argparse.Namespace) -> None:
    s = TaskSettings()
    n, v, max_len = a.texts or 256, s.n_views, 128
    texts = agnews(n).texts
    base = min(plain_pass(model, tok, texts, a.batch, max_len) for _ in range(2))
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    evaluate(model, tok, texts, ["views"], layers="all", pooling="mean", max_text_length=max_len,
             batch_size=a.batch, progress=False, seed=0)
    prof.disable()
    total = time.perf_counter() - t
    after = plain_pass(model, tok, texts, a.batch, max_len)  # the cores are shared: the baseline on both sides
    print(f"{a.model}: views on {n} texts x {v} views, all layers; plain pass {base:.2f} s before, {after:.2f} s after")
    base = (base + after) / 2
    for phase, sec in phases(prof).items():
        print(f"  {phase:<30} {sec:7.2f} s = {sec / base:6.2f} plain passes")
    print(f"  total {total:.2f} s = {total / base:.2f} plain passes = {total / ((1 + v) * base):.2f}x (1 + views) passes")
    if a.profile:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


def part_suite(model, tok, a: argparse.Namespace) -> None:
    s = TaskSettings()
    texts = agnews(a.texts or s.eval_limit).texts
    train = dbpedia(s.train_limit).texts  # dbpedia14, the default train corpus
    base_eval = plain_pass(model, tok, texts, a.batch, s.max_text_length)
    base_train = plain_pass(model, tok, train, a.batch, s.max_text_length)
    t = time.perf_counter()
    evaluate(model, tok, texts, ["recoverability", "entropy", "geometry", "emergence"], batch_size=a.batch,
             progress=False)
    total = time.perf_counter() - t
    base = base_eval + base_train
    print(f"{a.model}: mi_suite families at defaults on {len(texts)} eval / {len(train)} train texts: {total:.1f} s; "
          f"plain passes {base:.1f} s (eval {base_eval:.1f}, train {base_train:.1f}): {total / base:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--parts", default="views,suite")
    ap.add_argument("--texts", type=int, default=0, help="eval texts (0: the task's default)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--profile", action="store_true", help="also print the top of the views profile")
    a = ap.parse_args()
    print(f"threads={torch.get_num_threads()} OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    model, tok = load_bundled(a.model)
    parts = set(a.parts.split(","))
    if "views" in parts:
        part_views(model, tok, a)
    if "suite" in parts:
        part_suite(model, tok, a)


if __name__ == "__main__":
    main()
