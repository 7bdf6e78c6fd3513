"""``mi-tasks recoverability``: per-layer recoverability of one or more models, printed and saved as JSON."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .. import __version__
from ..states.bundled import DEFAULT_MODELS, resolve_model
from ..data.corpora import load_corpus
from ..errors import MiTasksError
from ..states.extraction import HiddenStateExtractor
from ..states.devices import check_device
from ..states.modeling import check_model_source, load_model
from ..harness.settings import TaskSettings
from ..metrics.recoverability.probe import FITS, RecoverabilityProbe
from ..metrics.recoverability.words import TARGETS
from ..states.pooling import POOLINGS
from .options import corpus_options

_D = TaskSettings()  # every default below is the task settings' (mi_tasks/*/settings.py)


def add_subparser(sub: Any) -> None:
    r = sub.add_parser("recoverability", help="fit token decoders on a train corpus, score an eval corpus, per layer")
    r.add_argument("--model", action="append", default=None,
                   help="model path, hub id or alias (minilm, smollm2); repeat for several (default: both aliases)")
    r.add_argument("--gguf-file", default=None, help="GGUF file inside the model folder")
    r.add_argument("--layers", default=_D.layers, help="all | 0,6,-1 | 0:1:0.25 (normalized depths)")
    r.add_argument("--pooling", default=_D.pooling, choices=POOLINGS)
    r.add_argument("--max-text-length", "--max-length", type=int, default=_D.max_text_length,
                   help=f"tokens per text (default {_D.max_text_length}); --max-length is its old name")
    r.add_argument("--batch-size", type=int, default=32)
    r.add_argument("--dtype", default="auto", help="auto (bf16 where the CPU/GPU is fast at it) | float32 | bfloat16")
    r.add_argument("--device", default="cpu")
    r.add_argument("--fit", default=_D.fit, choices=FITS)
    r.add_argument("--targets", default=_D.targets, choices=TARGETS,
                   help="tokens: the model's own (the paper's); words: one tokenization for every model (compare models)")
    r.add_argument("--seed", type=int, default=_D.seed)
    r.add_argument("--no-text-metrics", action="store_true", help="skip BLEU-4 / ROUGE-L")
    r.add_argument("--memory-budget-gb", type=float, default=_D.memory_budget_gb,
                   help="GiB for the decoders held at once; more layers are fitted in groups, same numbers "
                        f"(default {_D.memory_budget_gb:g}; 0: no bound)")
    r.add_argument("--decoder-device", default=_D.decoder_device,
                   help="where the decoders' statistics, solve and scoring run (default: the model's device)")
    corpus_options(r, "train", "bbcnews:train", None)
    corpus_options(r, "eval", "bbcnews:test", None)
    r.add_argument("--output", default="results", help="folder for one JSON result per model")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.set_defaults(func=run)


def _check_args(args: argparse.Namespace) -> list[tuple[str, str, dict[str, Any]]]:
    """Every option checked before any corpus or model loads: (name, path, load kwargs) per model."""
    for flag, value in (("--train-limit", args.train_limit), ("--eval-limit", args.eval_limit)):
        if value is not None and value < 1:
            raise MiTasksError(f"{flag} must be >= 1 (texts to keep; leave it out for the whole corpus), got {value}")
    if args.seed < 0:
        raise MiTasksError(f"--seed must be >= 0, got {args.seed}")
    check_device(args.device, "--device")
    if args.decoder_device is not None:
        check_device(args.decoder_device, "--decoder-device")
    models = []
    for name in args.model or DEFAULT_MODELS:
        path, kw = resolve_model(name)
        if args.gguf_file:
            kw["gguf_file"] = args.gguf_file
        check_model_source(path, kw.get("gguf_file"))
        models.append((name, path, kw))
    return models


def run_recoverability(args: argparse.Namespace) -> list[dict[str, Any]]:
    models = _check_args(args)
    train = load_corpus(args.train_corpus, text_field=args.train_field, template=args.train_template,
                        limit=args.train_limit, seed=args.seed)
    evalc = load_corpus(args.eval_corpus, text_field=args.eval_field, template=args.eval_template,
                        limit=args.eval_limit, seed=args.seed)
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for name, path, kw in models:
        print(f"== {name}: train {train.name} ({len(train)} texts), eval {evalc.name} ({len(evalc)} texts)", file=sys.stderr)
        model, tok = load_model(path, dtype=args.dtype, device=args.device, **kw)
        ex = HiddenStateExtractor(model, tok, layers=args.layers, pooling=args.pooling, max_text_length=args.max_text_length,
                                  batch_size=args.batch_size, progress=not args.quiet)
        probe = RecoverabilityProbe(fit=args.fit, seed=args.seed, text_metrics=not args.no_text_metrics,
                                    memory_budget_gb=args.memory_budget_gb, decoder_device=args.decoder_device,
                                    targets=args.targets)
        res = probe.fit(ex, train).score(ex, evalc)
        res.meta.update({"model_alias": name, "dtype": str(next(model.parameters()).dtype), "mi_tasks_version": __version__})
        print(f"\n{name} ({ex.num_layers} layers, pooling={ex.pooling}, fit={args.fit}, targets={args.targets})")
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
