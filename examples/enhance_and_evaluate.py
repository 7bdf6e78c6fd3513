"""MI enhancement, measured: several seeds, before/after with standard errors, the project's runners.

Protocol (docs/enhancement.md):
1. ``train``: for each seed, ``mi_tasks.training.enhance.enhance`` on WikiText-2 (test split) with a
   held-out recall curve on WikiText-2 valid; checkpoints go to OUTPUT/<model>/seed<k>/ and a rerun
   resumes them.
2. ``evaluate``: the base model and each enhanced checkpoint, with identical settings:
   - held-out recoverability: :class:`mi_tasks.RecoverabilityProbe` (ridge) fitted on DBpedia,
     scored on AG News, at the input of the frozen last block (state L-1) and at its output (L);
     the per-text recall is kept so the before/after difference gets a paired standard error;
   - MTEB through :class:`mi_tasks.mteb.LayerEncoder` (last state, mean pooling over all tokens,
     L2-normalised) and ``mteb.evaluate``: STS-B dev (Spearman), AG News classification
     (accuracy), AG News clustering (V-measure), all from ../shared/data.
   Each model's numbers go to OUTPUT/<model>/eval_<name>.json, reused on a rerun only when the
   checkpoint (its files and training record) and the evaluation options are the same.
3. ``report``: before, after (mean over seeds), delta with its standard error across seeds, and for
   recoverability the per-text standard error of the delta (paired, averaged over seeds).
   Written to OUTPUT/<model>/report.json and report.md.

Small defaults finish in a few minutes on 2 CPU cores; the documented run used
``--steps 300 --seeds 0 1 2`` (see docs/enhancement.md for the exact command):

    python examples/enhance_and_evaluate.py --model minilm --steps 40 --seeds 0 1
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MI_TASKS_DATA_DIR", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from mi_tasks import HiddenStateExtractor, RecoverabilityProbe, load_corpus, load_model  # noqa: E402
from mi_tasks.states.bundled import resolve_model  # noqa: E402
from mi_tasks.training.enhance import enhance  # noqa: E402

REC_KEYS = ("recall_at_k", "lift_recall_at_k", "fano_mi_bits", "ba_mi_bits")


def data_dir() -> Path:
    return Path(os.environ["MI_TASKS_DATA_DIR"])


TRAIN_ARGS = ("lr", "batch_size", "max_text_length", "train_blocks", "dtype", "eval_interval", "recall_texts")


def train_args(args: argparse.Namespace) -> dict:
    """The options a checkpoint was trained with beside its seed and steps (a rerun with others trains again)."""
    return {k: getattr(args, k) for k in TRAIN_ARGS}


def train(args: argparse.Namespace, path: str, kw: dict, out: Path) -> dict[int, dict]:
    """Enhance once per seed; return {seed: enhance_result.json contents}."""
    runs = {}
    for seed in args.seeds:
        target = out / f"seed{seed}"
        done = target / "enhance_result.json"
        if done.is_file():
            old = json.loads(done.read_text())
            if old.get("steps") == args.steps and old.get("train_args") == train_args(args):
                runs[seed] = old
                continue
        t = time.perf_counter()
        res = enhance(path, target, str(data_dir() / "wikitext2" / "wiki.test.raw"), steps=args.steps, lr=args.lr,
                      batch_size=args.batch_size, max_text_length=args.max_text_length, seed=seed,
                      eval_interval=args.eval_interval, eval_corpus=str(data_dir() / "wikitext2" / "wiki.valid.raw"),
                      eval_limit=args.recall_texts, train_blocks=args.train_blocks, dtype=args.dtype,
                      progress=args.progress, **kw)
        d = res.to_dict()
        d["wall_seconds"] = time.perf_counter() - t
        d["train_args"] = train_args(args)
        done.write_text(json.dumps(d, indent=2))
        curve = " -> ".join(f"{r['recall_at_k']:.4f}@{r['step']}" for r in res.eval_recall)
        print(f"[train] seed {seed}: {args.steps} steps in {d['wall_seconds']:.0f}s; training-head recall {curve}",
              flush=True)
        runs[seed] = d
    return runs


def mteb_tasks(args: argparse.Namespace) -> list:
    from mi_tasks.mteb import agnews_classification, agnews_clustering, stsb_dev

    return [stsb_dev(limit=args.sts_pairs), agnews_classification(test_size=args.cls_texts, samples_per_label=16),
            agnews_clustering(limit=args.cluster_texts)]


EVAL_ARGS = ("eval_max_length", "probe_fit", "probe_test", "sts_pairs", "cls_texts", "cluster_texts")


def checkpoint_fingerprint(path: str, kw: dict) -> dict:
    """What identifies a checkpoint's weights: its files' names, sizes and change times, and enhance's record."""
    folder = Path(path)
    files = {}
    if folder.is_dir():
        for f in sorted(folder.iterdir()):
            if f.is_file() and f.suffix in (".safetensors", ".bin", ".gguf", ".json", ".model", ".txt"):
                st = f.stat()
                files[f.name] = [st.st_size, st.st_mtime_ns]
    done = folder / "enhance_result.json"
    record = json.loads(done.read_text()) if done.is_file() else {}
    return {"path": str(path), "load_kwargs": kw, "files": files,
            "steps": record.get("steps"), "settings": record.get("settings")}


