"""``mi-tasks enhance``: fine-tune a model for token recoverability and save a Hugging Face checkpoint."""
from __future__ import annotations

import argparse
from typing import Any

from ..states.bundled import resolve_model
from ..training import enhance as enhance_module
from .options import add_settings, settings_from

# The settings enhancement reads, under their names everywhere; its own defaults: WikiText-2, whole.
ONLY = ("train_corpus", "train_text_field", "train_limit", "eval_limit", "max_text_length", "pooling", "seed")
DEFAULTS = {"train_corpus": "wikitext2", "train_limit": None, "eval_limit": 200}


def add_subparser(subparsers: Any) -> None:
    """``mi-tasks enhance MODEL OUTPUT_DIR [options]``."""
    p = subparsers.add_parser("enhance", help="fine-tune for token recoverability (last block frozen); save an HF checkpoint",
                              description=enhance_module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="model path, hub id or alias (minilm, smollm2)")
    p.add_argument("output_dir", help="folder for the checkpoint (and checkpoints/ to resume from)")
    p.add_argument("--eval-corpus", default=None,
                   help="held-out corpus for the recall curve: registered name or file (default: part of --train-corpus)")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--head-lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--eval-interval", type=int, default=50)
    p.add_argument("--layer", type=int, default=-1, help="state the decoder reads (-1: output of the frozen last block)")
    p.add_argument("--train-blocks", type=int, default=None,
                   help="train only this many blocks just below the frozen last one (default: all of them)")
    p.add_argument("--dtype", default="auto", help="compute dtype: auto (bf16 where fast) | float32 | bfloat16")
    p.add_argument("--gguf-file", default=None, help="GGUF file inside the model folder")
    p.add_argument("--no-resume", action="store_true", help="start over even if checkpoints exist")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_settings(p, ("states", "train", "eval", "task"), defaults=DEFAULTS, only=ONLY)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    s = settings_from(args, "enhance")
    path, kw = resolve_model(args.model)
    if args.gguf_file:
        kw["gguf_file"] = args.gguf_file
    res = enhance_module.enhance(path, args.output_dir, s.train_corpus, steps=args.steps, lr=args.lr,
                                 head_lr=args.head_lr, batch_size=args.batch_size, max_text_length=s.max_text_length,
                                 seed=s.seed, eval_interval=args.eval_interval, eval_corpus=args.eval_corpus,
                                 eval_limit=s.eval_limit, corpus_limit=s.train_limit, text_field=s.train_text_field,
                                 layer=args.layer, pooling=s.pooling, train_blocks=args.train_blocks, dtype=args.dtype,
                                 resume=not args.no_resume, progress=not args.quiet, **kw)
    first, last = res.losses[0]["loss"] if res.losses else float("nan"), res.losses[-1]["loss"] if res.losses else float("nan")
    print(f"saved {res.output_dir}: loss {first:.5f} -> {last:.5f}; held-out recall@k "
          + " -> ".join(f"{r['recall_at_k']:.4f}" for r in res.eval_recall))
    return 0
