"""The board as one static page: index.html, its script and style (shipped in this package), the data, downloads.

The page needs no network and no server: the board's data is a script file (``board-data.js``, JSON
assigned to ``window.MI_BOARD``), since a page opened from disk may not fetch files. The HTML is the
same for every board; only the data changes, and the page's script inserts every value as text.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from .schema import kind_of, model_key
from .store import Board, claim_site_folder

ASSETS = ("leaderboard.js", "leaderboard.css")
# fields that are the row's number or its identity, not provenance
_NOT_PROVENANCE = {"value", "value_stderr", "curve", "metric", "vacuous", "model", "task"}


def _flag(row: dict[str, Any]) -> str | None:
    if row.get("vacuous"):
        return "vacuous: Fano's bound is at most 0 at the headline layer (0 by the clamp, not measured)"
    if row.get("comparable_across_models") is False:
        return "not comparable across models: " + str(row.get("comparability_note") or "settings differ")
    return None


def page_data(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows pivoted for the page: columns (task, metric), one model per (model_args, revision) with its values."""
    mi = [r for r in rows if kind_of(r) != "standard"]
    columns = list(dict.fromkeys((r["task"], r["metric"]) for r in mi))
    columns += list(dict.fromkeys((r["task"], r["metric"]) for r in rows if kind_of(r) == "standard"))
    index = {c: i for i, c in enumerate(columns)}
    models: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        key = model_key(r)
        m = models.get(key)
        if m is None:
            m = models[key] = {"label": r["model"], "path": r["model_path"], "revision": r["model_revision"],
                               "dtype": r.get("model_dtype") or "", "values": [None] * len(columns), "flags": {},
                               "curves": {}, "provenance": {}}
        i = index[(r["task"], r["metric"])]
        m["values"][i] = r["value"]
        flag = _flag(r)
        if flag:
            m["flags"][i] = flag
        curve = r.get("curve")
        if curve and curve.get("depth"):
            m["curves"][i] = {k: curve[k] for k in ("depth", "value", "stderr") if k in curve}
        m["provenance"].setdefault(r["task"], {k: v for k, v in r.items() if k not in _NOT_PROVENANCE})
    out = []
    for m in models.values():
        m["provenance"] = list(m["provenance"].items())
        out.append(m)
    standard = {r["task"] for r in rows if kind_of(r) == "standard"}
    return {"columns": [{"task": t, "metric": k, "standard": t in standard} for t, k in columns],
            "models": out, "built": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def board_csv(rows: list[dict[str, Any]]) -> str:
    """The board's rows as CSV (columns: the union of the rows' keys; a curve as JSON text)."""
    cols = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in r.items()})
    return buf.getvalue()


def build_site(board_dir: str | os.PathLike, out_dir: str | os.PathLike, force: bool = False) -> Path:
    """Write the page of the board in ``board_dir`` into ``out_dir``; returns its index.html.

    ``out_dir`` is checked first (:func:`claim_site_folder`: not the board's folder, nobody else's files)."""
    board = Board.open(board_dir)
    out = claim_site_folder(board_dir, out_dir, force)
    (out / "assets").mkdir(parents=True, exist_ok=True)
    files = resources.files(__package__) / "assets"
    for name in ASSETS:
        with resources.as_file(files / name) as src:
            shutil.copyfile(src, out / "assets" / name)
    data = json.dumps(page_data(board.rows), ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    (out / "board-data.js").write_text(f"window.MI_BOARD = {data};\n", encoding="utf-8")
    (out / "board.json").write_text(json.dumps(board.rows, indent=1, allow_nan=False), encoding="utf-8")
    (out / "board.csv").write_text(board_csv(board.rows), encoding="utf-8")
    index = out / "index.html"
    index.write_text((files / "index.html").read_text(encoding="utf-8"), encoding="utf-8")
    return index
