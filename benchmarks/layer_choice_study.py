"""Which per-layer metric tells you a model's best layer: MTEB scores per layer beside every per-layer metric.

For each bundled model, one ``layer_sweep`` at all layers over STS-B dev, AG News classification
and AG News clustering, with the entropy, geometry, views and recoverability families on the same
layers (rows ``mi:<family>.<metric>``). Per metric and task: Spearman's rho across layers with a
bootstrap interval, whether the metric's best layer is the task's best layer, and per task whether
an intermediate layer beats the last (Skean et al. 2025's claim). Writes the sweep JSONs and the
tables (built as ``mi-tasks report`` builds them) to ``benchmarks/results/``.

Cost: the plain pass (``HiddenStateExtractor`` at all layers, same texts, pooling and length) is
the baseline; each family is then timed alone through ``mi_tasks.evaluate`` (its pass included,
views' extra passes included), best of ``--repeats``, and given as a ratio to it, in the same process.
Usage: python benchmarks/layer_choice_study.py [--models minilm,smollm2] [--eval 300] [--sts 500]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from _common import model as load_bundled
from mi_tasks import load_corpus
from mi_tasks.evaluation import evaluate
from mi_tasks.mteb import layer_sweep
from mi_tasks.mteb.local_tasks import agnews_classification, agnews_clustering, stsb_dev
from mi_tasks.reporting import load_results
from mi_tasks.reporting.layer_choice import layer_choice_markdown
from mi_tasks.reporting.layer_choice_report import intermediate_markdown, layer_choice_of
from mi_tasks.states.extraction import HiddenStateExtractor

FAMILIES = ("entropy", "geometry", "views", "recoverability")
OUT = Path(__file__).resolve().parent / "results"


def plain_pass_seconds(model, tok, texts: list[str], pooling: str, max_len: int, batch: int) -> float:
    """One pass over ``texts`` at all layers with pooling: the baseline every family's cost is a ratio to."""
    ext = HiddenStateExtractor(model, tok, layers="all", pooling=pooling, max_text_length=max_len,
                               batch_size=batch, progress=False)
    t = time.perf_counter()
    for _ in ext.iter_batches(texts):
        pass
    return time.perf_counter() - t


def study(alias: str, a: argparse.Namespace) -> dict:
    model, tok = load_bundled(alias)
    tasks = [stsb_dev(limit=a.sts), agnews_classification(test_size=a.cls), agnews_clustering(limit=a.clu)]
    settings = {"eval_corpus": "agnews", "eval_limit": a.eval, "max_text_length": a.max_len,
                "train_corpus": "dbpedia14", "train_limit": a.train, "text_metrics": False,
                "random_baseline": False, "n_views": a.views, "seed": 0}
    t = time.perf_counter()
    sweep = layer_sweep(alias, tasks, layers="all", model=model, tokenizer=tok, metrics=FAMILIES,
                        metric_settings=settings, batch_size=a.batch, progress=False,
                        output=OUT / f"layer_choice_sweep_{alias}.json")
    sweep_s = time.perf_counter() - t

    texts = load_corpus("agnews", limit=a.eval, seed=0).texts
    common = {k: v for k, v in settings.items() if k not in ("eval_corpus", "eval_limit")}
    base = min(plain_pass_seconds(model, tok, texts, sweep.pooling, a.max_len, a.batch) for _ in range(2))
    cost = {f: float("inf") for f in FAMILIES}
    for _ in range(a.repeats):  # best of repeats: the cores are shared, a slow outlier is contention
        for fam in FAMILIES:
            t = time.perf_counter()
            evaluate(model, tok, texts, [fam], layers="all", pooling=sweep.pooling, batch_size=a.batch,
                     progress=False, **common)
            cost[fam] = min(cost[fam], time.perf_counter() - t)

    return {"model": alias, "num_layers": sweep.num_layers, "pooling": sweep.pooling, "sweep_seconds": sweep_s,
            "plain_pass_seconds": base, "family_seconds": cost,
            "family_over_pass": {f: v / base for f, v in cost.items()}, "settings": settings,
            "mteb_sizes": {"stsb_dev_pairs": a.sts, "agnews_classification_test": a.cls, "agnews_clustering": a.clu}}


def write_tables(alias: str, got: dict) -> str:
    """The layer-choice table of the saved sweep, through the same code as ``mi-tasks report``, and the costs."""
    found = layer_choice_of(load_results([OUT / f"layer_choice_sweep_{alias}.json"]))
    if len(found) != 1:
        raise SystemExit(f"the sweep of {alias} gave {len(found)} layer-choice tables, expected 1")
    m = found[0]
    got["rows"] = [{**r.__dict__, "picks_best_layer": r.picks_best_layer} for r in m.rows]
    got["intermediate_vs_last"] = m.intermediate
    costs = "\n".join(f"- {f}: {v:.1f} s, {got['family_over_pass'][f]:.1f}x the plain pass"
                      for f, v in got["family_seconds"].items())
    text = (f"# Layer choice: {alias} ({got['num_layers']} layers, {got['pooling']} pooling)\n\n"
            f"{layer_choice_markdown(m.rows)}\n## Intermediate layer vs last\n\n{intermediate_markdown(m.intermediate)}\n"
            f"## Cost (plain pass {got['plain_pass_seconds']:.2f} s; whole sweep {got['sweep_seconds']:.0f} s)\n\n"
            f"{costs}\n")
    (OUT / f"layer_choice_{alias}.md").write_text(text, encoding="utf-8")
    (OUT / f"layer_choice_{alias}.json").write_text(json.dumps(got, indent=1, default=float), encoding="utf-8")
    return text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="minilm,smollm2")
    ap.add_argument("--eval", type=int, default=300, help="eval texts (AG News) of the MI families")
    ap.add_argument("--train", type=int, default=500, help="train texts (DBpedia-14) of recoverability's decoder")
    ap.add_argument("--views", type=int, default=4, help="augmented views per text (views family)")
    ap.add_argument("--sts", type=int, default=500, help="STS-B dev pairs")
    ap.add_argument("--cls", type=int, default=500, help="AG News classification test texts")
    ap.add_argument("--clu", type=int, default=1000, help="AG News clustering texts")
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=2, help="timings: best of this many")
    ap.add_argument("--tables-only", action="store_true", help="rebuild the tables from benchmarks/results/ only")
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    env = {"torch_threads": torch.get_num_threads(), "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "unset")}
    if not a.tables_only:
        print(f"threads={env['torch_threads']} OMP_WAIT_POLICY={env['OMP_WAIT_POLICY']}")
    for alias in [m.strip() for m in a.models.split(",") if m.strip()]:
        if a.tables_only:  # rebuild the tables from the saved sweep, keeping the measured costs
            got = json.loads((OUT / f"layer_choice_{alias}.json").read_text(encoding="utf-8"))
        else:
            got = study(alias, a)
            got["environment"] = env
        print(write_tables(alias, got))


if __name__ == "__main__":
    main()
