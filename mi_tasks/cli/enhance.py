"""``mi-tasks enhance``: fine-tune a model for token recoverability and save a Hugging Face checkpoint."""
from __future__ import annotations

import argparse
from typing import Any

from ..states.bundled import resolve_model
from ..training import enhance as enhance_module
from ..training.settings import ENHANCE_DEFAULTS, ENHANCE_TASK_SETTINGS, TrainingSettings
from .options import add_settings, option_name, settings_from


def add_subparser(subparsers: Any) -> None:
    """``mi-tasks enhance MODEL OUTPUT_DIR [options]``: every option is a setting of the Python API's, same name."""
    p = subparsers.add_parser("enhance", help="fine-tune for token recoverability (last block frozen); save an HF checkpoint",
                              description=enhance_module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="model path, hub id or alias (minilm, smollm2)")
    p.add_argument("output_dir", help="folder for the checkpoint (and checkpoints/ to resume from)")
    p.add_argument("--dtype", default="auto", help="compute dtype: auto (bf16 where fast) | float32 | bfloat16")
    p.add_argument("--gguf-file", default=None, help="GGUF file inside the model folder")
    p.add_argument("--no-resume", action="store_true", help="start over even if checkpoints exist")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_settings(p, ("pass", "train", "eval", "task"), defaults=ENHANCE_DEFAULTS, only=ENHANCE_TASK_SETTINGS)
    add_settings(p, (TrainingSettings,))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    given = {k: v for k, v in vars(args).items() if v is not None}
    task = {k: given[k] for k in ENHANCE_TASK_SETTINGS if k in given}
    training = {k: given[k] for k in TrainingSettings.specs() if k in given}
    settings_from(args, "enhance")  # each option's value checked, its message naming the option
    for k, v in training.items():
        TrainingSettings.given(None, f" (mi-tasks enhance {option_name(k)})", **{k: v})
    path, kw = resolve_model(args.model)
    if args.gguf_file:
        kw["gguf_file"] = args.gguf_file
    res = enhance_module.enhance(path, args.output_dir, dtype=args.dtype, resume=not args.no_resume,
                                 progress=not args.quiet, **kw, **task, **training)
    first, last = res.losses[0]["loss"] if res.losses else float("nan"), res.losses[-1]["loss"] if res.losses else float("nan")
    print(f"saved {res.output_dir}: loss {first:.5f} -> {last:.5f}; held-out recall@k "
          + " -> ".join(f"{r['recall_at_k']:.4f}" for r in res.eval_recall))
    return 0