def eval_key(args: argparse.Namespace, path: str, kw: dict) -> dict:
    """Everything an evaluation depends on: the checkpoint and the evaluation settings (a cache hit needs all equal)."""
    from mi_tasks import __version__

    return {"checkpoint": checkpoint_fingerprint(path, kw), "eval": {k: getattr(args, k) for k in EVAL_ARGS},
            "mi_tasks_version": __version__}


def evaluate(args: argparse.Namespace, name: str, path: str, kw: dict, out: Path) -> dict:
    """Recoverability at states L-1 and L and the MTEB main scores of one checkpoint (cached in ``out``)."""
    import mteb

    from mi_tasks.mteb import LayerEncoder, main_scores

    cache = out / f"eval_{name}.json"
    key = eval_key(args, path, kw)
    if cache.is_file():
        old = json.loads(cache.read_text())
        if old.get("key") == key:
            return old
        print(f"[eval] {name}: cached evaluation was made from another checkpoint or settings; evaluating again",
              flush=True)
    t = time.perf_counter()
    model, tok = load_model(path, dtype="float32", **kw)
    n = model.config.num_hidden_layers
    ex = HiddenStateExtractor(model, tok, layers=[n - 1, n], pooling="mean", max_text_length=args.eval_max_length,
                              batch_size=32, progress=False)
    fit = load_corpus("dbpedia14", limit=args.probe_fit, seed=0)
    test = load_corpus("agnews", limit=args.probe_test, seed=0)
    res = RecoverabilityProbe(seed=0, text_metrics=False).fit(ex.stream(fit)).score(ex.stream(test))
    rec = {}
    for j, row in enumerate(res.layers):
        rec[str(row.layer)] = {**{k: row[k] for k in REC_KEYS}, "stderr": {k: row.stderr(k) for k in REC_KEYS},
                                  "per_text_recall": res.per_text["recall"][j].tolist()}
    rec_s = time.perf_counter() - t
    enc = LayerEncoder(path, layer=-1, pooling="mean", normalize=True, include_special=True,
                       max_text_length=args.eval_max_length, batch_size=32, model=model, tokenizer=tok)
    tasks = mteb_tasks(args)
    scores = main_scores(mteb.evaluate(enc, tasks, cache=None, show_progress_bar=False,
                                       encode_kwargs={"batch_size": 32}), tasks)
    d = {"name": name, "path": path, "key": key, "num_layers": n, "recoverability": rec,
         "mteb": {f"{task} ({metric})": v for task, (metric, v) in scores.items()},
         "seconds": {"recoverability": rec_s, "mteb": time.perf_counter() - t - rec_s}}
    cache.write_text(json.dumps(d))
    print(f"[eval] {name}: recoverability {rec_s:.0f}s, MTEB {d['seconds']['mteb']:.0f}s", flush=True)
    return d


def _se(xs: list[float]) -> float:
    return float(np.std(xs, ddof=1) / math.sqrt(len(xs))) if len(xs) > 1 else float("nan")


