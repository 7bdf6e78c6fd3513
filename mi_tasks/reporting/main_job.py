"""The main job: run the MI suite through the ``lm_eval`` command on several models, then report.

Each model gets one ``lm_eval --model hf-mi ... --tasks mi_suite`` subprocess, the command a user
would type (printed before it runs); its progress bars stream to the terminal. Afterwards the
report (headline table, per-layer figures, tables, leaderboard rows) is built from the results
JSONs of this run only.
"""
from __future__ import annotations

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
from ..harness.lm_eval_compat import MODEL_NAME
from ..states.modeling import check_model_source
from .report import Report, write_report


@dataclass
class SuiteConfig:
    """What to run: models, lm-eval tasks and the task settings sent through ``--metadata``."""

    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    labels: list[str] | None = None        # display names, one per model (default: alias name or folder)
    tasks: str = "mi_suite"
    metadata: dict[str, Any] = field(default_factory=dict)
    # recoverability targets unless metadata names them: words, so the report, cards and leaderboard rows
    # compare models (token targets of different tokenizers do not; docs/metrics.md measures why)
    targets: str = "words"
    out_dir: Path = Path("mi-report")
    device: str = "cpu"
    dtype: str = "bfloat16"
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


def _is_local(path: str) -> bool:
    return Path(path).exists()


def run_suite(cfg: SuiteConfig) -> Report:
    """Run lm_eval once per model (streaming its progress), then write and return the report."""
    if not cfg.models:
        raise MiTasksError("no models given; pass --model (alias minilm/smollm2, or a model folder)")
    prepared = [model_args_for(m, cfg.dtype, cfg.extra_model_args) for m in cfg.models]  # every model checked first
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
    if all(_is_local(path) for _, path, _ in prepared):  # nothing to fetch: never touch the network
        env.update({"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    for i, (model_args, path, label) in enumerate(prepared):
        if label:
            labels[path] = label
        target = raw_dir / f"{i}_{Path(path).name or 'model'}"
        cmd = lm_eval_command() + ["--model", MODEL_NAME, "--model_args", model_args, "--tasks", cfg.tasks,
                                   "--device", cfg.device, "--batch_size", str(cfg.batch_size),
                                   "--output_path", str(target)]
        metadata = {"targets": cfg.targets, **cfg.metadata}
        cmd += ["--metadata", json.dumps(metadata)]
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
