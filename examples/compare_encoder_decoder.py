"""Encoder (all-MiniLM-L6-v2) vs decoder (SmolLM2-135M), layer by layer, through ``lm_eval``.

Runs offline with the bundled models and BBC News (or your own corpora), then prints the headline
table and writes the overview figure (recall@k and the information bounds over normalized depth):
    python examples/compare_encoder_decoder.py --out encoder-vs-decoder
    python examples/compare_encoder_decoder.py --eval-corpus my.tsv --eval-field sentence --pooling last
"""
from __future__ import annotations

import argparse
from pathlib import Path

from mi_tasks.reporting.main_job import SuiteConfig, run_suite


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="encoder-vs-decoder")
    ap.add_argument("--tasks", default="mi_recoverability", help="lm-eval tasks (mi_suite adds entropy and emergence)")
    ap.add_argument("--train-corpus", default="bbcnews:train")
    ap.add_argument("--eval-corpus", default="bbcnews:test")
    ap.add_argument("--eval-field", default=None, help="text field of a .jsonl/.csv/.tsv eval file")
    ap.add_argument("--train-limit", type=int, default=1000)
    ap.add_argument("--eval-limit", type=int, default=300)
    ap.add_argument("--pooling", default="mean", choices=["mean", "last", "first"])
    a = ap.parse_args()
    md = {"train_corpus": a.train_corpus, "eval_corpus": a.eval_corpus, "train_limit": a.train_limit,
          "eval_limit": a.eval_limit, "pooling": a.pooling, "text_metrics": False}
    if a.eval_field:
        md["eval_text_field"] = a.eval_field
    report = run_suite(SuiteConfig(models=["minilm", "smollm2"], tasks=a.tasks, metadata=md, out_dir=Path(a.out)))
    print(report.headline)
    for s in report.results.tasks:
        if s.task == "mi_recoverability":
            curve = " ".join(f"{d:.2f}:{v:.3f}" for _, d, v in s.curves["recall_at_k"])
            print(f"\n{s.run.label} recall@k by depth: {curve}")
    print(f"\nfigure: {report.figures.overview}")


if __name__ == "__main__":
    main()
