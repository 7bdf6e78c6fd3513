"""The board as one static page: index.html, its script and style (shipped in this package), the data, downloads.

The page needs no network and no server: the board's table is a script file (``board-data.js``, JSON
assigned to ``window.MI_BOARD``), since a page opened from disk may not fetch files, and each model's
curves and provenance are one more small script (``models/<n>.js``) the page loads only when a reader
ticks that model or opens its details, so a board of 1,000 models stays a few megabytes. The HTML is
the same for every board; the page's script inserts every value as text.

What a column means (definition, unit, whether higher is better) comes from the metric family that
reports the metric (its ``units``, ``definitions`` and ``lower_is_better``), for standard lm-eval
scores from lm-eval's own ``higher_is_better``; nothing about a metric is spelled here.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ...metrics.registry import family_class, known_families
from .rows import headline_stderr
from .schema import corpus_keys, family_row_settings, kind_of, model_key
from .store import Board, claim_site_folder

ASSETS = ("leaderboard.js", "leaderboard.css")
# fields that are the row's number or its identity, not provenance
_NOT_PROVENANCE = {"value", "value_stderr", "curve", "metric", "vacuous", "model", "task", "higher_is_better"}
# a Hugging Face hub id (owner/name): a link to its page; anything else (a local path) is shown as text
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
# settings shown in a column's legend when its rows name them (equal across a task's rows: schema.settings_of):
# the families' row settings, then the corpora, the pass and a standard task's own
_LEGEND_SETTINGS = ("eval_corpus", "train_corpus", "pooling", "max_text_length", "layers", "num_fewshot", "limit")


def _flag(row: dict[str, Any]) -> str | None:
    if row.get("vacuous"):
        return "vacuous: Fano's bound is at most 0 at the headline layer (0 by the clamp, not measured)"
    if row.get("comparable_across_models") is False:
        return "not comparable across models: " + str(row.get("comparability_note") or "settings differ")
    return None


def metric_facts() -> dict[str, dict[str, Any]]:
    """Every known family's metrics: unit, definition, direction (lm-eval's ``higher_is_better``), family name."""
    out: dict[str, dict[str, Any]] = {}
    for name in known_families():
        fam = family_class(name)
        for m in fam.metrics():
            out.setdefault(m, {"unit": fam.units.get(m, ""), "definition": fam.definitions.get(m, ""),
                               "higher_is_better": fam.higher_is_better(m), "family": fam.name})
    return out


def _hub_id(path: str) -> bool:
    return bool(_HUB_ID.match(path)) and ".." not in path and not path.startswith(".")


def _scaled(values: list[Any], digits: int) -> dict[str, Any]:
    """A curve's values as integers at ``digits`` significant digits of its largest value: ``{"d": d, "i": [...]}``
    with value = i / 10**d (the chart's precision; the board folder's board.json keeps every digit)."""
    big = max((abs(v) for v in values if v is not None), default=0.0)
    d = digits - 1 - math.floor(math.log10(big)) if big > 0 else 0
    f = 10.0 ** d
    return {"d": d, "i": [None if v is None else round(v * f) for v in values]}


def _page_curve(curve: dict[str, list[Any]], headline: Any) -> dict[str, Any]:
    """A curve for the chart: values to 4 significant digits, errors to 2; layers 0..L at depth l/L as just L."""
    layer, depth = curve["layer"], curve["depth"]
    last = len(layer) - 1
    regular = last > 0 and layer == list(range(last + 1)) and all(
        d is not None and abs(d - lay / last) < 1e-9 for lay, d in zip(layer, depth))
    out: dict[str, Any] = {"n": last} if regular else {"layer": layer, "depth": depth}
    out.update(value=_scaled(curve["value"], 4), headline=headline)
    if "stderr" in curve:
        out["stderr"] = _scaled(curve["stderr"], 2)
    return out


def _provenance(per_task: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A model's provenance per task, what every task shares once (``common``), each task's own fields beside it."""
    parts = list(per_task.values())
    common = {k: v for k, v in parts[0].items() if all(k in p and p[k] == v for p in parts[1:])} if parts else {}
    return {"common": common, "tasks": [[t, {k: v for k, v in p.items() if k not in common}] for t, p in per_task.items()]}


def _same_values(a: dict[Any, float], b: dict[Any, float]) -> bool:
    common = set(a) & set(b)
    return bool(common) and all(math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-12) for k in common)


def _columns(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[tuple[str, str], int]]:
    """The board's columns, MI tasks first; a metric two tasks report with equal values is one column."""
    mi = [r for r in rows if kind_of(r) != "standard"]
    keys = list(dict.fromkeys((r["task"], r["metric"]) for r in mi))
    keys += list(dict.fromkeys((r["task"], r["metric"]) for r in rows if kind_of(r) == "standard"))
    values: dict[tuple[str, str], dict[Any, float]] = {k: {} for k in keys}
    first: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        values[(r["task"], r["metric"])][model_key(r)] = r["value"]
        first.setdefault((r["task"], r["metric"]), r)
    facts, cols, index = metric_facts(), [], {}
    for key in keys:
        task, metric = key
        twin = next((i for i, c in enumerate(cols) if c["metric"] == metric and not c["standard"]
                     and kind_of(first[key]) != "standard" and _same_values(values[c["key"]], values[key])), None)
        if twin is not None:
            cols[twin]["tasks"].append(task)
            index[key] = twin
            continue
        r, fact = first[key], facts.get(metric, {})
        hib = r.get("higher_is_better") if kind_of(r) == "standard" else fact.get("higher_is_better")
        legend = (*family_row_settings(), *_LEGEND_SETTINGS)
        settings = {k: r[k] for k in (*legend, *corpus_keys(r)) if r.get(k) not in (None, "")}
        index[key] = len(cols)
        cols.append({"key": key, "task": task, "metric": metric, "tasks": [task], "standard": kind_of(r) == "standard",
                     "unit": fact.get("unit", ""), "definition": fact.get("definition", ""),
                     "higher_is_better": hib, "family": fact.get("family", ""), "settings": settings})
    return cols, index


