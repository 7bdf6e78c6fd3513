"""``mi-tasks enhance``: fine-tune a model for token recoverability and save a Hugging Face checkpoint."""
from __future__ import annotations

import argparse
from typing import Any

from ..states.bundled import resolve_model
from ..states.pooling import POOLINGS
from ..training import enhance as enhance_module


def add_subparser(subparsers: Any) -> None:
    """``mi-tasks enhance MODEL OUTPUT_DIR [options]``."""
    p = subparsers.add_parser("enhance", help="fine-tune for token recoverability (last block frozen); save an HF checkpoint",
                              description=enhance_module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="model path, hub id or alias (minilm, smollm2)")
    p.add_argument("output_dir", help="folder for the checkpoint (and checkpoints/ to resume from)")
    p.add_argument("--corpus", default="wikitext2", help="training corpus: registered name or file (default wikitext2)")
    p.add_argument("--text-field", default=None, help="text field of a .jsonl/.csv/.tsv corpus")
    p.add_argument("--corpus-limit", type=int, default=None, help="keep a seeded sample of this many training texts")
    p.add_argument("--eval-corpus", default=None, help="held-out corpus for the recall curve (default: part of --corpus)")
    p.add_argument("--eval-limit", type=int, default=200)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--head-lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-interval", type=int, default=50)
    p.add_argument("--layer", type=int, default=-1, help="state the decoder reads (-1: output of the frozen last block)")
    p.add_argument("--pooling", default="mean", choices=POOLINGS)
    p.add_argument("--train-blocks", type=int, default=None,
                   help="train only this many blocks just below the frozen last one (default: all of them)")
    p.add_argument("--dtype", default="auto", help="compute dtype: auto (bf16 where fast) | float32 | bfloat16")
    p.add_argument("--gguf-file", default=None, help="GGUF file inside the model folder")
    p.add_argument("--no-resume", action="store_true", help="start over even if checkpoints exist")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path, kw = resolve_model(args.model)
    if args.gguf_file:
        kw["gguf_file"] = args.gguf_file
    res = enhance_module.enhance(path, args.output_dir, args.corpus, steps=args.steps, lr=args.lr, head_lr=args.head_lr,
                  batch_size=args.batch_size, max_length=args.max_length, seed=args.seed,
                  eval_interval=args.eval_interval, eval_corpus=args.eval_corpus, eval_limit=args.eval_limit,
                  corpus_limit=args.corpus_limit, text_field=args.text_field, layer=args.layer,
                  pooling=args.pooling, train_blocks=args.train_blocks, dtype=args.dtype, resume=not args.no_resume, progress=not args.quiet, **kw)
    first, last = res.losses[0]["loss"] if res.losses else float("nan"), res.losses[-1]["loss"] if res.losses else float("nan")
    print(f"saved {res.output_dir}: loss {first:.5f} -> {last:.5f}; held-out recall@k "
          + " -> ".join(f"{r['recall_at_k']:.4f}" for r in res.eval_recall))
    return 0