def report(base: dict, after: dict[int, dict], runs: dict[int, dict], out: Path) -> dict:
    seeds = sorted(after)
    rows = []
    n = base["num_layers"]
    for layer in (str(n - 1), str(n)):
        where = "frozen-block input" if layer == str(n - 1) else "last state"
        b = base["recoverability"][layer]
        for k in REC_KEYS:
            vals = [after[s]["recoverability"][layer][k] for s in seeds]
            row = {"metric": f"{k} @L{layer} ({where})", "before": b[k], "before_se_texts": b["stderr"][k],
                   "after": float(np.mean(vals)), "delta": float(np.mean(vals)) - b[k],
                   "delta_se_seeds": _se([v - b[k] for v in vals]), "per_seed_delta": [v - b[k] for v in vals]}
            if k == "recall_at_k":  # paired over the same eval texts, per seed, then averaged
                pb = np.asarray(b["per_text_recall"])
                pts = [np.asarray(after[s]["recoverability"][layer]["per_text_recall"]) - pb for s in seeds]
                row["delta_se_texts"] = float(np.mean([d.std(ddof=1) / math.sqrt(len(d)) for d in pts]))
            rows.append(row)
    for task, v in base["mteb"].items():
        vals = [after[s]["mteb"][task] for s in seeds]
        rows.append({"metric": task, "before": v, "after": float(np.mean(vals)), "delta": float(np.mean(vals)) - v,
                     "delta_se_seeds": _se([x - v for x in vals]), "per_seed_delta": [x - v for x in vals]})
    curves = {s: [(r["step"], r["recall_at_k"]) for r in runs[s]["eval_recall"]] for s in seeds if s in runs}
    step_s = [x["seconds"] for s in seeds if s in runs for x in runs[s]["losses"] if "seconds" in x]
    rep = {"seeds": seeds, "rows": rows, "training_head_recall": curves,
           "median_seconds_per_step": float(np.median(step_s)) if step_s else None,
           "train_wall_seconds": {s: runs[s].get("wall_seconds") for s in seeds if s in runs},
           "settings": next(iter(runs.values()))["settings"] if runs else None,
           "eval_seconds": {"base": base["seconds"], **{f"seed{s}": after[s]["seconds"] for s in seeds}}}
    (out / "report.json").write_text(json.dumps(rep, indent=2))
    fmt = lambda x: "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"  # noqa: E731
    lines = [f"| metric | before (± SE texts) | after, mean of {len(seeds)} seeds | delta | SE seeds | SE texts (paired) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        before = fmt(r["before"]) + (f" ± {fmt(r['before_se_texts'])}" if r.get("before_se_texts") is not None else "")
        lines.append(f"| {r['metric']} | {before} | {fmt(r['after'])} | {r['delta']:+.4f} | "
                     f"{fmt(r['delta_se_seeds'])} | {fmt(r.get('delta_se_texts'))} |")
    (out / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return rep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="minilm", help="alias (minilm, smollm2) or model folder")
    ap.add_argument("--phase", nargs="+", default=["train", "evaluate", "report"],
                    choices=["train", "evaluate", "report"])
    ap.add_argument("--only", default=None, help="evaluate only this checkpoint: 'base' or 'seed<k>'")
    ap.add_argument("--output", default=str(ROOT / "results" / "enhance_eval"))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-text-length", type=int, default=64)
    ap.add_argument("--train-blocks", type=int, default=None)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--eval-interval", type=int, default=20)
    ap.add_argument("--recall-texts", type=int, default=100, help="WikiText-2 valid texts of the training-head curve")
    ap.add_argument("--eval-max-length", type=int, default=128)
    ap.add_argument("--probe-fit", type=int, default=600, help="DBpedia texts the ridge decoders are fitted on")
    ap.add_argument("--probe-test", type=int, default=300, help="AG News texts they are scored on")
    ap.add_argument("--sts-pairs", type=int, default=None, help="STS-B dev pairs (default: all 1,500)")
    ap.add_argument("--cls-texts", type=int, default=400)
    ap.add_argument("--cluster-texts", type=int, default=400)
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    path, kw = resolve_model(args.model)
    out = Path(args.output) / Path(args.model).name
    out.mkdir(parents=True, exist_ok=True)
    runs = train(args, path, kw, out) if "train" in args.phase else {
        s: json.loads((out / f"seed{s}" / "enhance_result.json").read_text())
        for s in args.seeds if (out / f"seed{s}" / "enhance_result.json").is_file()}
    if "evaluate" in args.phase:
        if args.only in (None, "base"):
            evaluate(args, "base", path, kw, out)
        for s in args.seeds:
            if args.only in (None, f"seed{s}") and s in runs:
                evaluate(args, f"seed{s}", str(out / f"seed{s}"), {}, out)
    if "report" in args.phase:
        base = evaluate(args, "base", path, kw, out)
        after = {s: evaluate(args, f"seed{s}", str(out / f"seed{s}"), {}, out) for s in args.seeds if s in runs}
        report(base, after, runs, out)


if __name__ == "__main__":
    main()
