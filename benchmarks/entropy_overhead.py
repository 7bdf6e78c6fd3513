"""What mi_entropy adds to an mi_suite run (target: < 10 %), measured in one process.

Baseline: ``simple_evaluate`` of mi_recoverability + mi_fano. Then the same with mi_entropy (token
spectra from the shared eval pass, dataset entropy, and Diff-eRank's random-init pass over
``random_limit`` texts). mi_emergence, the suite's fourth task, is measured on its own in
benchmarks/emergence_cost.py. Each run starts from an empty mi-tasks
cache on the same loaded model, in alternating order, best of ``--repeats``.
Usage: python benchmarks/entropy_overhead.py [--model minilm|smollm2] [--train 2000] [--eval 500]
"""
from __future__ import annotations

import argparse
import time

from _common import need_data
from mi_tasks.states.bundled import resolve_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--eval", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    data = need_data()
    path, kw = resolve_model(a.model)
    lm = HFLM(pretrained=path, device="cpu", batch_size=a.batch_size, dtype="bfloat16", **kw)
    md = {"train_corpus": str(data / "dbpedia/dbpedia14_sample.tsv"), "train_template": "{title} {content}",
          "train_limit": a.train, "eval_corpus": str(data / "agnews/dev.tsv"), "eval_header": False,
          "eval_columns": "text,label", "eval_limit": a.eval}
    runs = {"without entropy": ["mi_recoverability", "mi_fano"],
            "with mi_entropy": ["mi_recoverability", "mi_fano", "mi_entropy"]}
    best = {k: float("inf") for k in runs}
    out = None
    for _ in range(a.repeats):
        for name, tasks in runs.items():
            lm.__dict__.pop("_mi_tasks_cache", None)
            t = time.perf_counter()
            out = lm_eval.simple_evaluate(model=lm, tasks=tasks, task_manager=TaskManager(metadata=md), metadata=md)
            best[name] = min(best[name], time.perf_counter() - t)
    base = best["without entropy"]
    print(f"model={a.model} train={a.train} eval={a.eval} batch={a.batch_size} bf16, best of {a.repeats}")
    for name, sec in best.items():
        print(f"{name:<26} {sec:8.1f} s  ({sec / base:.3f}x)")
    print(f"entropy adds {100 * (best['with mi_entropy'] / base - 1):.1f} % (target < 10 %)")
    print({k: round(v, 4) for k, v in out["results"]["mi_entropy"].items() if "stderr" not in k and isinstance(v, float)})


if __name__ == "__main__":
    main()
