"""The board on disk: one ``board.json`` of checked rows, merged one submission at a time, written atomically.

A submission (the rows of one file) is taken whole or refused whole. It replaces the board's rows of
the same model (model_args and revision) and task, and only those; every other row stays.

The board is a small database shared by everyone who submits to it:

- read-merge-write runs under an exclusive lock (:func:`locked`, the ``filelock`` package: a kernel
  lock (``flock``/``LockFileEx``) that the system releases when its process dies, so an interrupted
  ``add`` never leaves the board locked, and concurrent adds from any number of processes each
  see the board the one before them wrote);
- writes go to a temporary file beside the board's real file (a ``board.json`` that is a symbolic
  link is written through, at its target), flushed to disk, given the old file's mode, then renamed
  over it: a write interrupted at any point leaves the board as it was;
- temporary files of interrupted writes are removed by the next writer (under the lock no other
  write can be in flight);
- ``build`` writes its page only into a folder it wrote before (a marker file says so) or an empty
  one, never into the board's own folder (:func:`claim_site_folder`).
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ...errors import MiTasksError
from ...saving import file_lock, real_path, replace_file
from .schema import SCHEMA_VERSION, check_row, comparability_problem, model_key

BOARD_FILE = "board.json"
SITE_MARKER = ".mi-tasks-board-site"  # written by ``build`` into its --out folder
LOCK_WAIT_S = 600.0  # how long an ``add`` waits for another one to finish


def board_file(folder: str | os.PathLike) -> Path:
    """The file that holds the board's rows: ``folder/board.json``, or the file it links to."""
    return real_path(Path(folder) / BOARD_FILE)


@contextmanager
def locked(folder: str | os.PathLike, wait_s: float | None = None) -> Iterator[None]:
    """Hold the board's exclusive lock (beside its real file, so boards linking to one file share it).

    The lock file is ``.board.json.lock`` beside the board (``filelock`` may leave it between writes).
    """
    with file_lock(board_file(folder), LOCK_WAIT_S if wait_s is None else wait_s,
                   "`mi-tasks leaderboard add`", "submit again"):
        yield


@dataclass
class Outcome:
    """What one submission did to the board: rows added, rows it replaced (and whose), or why it was refused."""

    source: str
    added: int = 0
    replaced: int = 0
    replaced_models: list[str] = field(default_factory=list)
    refused: str | None = None

    def line(self) -> str:
        if self.refused:
            return f"refused {self.source}: {self.refused}"
        what = f"added {self.source}: {self.added} rows"
        if self.replaced:
            what += f", replacing {self.replaced} rows of the same model and settings ({', '.join(self.replaced_models)})"
        return what


def _describe(row: Any, i: int) -> str:
    if isinstance(row, dict):
        return f"row {i + 1} ({row.get('model', '?')}, {row.get('task', '?')}, {row.get('metric', '?')})"
    return f"row {i + 1}"


