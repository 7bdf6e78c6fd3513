"""Rows of one split of a registered corpus from the dataset hub, through ``datasets.load_dataset``.

Streaming reads only the requested split's files (a plain ``load_dataset(split=...)`` prepares every
split first: DBpedia's 560k train rows to score its test split). The revision is the pinned one.
"""
from __future__ import annotations

from typing import Any

from .specs import CorpusSpec
from ..errors import MiTasksError

_NETWORK_WORDS = ("connection", "offline", "timeout", "timed out", "unreachable", "network", "resolve host")


def _is_network(e: BaseException) -> bool:
    text = f"{type(e).__name__} {e}".lower()
    return isinstance(e, (ConnectionError, TimeoutError)) or any(w in text for w in _NETWORK_WORDS)


def hub_rows(spec: CorpusSpec, name: str, split: str, local_hint: str) -> list[dict[str, Any]]:
    """All rows of ``split``, as dicts with the hub's field names; a hub failure is reported as what it is."""
    revision = spec.pinned_revision(name)
    where = spec.hub_path + (f" ({spec.hub_name})" if spec.hub_name else "") + f", split {split!r}"
    try:
        import datasets

        ds = datasets.load_dataset(spec.hub_path, spec.hub_name, split=split, revision=revision, streaming=True)
        return [dict(r) for r in ds]
    except Exception as e:
        msg = f"{type(e).__name__}: {str(e)[:200]}"
        if _is_network(e):
            raise MiTasksError(f"cannot reach the dataset hub for corpus {name!r} ({where}): {msg}. Offline, "
                               f"set MI_TASKS_DATA_DIR to a folder with {local_hint}, or pass a local file path instead") from e
        raise MiTasksError(f"the hub refused corpus {name!r} ({where}, revision {revision or 'main'}): {msg}. "
                           f"Check the split (this corpus has {', '.join(spec.splits)}) and the revision") from e
