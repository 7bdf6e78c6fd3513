"""``mi-tasks suite``, the main job: the MI suite through the ``lm_eval`` command on several models, then the report.

Each model gets one ``lm_eval --model hf-mi ... --tasks mi_suite`` subprocess, the command a user
would type (printed before it runs); its progress bars stream to the terminal. Afterwards the
report (headline table, per-layer figures, tables, leaderboard rows) is built from the results
JSONs of this run only.
"""
from __future__ import annotations

import argparse
import codecs
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..states.bundled import DEFAULT_MODELS, display_name, resolve_model
from ..errors import MiTasksError
from ..metrics.registry import all_families
from ..settings import TaskSettings, settings_groups
from ..harness.lm_eval_compat import MODEL_NAME, ONLY_OURS_ENV, task_dir
from ..states.modeling import check_model_source, resolve_dtype
from ..reporting.report import Report, write_report
from .options import add_settings, settings_from



@dataclass
class SuiteConfig:
    """What to run: models, lm-eval tasks and the task settings sent through ``--metadata``."""

    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    labels: list[str] | None = None        # display names, one per model (default: alias name or folder)
    tasks: str = "mi_suite"
    include_path: str | None = None        # lm_eval --include_path: a folder of the user's own task YAMLs
    metadata: dict[str, Any] = field(default_factory=dict)
    out_dir: Path = Path("mi-report")
    device: str = "cpu"
    dtype: str = "auto"                    # resolved here (lm-eval's own "auto" means the checkpoint's dtype)
    batch_size: str = "32"
    limit: int | None = None
    extra_model_args: str = ""
    quiet: bool = False
    env: dict[str, str] | None = None      # extra environment for the subprocesses


def lm_eval_command() -> list[str]:
    """The ``lm_eval`` of this Python environment (beside the interpreter), else the one on PATH."""
    beside = Path(sys.executable).with_name("lm_eval")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("lm_eval")
    if found:
        return [found]
    return [sys.executable, "-m", "lm_eval"]


def model_args_for(spec: str, dtype: str, extra: str = "") -> tuple[str, str, str]:
    """(model_args, pretrained path, label) for an alias (minilm, smollm2) or 'PATH[,key=value,...]'."""
    name, _, rest = spec.partition(",")
    path, kw = resolve_model(name.strip())
    args = {"pretrained": path, **kw}
    for item in (p for p in (rest + "," + extra).split(",") if p.strip()):
        if "=" not in item:
            raise MiTasksError(f"model option {item!r} in {spec!r}: write key=value (e.g. gguf_file=model.gguf)")
        k, v = item.split("=", 1)
        args[k.strip()] = v.strip()
    if dtype and "dtype" not in args:
        args["dtype"] = dtype
    check_model_source(path, args.get("gguf_file"))
    label = display_name(path) or ""
    return ",".join(f"{k}={v}" for k, v in args.items()), path, label


def _run_logged(cmd: list[str], env: dict[str, str], log: Path, echo: bool) -> tuple[int, str]:
    """Run ``cmd`` with stdout and stderr into ``log`` (stderr also echoed live); return (exit code, last message line).

    The log then holds what went wrong, and the caller can name it in one line.
    """
    with open(log, "wb", buffering=0) as out:  # unbuffered: the child's stdout shares this file's offset
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        tail, text = b"", codecs.getincrementaldecoder("utf-8")("replace")
        while chunk := proc.stderr.read1(65536):
            out.write(chunk)
            tail = (tail + chunk)[-20000:]
            if echo:
                sys.stderr.write(text.decode(chunk))
                sys.stderr.flush()
        code = proc.wait()
    lines = [ln.strip() for ln in tail.decode("utf-8", "replace").replace("\r", "\n").splitlines() if ln.strip()]
    return code, (lines[-1] if lines else "")


def _only_task_folders(tasks: str, include_path: str | None) -> bool:
    """Whether every task or group named is defined in mi-tasks' task folder or ``include_path``."""
    import yaml

    names: set[str] = set()
    for folder in filter(None, (task_dir(), include_path)):
        for f in Path(folder).glob("*.yaml"):
            try:
                doc = yaml.safe_load(f.read_text(encoding="utf-8").replace("!function", ""))
            except (OSError, yaml.YAMLError):
                continue
            if isinstance(doc, dict):
                names.update(str(doc[k]) for k in ("task", "group") if isinstance(doc.get(k), str))
    return all(t.strip() in names for t in tasks.split(",") if t.strip())


def _is_local(path: str) -> bool:
    return Path(path).exists()


