"""MiniLM layer sweep on the local STS-B dev task: one model load, one pass per text, a score per layer.

    python examples/mteb_layer_sweep.py [--model minilm] [--output results/mteb_sweep_minilm.json]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MI_TASKS_DATA_DIR", str(ROOT.parent / "shared" / "data"))

from mi_tasks.states.bundled import resolve_model  # noqa: E402
from mi_tasks.mteb import layer_sweep, stsb_dev  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="minilm", help="alias or path")
    ap.add_argument("--pooling", default=None, choices=["mean", "last", "first"],
                    help="default: the model's sentence-transformers pooling where it has one, else mean")
    ap.add_argument("--max-text-length", type=int, default=None, help="default: the model's max_seq_length, else 512")
    ap.add_argument("--output", default=str(ROOT / "results" / "mteb_sweep_minilm.json"))
    args = ap.parse_args()
    path, kw = resolve_model(args.model)
    res = layer_sweep(path, [stsb_dev()], layers="all", pooling=args.pooling, max_text_length=args.max_text_length,
                      output=args.output, **kw)
    print(f"{args.model}: STS-B dev, {res.pooling} pooling, normalize={res.normalize}, per layer")
    print(res.table())
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
