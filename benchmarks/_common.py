"""Shared set-up for benchmarks: real models and corpora, timers."""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

from mi_tasks import load_corpus, load_model
from mi_tasks.states.bundled import resolve_model

DATA = Path(os.environ.get("MI_TASKS_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def need_data() -> Path:
    if not DATA.is_dir():
        raise SystemExit(f"benchmarks need the real corpora at {DATA} (set MI_TASKS_SHARED_DATA)")
    return DATA


def model(alias: str, dtype: str = "auto"):
    path, kw = resolve_model(alias)
    return load_model(path, dtype=dtype, **kw)


def dbpedia(n: int, seed: int = 0):
    return load_corpus(need_data() / "dbpedia/dbpedia14_sample.tsv", fields=["title", "content"], limit=n, seed=seed)


def agnews(n: int, seed: int = 0):
    return load_corpus(need_data() / "agnews/dev.tsv", header=False, columns=["text", "label"], limit=n, seed=seed)


def imdb(n: int, seed: int = 0):
    return load_corpus(need_data() / "imdb/val.tsv", limit=n, seed=seed)


@contextmanager
def timer(store: dict, key: str):
    t = time.perf_counter()
    yield
    store[key] = time.perf_counter() - t
