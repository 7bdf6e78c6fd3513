"""A fine-tuned checkpoint beside its base model, layer by layer, with the same ``lm_eval`` tasks.

The checkpoint is any Hugging Face model folder, e.g. what ``mi-tasks enhance`` saves:
    python examples/finetuned_vs_base.py --finetuned runs/enhanced --base smollm2 --out finetuned-vs-base
``--base`` takes an alias (minilm, smollm2), a folder, or 'FOLDER,gguf_file=NAME'. Both models see
the same corpora, layers, pooling and seed, so their curves and leaderboard rows compare.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from mi_tasks.cli.suite import SuiteConfig, run_suite


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--finetuned", required=True, help="fine-tuned checkpoint folder")
    ap.add_argument("--base", default="smollm2", help="base model: alias, folder, or 'FOLDER,gguf_file=NAME'")
    ap.add_argument("--out", default="finetuned-vs-base")
    ap.add_argument("--tasks", default="mi_recoverability")
    ap.add_argument("--train-corpus", default="bbcnews:train")
    ap.add_argument("--eval-corpus", default="bbcnews:test")
    ap.add_argument("--train-limit", type=int, default=1000)
    ap.add_argument("--eval-limit", type=int, default=300)
    ap.add_argument("--dtype", default="bfloat16")
    a = ap.parse_args()
    if not Path(a.finetuned).is_dir():
        raise SystemExit(f"--finetuned {a.finetuned}: not a folder; pass the checkpoint folder the fine-tuning saved")
    md = {"train_corpus": a.train_corpus, "eval_corpus": a.eval_corpus, "train_limit": a.train_limit,
          "eval_limit": a.eval_limit, "text_metrics": False}
    report = run_suite(SuiteConfig(models=[a.base, a.finetuned], labels=["base", "fine-tuned"], tasks=a.tasks,
                                   metadata=md, out_dir=Path(a.out), dtype=a.dtype))
    print(report.headline)
    base, tuned = (next(t for t in report.results.tasks if t.run.label == lab and t.task == "mi_recoverability")
                   for lab in ("base", "fine-tuned"))
    print("\nrecall@k change per layer (fine-tuned - base):")
    for (lay, d, b), (_, _, f) in zip(base.curves["recall_at_k"], tuned.curves["recall_at_k"]):
        print(f"  layer {lay:>2} (depth {d:.2f}): {b:.4f} -> {f:.4f} ({f - b:+.4f})")
    print(f"\nfigure: {report.figures.overview}")


if __name__ == "__main__":
    main()