class Board:
    """The rows of a board folder, checked when read and when added."""

    def __init__(self, folder: str | os.PathLike, rows: list[dict[str, Any]]):
        self.folder = Path(folder)
        # rows grouped by (model, task), the unit a submission replaces; a replaced group keeps its place
        self._groups: dict[tuple[tuple[str, str], str], list[dict[str, Any]]] = {}
        self._tasks: dict[str, list[tuple[tuple[str, str], str]]] = {}  # task -> its groups' keys, in order
        for r in rows:
            self._group(r).append(r)

    def _group(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        key = (model_key(row), row["task"])
        if key not in self._groups:
            self._groups[key] = []
            self._tasks.setdefault(row["task"], []).append(key)
        return self._groups[key]

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [r for group in self._groups.values() for r in group]

    def _reference(self, task: str, mine: set[tuple[tuple[str, str], str]]) -> dict[str, Any] | None:
        """The first board row of ``task`` from a model the submission does not replace."""
        for key in self._tasks.get(task, []):
            if key not in mine and self._groups[key]:
                return self._groups[key][0]
        return None

    @property
    def path(self) -> Path:
        return self.folder / BOARD_FILE

    @classmethod
    def open(cls, folder: str | os.PathLike, create: bool = False) -> "Board":
        """The board in ``folder`` (an empty one where ``create`` and there is none yet)."""
        path = Path(folder) / BOARD_FILE
        if not path.is_file():
            if create:
                return cls(folder, [])
            raise MiTasksError(f"no board at {path}; add results first with `mi-tasks leaderboard add FILES --board {folder}`")
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise MiTasksError(f"{path} does not read as a board ({e}); restore it from its last good copy") from None
        if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION or not isinstance(data.get("rows"), list):
            raise MiTasksError(f"{path} is not a version {SCHEMA_VERSION} board (schema_version and rows)")
        for i, row in enumerate(data["rows"]):
            problem = check_row(row)
            if problem:
                raise MiTasksError(f"{path}: {_describe(row, i)}: {problem}")
        return cls(folder, data["rows"])

    def add(self, rows: list[Any], source: str) -> Outcome:
        """Merge one submission's rows (all or none); the outcome says what happened, the board is not yet saved."""
        out = Outcome(source=source)
        if not rows:
            out.refused = "no rows in it (no mi-tasks task results): run lm_eval with --tasks mi_suite"
            return out
        for i, row in enumerate(rows):
            problem = check_row(row)
            if problem:
                out.refused = f"{_describe(row, i)}: {problem}"
                return out
        seen: set[tuple[Any, ...]] = set()
        for row in rows:
            k = (*model_key(row), row["task"], row["metric"])
            if k in seen:
                out.refused = f"two rows for {row['model']}, {row['task']}, {row['metric']}: submit one run per file"
                return out
            seen.add(k)
        mine = {(model_key(r), r["task"]) for r in rows}
        refs = [self._reference(task, mine) for task in dict.fromkeys(r["task"] for r in rows)]
        problem = comparability_problem(rows, [r for r in refs if r is not None])
        if problem:
            out.refused = problem
            return out
        gone = [r for key in mine for r in self._groups.get(key, [])]
        out.added, out.replaced = len(rows), len(gone)
        out.replaced_models = list(dict.fromkeys(f"{r['model']} from {r['source']}" for r in gone))
        for key in mine:
            if key in self._groups:
                self._groups[key] = []
        for r in rows:
            self._group(r).append(r)
        return out

    def save(self) -> Path:
        """Write the board atomically (temporary file, fsync, rename) at its real file; call it under :func:`locked`.

        The new file gets the old one's permission bits (a group-writable board stays group-writable;
        a new board gets the umask's default).
        """
        # one row a line, each by json's C encoder (an indented dump runs its pure-Python one: 5x slower)
        lines = ",\n".join(json.dumps(r, allow_nan=False) for r in self.rows)
        replace_file(board_file(self.folder), f'{{"schema_version": {SCHEMA_VERSION}, "rows": [\n{lines}\n]}}\n')
        return self.path


def claim_site_folder(board_dir: str | os.PathLike, out_dir: str | os.PathLike, force: bool = False) -> Path:
    """The page's folder, once it is safe to write: never the board's folder; a non-empty folder only if
    ``build`` wrote it before (its marker file) or ``force``. Marks the folder as the page's."""
    out, board = Path(out_dir), Path(board_dir)
    if out.resolve() == board.resolve() or out.resolve() == board_file(board).parent:
        raise MiTasksError(f"--out {out} is the board's own folder: the page would overwrite board.json; "
                           "give the page a folder of its own (e.g. --out site)")
    if out.exists() and not out.is_dir():
        raise MiTasksError(f"--out {out} is a file; give a folder for the page")
    if out.is_dir() and any(out.iterdir()) and not (out / SITE_MARKER).is_file() and not force:
        raise MiTasksError(f"--out {out} holds files `leaderboard build` did not write (it would overwrite "
                           "index.html, board.json, board.csv, assets/); give an empty or new folder, "
                           "or add --force to write there anyway")
    out.mkdir(parents=True, exist_ok=True)
    (out / SITE_MARKER).write_text("written by `mi-tasks leaderboard build`; its files are replaced on the next build\n",
                                   encoding="utf-8")
    return out