def run_suite(cfg: SuiteConfig) -> Report:
    """Run lm_eval once per model (streaming its progress), then write and return the report."""
    if not cfg.models:
        raise MiTasksError("no models given; pass --model (alias minilm/smollm2, or a model folder)")
    dtype = cfg.dtype if cfg.dtype != "auto" else str(resolve_dtype("auto", cfg.device)).removeprefix("torch.")
    prepared = [model_args_for(m, dtype, cfg.extra_model_args) for m in cfg.models]  # every model checked first
    out = Path(cfg.out_dir)
    raw_dir = out / "lm_eval"
    raw_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", **(cfg.env or {})}
    files: list[Path] = []
    labels: dict[str, str] = {}
    if cfg.labels is not None:
        if len(cfg.labels) != len(prepared):
            raise MiTasksError(f"{len(cfg.labels)} labels for {len(prepared)} models: give one label per model")
        prepared = [(a, p, lab) for (a, p, _), lab in zip(prepared, cfg.labels)]
    if _only_task_folders(cfg.tasks, cfg.include_path):  # lm-eval's own ~14,700 YAMLs need no indexing
        env.setdefault(ONLY_OURS_ENV, "1")
    if all(_is_local(path) for _, path, _ in prepared):  # nothing to fetch: never touch the network
        env.update({"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    for i, (model_args, path, label) in enumerate(prepared):
        if label:
            labels[path] = label
        target = raw_dir / f"{i}_{Path(path).name or 'model'}"
        cmd = lm_eval_command() + ["--model", MODEL_NAME, "--model_args", model_args, "--tasks", cfg.tasks,
                                   "--device", cfg.device, "--batch_size", str(cfg.batch_size),
                                   "--output_path", str(target)]
        # each family's suite settings unless metadata names them (word targets: models compare; docs/metrics.md)
        metadata = family_suite_settings() | cfg.metadata
        cmd += ["--metadata", json.dumps(metadata)]
        if cfg.include_path:
            cmd += ["--include_path", str(cfg.include_path)]
        if cfg.limit is not None:
            cmd += ["--limit", str(cfg.limit)]
        print(f"\n== [{i + 1}/{len(prepared)}] {label or path}\n$ {shlex.join(cmd)}", file=sys.stderr, flush=True)
        started = time.time()
        log = target.with_suffix(".log")
        code, last = _run_logged(cmd, env, log, echo=not cfg.quiet)
        if code != 0:
            raise MiTasksError(f"lm_eval failed for {label or path} (exit {code}): {last or 'no message'} "
                               f"(its full output: {log})")
        new = [p for p in target.rglob("results_*.json") if p.stat().st_mtime >= started - 1]
        if not new:
            raise MiTasksError(f"lm_eval wrote no results under {target}; its output is in {log}")
        files.append(max(new, key=lambda p: p.stat().st_mtime))
        print(f"== {label or path}: done in {time.time() - started:.0f} s -> {files[-1]}", file=sys.stderr, flush=True)
    return write_report(files, out, labels=labels)


def family_suite_settings() -> dict[str, Any]:
    """Every family's own ``suite_settings`` (word targets, so the report, cards and leaderboard rows compare models)."""
    return {k: v for fam in all_families() for k, v in fam.suite_settings.items()}


def suite_defaults() -> dict[str, Any]:
    """What the suite sets unlike the task YAMLs: BBC News (bundled), a sample that runs in minutes, then the
    families' suite settings."""
    return {"train_corpus": "bbcnews:train", "train_limit": 500, "eval_corpus": "bbcnews:test", "eval_limit": 200,
            **family_suite_settings()}


def add_subparser(sub: Any) -> None:
    s = sub.add_parser("suite", help="main job: run the MI suite through lm_eval on models, then write the report",
                       description="Runs `lm_eval --model hf-mi ... --tasks TASKS` once per model (progress streams), "
                                   "prints the headline table and writes figures, tables and leaderboard rows. Every "
                                   "task setting is an option; those given (and the suite's defaults) go to lm_eval "
                                   "as --metadata, the others keep the task YAML's values.")
    s.add_argument("--model", action="append", default=None,
                   help="alias (minilm, smollm2), model folder or hub id, optionally 'PATH,gguf_file=F,...'; "
                        "repeatable (default: minilm and smollm2)")
    s.add_argument("--tasks", default="mi_suite", help="lm-eval tasks or groups, comma-separated (default mi_suite)")
    s.add_argument("--include-path", default=None, help="a folder of your own task YAMLs (lm_eval --include_path)")
    s.add_argument("--metadata", default=None, help="more task settings as JSON, merged last (see task_configs/)")
    s.add_argument("--dtype", default="auto", help="model dtype passed in --model_args (default auto: bfloat16 where "
                   "the device computes it natively, a CUDA GPU or a CPU with AMX/AVX512-BF16, else float32)")
    s.add_argument("--device", default="cpu")
    s.add_argument("--batch-size", default="32")
    s.add_argument("--limit", type=int, default=None, help="lm_eval --limit (eval texts per task)")
    s.add_argument("--out", default="mi-report", help="report folder; lm-eval's JSONs go to OUT/lm_eval/")
    s.add_argument("--quiet", action="store_true", help="no progress output from lm_eval")
    add_settings(s, settings_groups(), defaults=suite_defaults())  # plugin families' settings too
    s.set_defaults(func=run)


def suite_metadata(args: argparse.Namespace) -> dict[str, Any]:
    """The settings sent as --metadata: the suite's defaults, the options given, then --metadata's JSON."""
    settings_from(args, "suite")  # every value checked here, before any model loads
    given = {k: v for k, v in vars(args).items() if v is not None and k in TaskSettings.known()}
    md: dict[str, Any] = {**suite_defaults(), **given}
    if args.metadata:
        try:
            extra = json.loads(args.metadata)
        except json.JSONDecodeError as e:
            raise MiTasksError(f"--metadata is not JSON ({e}); e.g. --metadata '{{\"max_text_length\": 64}}'") from None
        if not isinstance(extra, dict):
            raise MiTasksError("--metadata must be a JSON object")
        md.update(extra)
    return md


def run(args: argparse.Namespace) -> int:
    if args.include_path and not Path(args.include_path).is_dir():
        raise MiTasksError(f"--include-path {args.include_path!r} is not a folder; name the folder holding your task YAMLs")
    cfg = SuiteConfig(models=args.model or list(DEFAULT_MODELS), tasks=args.tasks, metadata=suite_metadata(args),
                      include_path=args.include_path,
                      out_dir=Path(args.out), device=args.device, dtype=args.dtype, batch_size=args.batch_size,
                      limit=args.limit, quiet=args.quiet)
    rep = run_suite(cfg)
    print(rep.headline)
    print(f"\nreport: {rep.markdown}\nfigure: {rep.figures.overview}")
    return 0
