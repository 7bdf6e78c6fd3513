"""MI metrics on Hugging Face model cards (``model-index``) and comparable leaderboard rows.

The ``model-index`` entries are built with huggingface_hub's ``EvalResult`` and read back with its
``ModelCard`` parser, so the Hub understands them. Each metric entry is the value at the task's
headline layer; its ``args`` say which layer, pooling and seed, and the dataset entry is the eval
corpus with its sha256 as revision. ``update_card`` rewrites only the ``model-index`` key of a
card's YAML header: the other keys and the body stay byte for byte. Recoverability entries name
their targets (the model's own ``tokens``, with the tokenizer, or shared ``words``), and a Fano
bound that is vacuous at the headline layer says so in its name and args.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import EvalResult, ModelCard
from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results

from ..data.specs import hub_id
from ..errors import MiTasksError
from ..saving import file_lock, replace_file
from ..states.bundled import display_name
from ..metrics.recoverability.coverage import FLAGS_KEY
from .comparability import find_clashes, comparability_columns, comparable, vacuous_at
from .leaderboard.schema import SCHEMA_VERSION
from .results import Results, Run, TaskCurves, default_label, revision_of
from .tables import why_not_measured

log = logging.getLogger("mi_tasks")

TOOL = "mi-tasks"
CARD_LOCK_WAIT_S = 60.0  # how long a card update waits for another one
_HEADER = re.compile(r"\A---[ \t]*\r?\n(.*?)(^---[ \t]*(?:\r?\n|\Z))", re.S | re.M)
_TOP_KEY = re.compile(r"^[^\s#\-][^:]*:")


def _corpus(meta: dict[str, Any], role: str) -> dict[str, Any]:
    c = meta.get(f"{role}_corpus")
    return c if isinstance(c, dict) else {}


def _round(v: float) -> float:
    return float(f"{v:.6g}")


def pick_run(results: Results, model: str | None = None) -> Run:
    """The run a card is about: the only one, or the one whose label or model path is ``model``."""
    runs = results.runs
    if model is not None:
        wanted = display_name(model) or model  # an alias (smollm2) means its display name
        hits = [r for r in runs if wanted in (r.label, r.model, Path(r.model).name, *default_label(r))]
        if not hits:
            raise MiTasksError(f"no results for model {model!r}; found: {', '.join(r.label for r in runs)}")
        runs = hits
    if len(runs) > 1:
        raise MiTasksError("results hold several model runs (" + ", ".join(r.label for r in runs) +
                           "); choose one with --model LABEL")
    return runs[0]


def eval_results(tasks: list[TaskCurves]) -> list[EvalResult]:
    """One EvalResult per (task, headline metric) of one run.

    A model-index holds numbers only, so a metric the run did not measure is left out of the card, and
    said so in one line naming the task, the metric and the reason (never dropped without a word)."""
    out = []
    for t in tasks:
        ev = _corpus(t.meta, "eval")
        name = str(ev.get("name") or t.settings.get("eval_corpus") or t.task.removeprefix("mteb:"))
        base, _, split = name.partition(":")
        n = t.meta.get("num_layers")
        layer = t.headline_layer
        depth = row.depth if (row := t.row_at(layer)) is not None else None
        args: dict[str, Any] = {"tool": TOOL, "layer": layer, "num_layers": n,
                                "depth": _round(depth) if depth is not None else None,
                                "pooling": t.meta.get("pooling") or t.settings.get("pooling"),
                                "seed": t.settings.get("seed", t.meta.get("seed")),
                                "mi_tasks_version": t.run.versions.get("mi_tasks")}
        tr = _corpus(t.meta, "train")
        if tr:
            args.update({"train_corpus": tr.get("name"), "train_corpus_sha256": tr.get("sha256")})
        args.update(comparability_columns(t))
        if t.meta.get(FLAGS_KEY):  # a recorded caveat travels with every number of the task
            args["caveats"] = list(t.meta[FLAGS_KEY])
        args = {k: v for k, v in args.items() if v is not None}
        for metric, value in t.headline.items():
            if not math.isfinite(value):
                log.warning("%s %s is not on the card: not measured at layer %s (%s)", t.task, metric, layer,
                            why_not_measured(t, metric))
                continue
            vacuous = vacuous_at(t, metric, layer)
            dataset_type = ev.get("hub_id") or hub_id(base) or base or name  # model-index wants the hub id
            out.append(EvalResult(task_type=t.task, task_name=f"{t.task} ({TOOL})", dataset_type=dataset_type,
                                  dataset_name=name, dataset_split=split or None,
                                  dataset_revision=ev.get("sha256"),
                                  dataset_args={"rows": ev.get("scored_rows", ev.get("rows"))} if ev else None,
                                  metric_type=metric, metric_value=_round(value),
                                  metric_name=f"{metric} @ layer {layer}" + (f"/{n}" if n else "") +
                                  (" (vacuous: Fano's bound is at most 0 here)" if vacuous else ""),
                                  metric_args={**args, "vacuous": True} if vacuous else args))
    return out


def model_index_yaml(results: Results, model: str | None = None, name: str | None = None) -> str:
    """A card header (``---`` ... ``---``) holding the chosen run's ``model-index``."""
    run = pick_run(results, model)
    evals = eval_results(results.for_run(run))
    block = yaml.safe_dump({"model-index": eval_results_to_model_index(name or run.label, evals)},
                           sort_keys=False, allow_unicode=True)
    return f"---\n{block}---\n"


def _ours(e: EvalResult) -> bool:
    return isinstance(e.metric_args, dict) and e.metric_args.get("tool") == TOOL


