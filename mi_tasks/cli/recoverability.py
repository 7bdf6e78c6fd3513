"""``mi-tasks recoverability``: per-layer recoverability of one or more models, printed and saved as JSON."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .. import __version__
from ..data.corpora import load_corpus
from ..evaluation import evaluate
from ..states.bundled import DEFAULT_MODELS, resolve_model
from ..states.devices import check_device
from ..states.modeling import check_model_source, load_model
from .options import add_settings, settings_from

# The command's own defaults where they differ from the task YAMLs': the bundled BBC News, whole.
DEFAULTS = {"train_corpus": "bbcnews:train", "train_limit": None, "eval_corpus": "bbcnews:test", "eval_limit": None}


def add_subparser(sub: Any) -> None:
    r = sub.add_parser("recoverability", help="fit token decoders on a train corpus, score an eval corpus, per layer")
    r.add_argument("--model", action="append", default=None,
                   help="model path, hub id or alias (minilm, smollm2); repeat for several (default: both aliases)")
    r.add_argument("--gguf-file", default=None, help="GGUF file inside the model folder")
    r.add_argument("--batch-size", type=int, default=32)
    r.add_argument("--dtype", default="auto", help="auto (bf16 where the CPU/GPU is fast at it) | float32 | bfloat16")
    r.add_argument("--device", default="cpu")
    r.add_argument("--output", default="results", help="folder for one JSON result per model")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    add_settings(r, ("pass", "train", "eval", "task", "recoverability"), defaults=DEFAULTS, skip=("headline_layer",))
    r.set_defaults(func=run)


def _models(args: argparse.Namespace) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, path, load kwargs) per model, each source checked before any corpus or model loads."""
    check_device(args.device, "--device")
    models = []
    for name in args.model or DEFAULT_MODELS:
        path, kw = resolve_model(name)
        if args.gguf_file:
            kw["gguf_file"] = args.gguf_file
        check_model_source(path, kw.get("gguf_file"))
        models.append((name, path, kw))
    return models


def run_recoverability(args: argparse.Namespace) -> list[dict[str, Any]]:
    s = settings_from(args, "recoverability")
    models = _models(args)
    evalc = load_corpus(s.eval_corpus, **s.corpus_kwargs("eval"))
    load_corpus(s.train_corpus, **s.corpus_kwargs("train"))  # a broken train file stops here, before any model loads
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for name, path, kw in models:
        print(f"== {name}: train {s.train_corpus}, eval {evalc.name} ({len(evalc)} texts)", file=sys.stderr)
        model, tok = load_model(path, dtype=args.dtype, device=args.device, **kw)
        res = evaluate(model, tok, evalc.texts, ("recoverability",), s, batch_size=args.batch_size,
                       progress=not args.quiet)["recoverability"]
        res.meta.update({"eval_corpus": evalc.describe(), "model_alias": name,
                         "dtype": str(next(model.parameters()).dtype), "mi_tasks_version": __version__})
        print(f"\n{name} ({res.meta['num_layers']} layers, pooling={s.pooling}, fit={s.fit}, targets={s.targets})")
        print(res.table())
        m = res.meta
        print(f"|V|={m['vocab_size']}  decoder vocab={m['decoder_vocab_size']}  eval token coverage={m['coverage_tokens']:.3f}  "
              f"H(t)={m['unigram_entropy_bits']:.2f} bits  log2|V|={m['log2_vocab']:.2f} bits")
        target = out_dir / f"recoverability_{Path(name).name.replace('/', '_')}.json"
        target.write_text(json.dumps(res.to_dict(), indent=2))
        print(f"saved {target}")
        results.append(res.to_dict())
        del model
    return results


def run(args: argparse.Namespace) -> int:
    run_recoverability(args)
    return 0
