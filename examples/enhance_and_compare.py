"""MI enhancement on real models, measured before and after with the same runners.

For each model (MiniLM encoder, SmolLM2 decoder): enhance briefly on WikiText-2 (test split),
then compare base and enhanced checkpoints on
- token recoverability on held-out text (ridge decoders fitted on DBpedia, scored on WikiText-2
  valid), at the input and the output of the frozen last block;
- MTEB through LayerEncoder at the last layer, mean pooling: STS-B dev (STS), SST-2
  (classification), AG News topics (clustering), all read from ../shared/data.
Prints a before/after/delta table per model and writes everything to --output as JSON.

    python examples/enhance_and_compare.py --models minilm smollm2 --output results/enhance
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MI_TASKS_DATA_DIR", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import mteb  # noqa: E402

from mi_tasks import HiddenStateExtractor, RecoverabilityProbe, load_corpus, load_model  # noqa: E402
from mi_tasks.states.bundled import resolve_model  # noqa: E402
from mi_tasks.training.enhance import enhance  # noqa: E402
from mi_tasks.mteb import (LayerEncoder, agnews_clustering, main_scores, sst2_classification,  # noqa: E402
                           stsb_dev)

# Settings sized to finish in ~10 minutes of training per model on 2 busy CPU cores. Training runs
# in float32: on this CPU, bf16 autocast made the backward pass slower than float32.
PLANS = {
    "minilm": dict(steps=40, lr=5e-5, batch_size=16, max_text_length=64, eval_interval=20),
    "smollm2": dict(steps=12, lr=2e-5, batch_size=8, max_text_length=64, eval_interval=6),
}
MAX_LENGTH = 64  # evaluation truncation (recoverability and MTEB)


def recoverability(path: str, kw: dict, train, evalc, layers: list[int]) -> dict[int, dict]:
    model, tok = load_model(path, **kw)
    ex = HiddenStateExtractor(model, tok, layers=layers, pooling="mean", max_text_length=MAX_LENGTH, batch_size=16,
                              progress=False)
    res = RecoverabilityProbe(seed=0, text_metrics=False).fit(ex.stream(train)).score(ex.stream(evalc))
    return {r["layer"]: {k: r[k] for k in ("recall_at_k", "lift_recall_at_k", "ba_mi_bits", "fano_mi_bits_empirical")
                         if k in r} for r in res.layers}


def downstream(path: str, kw: dict, tasks) -> dict[str, float]:
    enc = LayerEncoder(path, layer=-1, pooling="mean", normalize=True, max_text_length=MAX_LENGTH, batch_size=16, **kw)
    res = mteb.evaluate(enc, tasks, cache=None, show_progress_bar=False, encode_kwargs={"batch_size": 16})
    return {f"{t} ({m})": v for t, (m, v) in main_scores(res, tasks).items()}


def measure(path: str, kw: dict, train, evalc, tasks, n_layers: int) -> dict[str, float]:
    out: dict[str, float] = {}
    rec = recoverability(path, kw, train, evalc, [n_layers - 1, n_layers])
    for layer, vals in rec.items():
        where = "frozen block input" if layer == n_layers - 1 else "last state"
        for k, v in vals.items():
            out[f"{k} @L{layer} ({where})"] = v
    out.update(downstream(path, kw, tasks))
    return out


def _mean_loss(rows: list[dict]) -> float:
    return sum(r["loss"] for r in rows) / max(len(rows), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["minilm", "smollm2"], choices=sorted(PLANS))
    ap.add_argument("--output", default=str(ROOT / "results" / "enhance"))
    ap.add_argument("--steps", type=int, default=None, help="override the per-model step count")
    ap.add_argument("--progress", action="store_true", help="show the training progress bar")
    args = ap.parse_args()
    data = Path(os.environ["MI_TASKS_DATA_DIR"])
    out_root = Path(args.output)
    out_root.mkdir(parents=True, exist_ok=True)
    # Evaluation sizes kept small for a shared 2-core CPU; raise them on a quiet machine.
    train = load_corpus("dbpedia14", limit=400, seed=0)
    evalc = load_corpus(data / "wikitext2" / "wiki.valid.raw", limit=150, seed=0)
    tasks = [stsb_dev(limit=200), sst2_classification(samples_per_label=16, test_limit=300),
             agnews_clustering(limit=300)]
    for name in args.models:
        path, kw = resolve_model(name)
        plan = dict(PLANS[name])
        if args.steps:
            plan["steps"] = args.steps
        target = out_root / f"{name}_enhanced"
        t0 = time.time()
        res = enhance(path, target, "wikitext2", seed=0, eval_corpus=str(data / "wikitext2" / "wiki.valid.raw"),
                      eval_limit=60, dtype="float32", progress=args.progress, **plan, **kw)
        train_s = time.time() - t0
        n_layers = res.settings["num_layers"]
        before = measure(path, kw, train, evalc, tasks, n_layers)
        after = measure(str(target), {}, train, evalc, tasks, n_layers)
        rows = [{"metric": k, "before": before[k], "after": after[k], "delta": after[k] - before[k]} for k in before]
        report = {"model": name, "base": path, "enhanced": str(target), "settings": res.settings,
                  "train_seconds": train_s, "loss_first": _mean_loss(res.losses[:5]), "loss_last": _mean_loss(res.losses[-5:]),
                  "heldout_recall_curve": res.eval_recall, "rows": rows}
        (out_root / f"{name}_compare.json").write_text(json.dumps(report, indent=2))
        print(f"\n== {name}: {plan['steps']} steps in {train_s:.0f}s (lr {plan['lr']}, batch {plan['batch_size']}, "
              f"max_length {plan['max_length']}, seed 0, compute {res.settings['compute_dtype']}); "
              f"loss (mean of first/last 5 steps) {report['loss_first']:.5f} -> {report['loss_last']:.5f}")
        print("   training head recall@k on WikiText-2 valid: "
              + " -> ".join(f"{r['recall_at_k']:.4f} (step {r['step']})" for r in res.eval_recall))
        width = max(len(r["metric"]) for r in rows)
        print(f"{'metric'.ljust(width)}    before     after     delta")
        for r in rows:
            print(f"{r['metric'].ljust(width)}  {r['before']:8.4f}  {r['after']:8.4f}  {r['delta']:+8.4f}")


if __name__ == "__main__":
    main()
