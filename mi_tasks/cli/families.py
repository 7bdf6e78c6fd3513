"""``mi-tasks <family>``: one metric family's per-layer table for one or more models, printed and saved as JSON.

Every known family is a command of its own name (``mi-tasks recoverability``, ``mi-tasks entropy``, a
plugin's), with the options its settings and the pass's declare: the core API (:func:`mi_tasks.evaluate`)
without lm-eval. Its corpora default to the bundled BBC News, whole, where the task YAMLs read larger ones.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from .. import __version__
from ..data.corpora import load_corpus
from ..evaluation import evaluate
from ..metrics.family import Skipped
from ..metrics.registry import family_class, known_families
from ..saving import replace_file
from ..states.bundled import DEFAULT_MODELS, resolve_model
from ..states.devices import check_device
from ..states.modeling import check_model_source, load_model
from .options import add_settings, settings_from

log = logging.getLogger(__name__)

# The commands' own defaults where they differ from the task YAMLs': the bundled BBC News, whole.
DEFAULTS = {"train_corpus": "bbcnews:train", "train_limit": None, "eval_corpus": "bbcnews:test", "eval_limit": None}


def add_subparser(sub: Any) -> None:
    for name in known_families():
        if name in sub.choices:  # a plugin family named like a command (report): the command keeps its name
            log.warning("metric family %r has no command of its own: `mi-tasks %s` is another command; "
                        "rename the family to get one", name, name)
            continue
        fam = family_class(name)
        r = sub.add_parser(name, help=f"the {name} family's metrics per layer ({', '.join(fam.table_metrics)})")
        r.add_argument("--model", action="append", default=None,
                       help="model path, hub id or alias (minilm, smollm2); repeat for several (default: both aliases)")
        r.add_argument("--gguf-file", default=None, help="GGUF file inside the model folder")
        r.add_argument("--batch-size", type=int, default=32)
        r.add_argument("--dtype", default="auto", help="auto (bf16 where the CPU/GPU is fast at it) | float32 | bfloat16")
        r.add_argument("--device", default="cpu")
        r.add_argument("--output", default="results", help=f"folder for one JSON result per model ({name}_<model>.json)")
        r.add_argument("--quiet", action="store_true", help="no progress bars")
        groups = ("pass", *(("train",) if fam.needs_train else ()), "eval", "task", *((name,) if fam.settings else ()))
        add_settings(r, groups, defaults={k: v for k, v in DEFAULTS.items() if fam.needs_train or not k.startswith("train_")},
                     skip=("headline_layer",))
        r.set_defaults(func=run, family=name)


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


def run_family(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each model's result of ``args.family``, printed and saved; a model the family cannot score says why."""
    family = args.family
    s = settings_from(args, family)
    models = _models(args)
    evalc = load_corpus(s.eval_corpus, **s.corpus_kwargs("eval"))
    if family_class(family).needs_train:  # a broken train file stops here, before any model loads
        load_corpus(s.train_corpus, **s.corpus_kwargs("train"))
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for name, path, kw in models:
        print(f"== {name}: {family} on {evalc.name} ({len(evalc)} texts)", file=sys.stderr)
        model, tok = load_model(path, dtype=args.dtype, device=args.device, **kw)
        res = evaluate(model, tok, evalc.texts, (family,), s, batch_size=args.batch_size,
                       progress=not args.quiet)[family]
        if isinstance(res, Skipped):
            print(f"{name}: {family} skipped: {res.reason}", file=sys.stderr)
            del model
            continue
        res.meta.update({"eval_corpus": evalc.describe(), "model_alias": name,
                         "dtype": str(next(model.parameters()).dtype), "mi_tasks_version": __version__})
        print(f"\n{name} ({res.meta.get('num_layers')} layers, pooling={s.pooling})")
        print(res.table())
        target = out_dir / f"{family}_{Path(name).name.replace('/', '_')}.json"
        replace_file(target, json.dumps(res.to_dict(), indent=2))
        print(f"saved {target}")
        results.append(res.to_dict())
        del model
    return results


def run(args: argparse.Namespace) -> int:
    run_family(args)
    return 0