def update_card(card_path: str | Path, results: Results, model: str | None = None, name: str | None = None) -> str:
    """Replace (or add) the mi-tasks entries of ``model-index`` in a card's header; the rest is untouched.

    Entries from other tools in an existing ``model-index`` are kept. Returns the new text. The card is read
    and rewritten under its lock and replaced whole (:mod:`mi_tasks.saving`), so two updates at once both land.
    """
    path = Path(card_path)
    if not path.is_file():
        raise MiTasksError(f"model card {path} does not exist; run without --update to print a header to start one")
    with file_lock(path, CARD_LOCK_WAIT_S, "`mi-tasks card --update`", beside=False):
        return _update_card(path, results, model, name)


def _update_card(path: Path, results: Results, model: str | None, name: str | None) -> str:
    raw = path.read_bytes().decode("utf-8")
    bom = "\ufeff" if raw.startswith("\ufeff") else ""  # an editor's byte-order mark: read past it, keep it
    raw = raw[len(bom):]
    run = pick_run(results, model)
    ours = eval_results(results.for_run(run))
    m = _HEADER.match(raw)
    header = m.group(1) if m else ""
    try:
        meta = yaml.safe_load(header) if header.strip() else {}
    except yaml.YAMLError as e:
        raise MiTasksError(f"{path}: its YAML header does not parse ({e}); fix it first") from None
    if meta is not None and not isinstance(meta, dict):
        raise MiTasksError(f"{path}: its YAML header is not a mapping")
    meta = meta or {}
    model_name = name or run.label
    kept: list[EvalResult] = []
    if meta.get("model-index"):
        try:
            old_name, old = model_index_to_eval_results(meta["model-index"])
        except (KeyError, TypeError, ValueError) as e:
            raise MiTasksError(f"{path}: its model-index does not parse ({e})") from None
        model_name = name or old_name or model_name
        kept = [e for e in old if not _ours(e)]
    newline = "\r\n" if "\r\n" in raw[:200] else "\n"
    block = yaml.safe_dump({"model-index": eval_results_to_model_index(model_name, kept + ours)},
                           sort_keys=False, allow_unicode=True).replace("\n", newline)
    if m is None:
        new = f"---{newline}{block}---{newline}" + raw
    else:
        lines = header.splitlines(keepends=True)
        start = next((i for i, ln in enumerate(lines) if ln.startswith("model-index:")), None)
        if start is None:
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += newline
            lines.append(block)
        else:
            end = next((j for j in range(start + 1, len(lines)) if _TOP_KEY.match(lines[j])), len(lines))
            lines[start:end] = [block]
        new = raw[:m.start(1)] + "".join(lines) + raw[m.start(2):]
    parsed = ModelCard(new).data.eval_results or []
    if [e for e in parsed if _ours(e)] != ours:
        raise MiTasksError(f"{path}: the updated model-index does not read back as written; card left unchanged")
    replace_file(path, bom + new)
    return new


def leaderboard_rows(results: Results) -> list[dict[str, Any]]:
    """One row per (model run, task, headline metric) with the settings that make rows comparable.

    The rows follow the board's schema (``leaderboard/schema.py``), so ``mi-tasks leaderboard add`` takes them.
    """
    rows = []
    clashes = find_clashes(results)
    for t in results.tasks:
        s, meta, run = t.settings, t.meta, t.run
        common: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION, "model": run.label, "model_path": run.model, "model_args": run.key,
            "model_revision": revision_of(run), "run_date": run.date, "task": t.task}
        settings: dict[str, Any] = {
            "headline_layer": t.headline_layer, "num_layers": meta.get("num_layers"),
            "layers": s.get("layers"), "pooling": meta.get("pooling") or s.get("pooling"),
            "max_text_length": s.get("max_text_length"),
            **{k: s.get(k) or meta.get(k) for fam in t.families() for k in fam.row_settings},
            "seed": s.get("seed", meta.get("seed")), "model_dtype": meta.get("model_dtype"),
            # which tokens pooling and entropy spectra cover (BOS/CLS/SEP kept or not): Diff-eRank differs by it
            "include_special": s.get("include_special", meta.get("include_special"))}
        same = comparable(results, t, clashes)
        if same is not None:  # what else its numbers depend on (token targets' tokenizer), and whether runs compare
            settings.update(comparability_columns(t))
            settings["comparable_across_models"] = same
            if not same:
                settings["comparability_note"] = next(c.message for c in clashes if c.task == t.task)
        for role in ("train", "eval"):
            c = _corpus(meta, role)
            settings.update({f"{role}_corpus": c.get("name"), f"{role}_corpus_rows": c.get("scored_rows", c.get("rows")),
                             f"{role}_corpus_sha256": c.get("sha256")})
        for k, v in meta.items():  # other corpora a task may name (e.g. entropy, emergence)
            if k.endswith("_corpus") and isinstance(v, dict) and k not in ("train_corpus", "eval_corpus"):
                settings.update({k: v.get("name"), f"{k}_rows": v.get("rows"), f"{k}_sha256": v.get("sha256")})
        settings.update({f"{k}_version": v for k, v in sorted(run.versions.items())})
        if meta.get(FLAGS_KEY):
            settings["caveats"] = "; ".join(meta[FLAGS_KEY])
        for metric, value in t.headline.items():
            flag = {"vacuous": True} if vacuous_at(t, metric, t.headline_layer) else {}
            rows.append({**common, "metric": metric, "value": value, **flag, **settings, "source": run.source})
    return rows


def write_leaderboard(rows: list[dict[str, Any]], out_dir: str | Path) -> tuple[Path, Path]:
    """leaderboard.json (list of rows) and leaderboard.csv (same rows; columns = union of keys)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cols = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    replace_file(out / "leaderboard.csv", buf.getvalue())
    replace_file(out / "leaderboard.json", json.dumps(rows, indent=1))
    return out / "leaderboard.json", out / "leaderboard.csv"