def _ranks(values: list[float | None], errors: list[float | None], ok: list[bool], higher: bool | None) -> list[int | None]:
    """Each model's rank: 1 + the models better by more than the standard error of the difference (ties otherwise).

    Only values that stand (not missing, vacuous or not comparable) are ranked; a direction nobody recorded ranks none.
    """
    if higher is None or not any(ok):
        return [None] * len(values)
    idx = [i for i, good in enumerate(ok) if good]
    v = np.array([values[i] for i in idx], dtype=float) * (1 if higher else -1)
    e = np.array([errors[i] or 0.0 for i in idx], dtype=float)
    margin = np.sqrt(e[:, None] ** 2 + e[None, :] ** 2)
    better = (v[None, :] - v[:, None]) > margin  # [i, j]: j beats i beyond the errors
    out: list[int | None] = [None] * len(values)
    for i, r in zip(idx, 1 + better.sum(axis=1)):
        out[i] = int(r)
    return out


def page_data(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The page's table (columns with their meaning, one model per model_args and revision) and each model's details.

    The details (curves, provenance) go into one script per model, loaded when the page needs them.
    """
    cols, index = _columns(rows)
    n = len(cols)
    models: dict[tuple[str, str], dict[str, Any]] = {}
    details: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        key = model_key(r)
        m = models.get(key)
        if m is None:
            m = models[key] = {"id": "@".join(key), "label": r["model"], "path": r["model_path"],
                               "revision": r["model_revision"], "dtype": r.get("model_dtype") or "",
                               "hub": _hub_id(r["model_path"]), "v": [None] * n, "e": [None] * n, "h": [None] * n, "f": {},
                               "c": [], "find": set()}
            details[key] = {"curves": {}, "provenance": {}}
        i = index[(r["task"], r["metric"])]
        if m["v"][i] is None:
            # rows added before value_stderr existed: their curve's error at the headline layer
            err = r["value_stderr"] if "value_stderr" in r else headline_stderr(r.get("curve"), r.get("headline_layer"))
            m["v"][i], m["e"][i] = r["value"], err
            if r.get("headline_layer") is not None:  # "layer 24 of 24" in the cell's tooltip
                m["h"][i] = f"{r['headline_layer']} of {r.get('num_layers', '?')}"
            flag = _flag(r)
            if flag:
                m["f"][i] = flag
        m["find"].update([r["task"], *(str(r[k]) for k in corpus_keys(r))])
        curve = r.get("curve")
        if curve and curve.get("depth") and i not in details[key]["curves"]:
            m["c"].append(i)
            details[key]["curves"][i] = _page_curve(curve, r.get("headline_layer"))
        details[key]["provenance"].setdefault(r["task"], {k: v for k, v in r.items() if k not in _NOT_PROVENANCE})
    out = list(models.values())
    for i, c in enumerate(cols):
        ok = [m["v"][i] is not None and i not in m["f"] for m in out]
        for m, rank in zip(out, _ranks([m["v"][i] for m in out], [m["e"][i] for m in out], ok, c["higher_is_better"])):
            m.setdefault("r", []).append(rank)
    for m in out:
        m["find"] = " ".join([m["label"], m["path"], m["revision"], m["dtype"], *sorted(m["find"])]).lower()
    for c in cols:
        del c["key"]
    data = {"columns": cols, "models": out, "built": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    return data, [{"curves": d["curves"], "provenance": _provenance(d["provenance"])} for d in details.values()]


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def build_site(board_dir: str | os.PathLike, out_dir: str | os.PathLike, force: bool = False) -> Path:
    """Write the page of the board in ``board_dir`` into ``out_dir``; returns its index.html.

    ``out_dir`` is checked first (:func:`claim_site_folder`: not the board's folder, nobody else's files).
    The page makes its downloads (the view, or the whole table: values, errors, ranks, flags) itself; every
    row with its provenance and full-precision curve is the board folder's board.json, published beside the
    site where wanted. A 1,000-model board of 21 columns is a site of a few megabytes.
    """
    board = Board.open(board_dir)
    out = claim_site_folder(board_dir, out_dir, force)
    (out / "assets").mkdir(parents=True, exist_ok=True)
    (out / "models").mkdir(exist_ok=True)
    files = resources.files(__package__) / "assets"
    for name in ASSETS:
        with resources.as_file(files / name) as src:
            shutil.copyfile(src, out / "assets" / name)
    data, details = page_data(board.rows)
    (out / "board-data.js").write_text(f"window.MI_BOARD = {_json(data)};\n", encoding="utf-8")
    for i, d in enumerate(details):
        (out / "models" / f"{i}.js").write_text(f"window.MI_BOARD_MODEL({i}, {_json(d)});\n", encoding="utf-8")
    for old in (out / "models").glob("*.js"):  # a previous build's models beyond this board's
        if old.stem.isdigit() and int(old.stem) >= len(details):
            old.unlink()
    index = out / "index.html"
    index.write_text((files / "index.html").read_text(encoding="utf-8"), encoding="utf-8")
    return index
