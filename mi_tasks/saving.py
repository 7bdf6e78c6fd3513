"""Files mi-tasks writes for a user are replaced whole, and read-modify-writes take a lock.

A results file, a layer sweep, leaderboard rows, a model card or a board is written to a temporary
file beside its real file (a path that is a symbolic link is written through, at its target),
flushed to disk, given the old file's mode, then renamed over it: a write interrupted at any point
leaves the file as it was, and a failed write removes its temporary file. A read-modify-write (a
board's merge, a card's model-index) holds :func:`file_lock`, a kernel lock (``filelock``) the
system releases when its process dies, so concurrent writers each see what the one before wrote;
under it, temporary files an interrupted writer left are removed.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from .errors import MiTasksError

def real_path(path: str | os.PathLike) -> Path:
    """Where ``path``'s bytes live: the file a symbolic link names (so the link stays a link)."""
    return Path(os.path.realpath(path))


def default_mode() -> int:
    """The mode a new file gets (0o666 less the umask), which ``mkstemp``'s private 0o600 would not give."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _tmp_parts(target: Path) -> tuple[str, str]:
    """(prefix, suffix) of ``target``'s temporary files: ``.board-<random>.json.tmp`` beside ``board.json``."""
    return f".{target.stem}-", f"{target.suffix}.tmp"


def replace_file(path: str | os.PathLike, content: str | bytes, encoding: str = "utf-8") -> Path:
    """Write ``content`` as ``path``'s whole new content atomically (see the module docstring); returns ``path``."""
    target = real_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o7777 if target.exists() else default_mode()
    data = content.encode(encoding) if isinstance(content, str) else content
    prefix, suffix = _tmp_parts(target)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(path)


@contextmanager
def file_lock(path: str | os.PathLike, wait_s: float, holder: str, retry: str = "try again",
              beside: bool = True) -> Iterator[Path]:
    """Hold the exclusive lock of ``path``'s real file; yields the real file. ``holder`` names who else may hold
    it and ``retry`` what to do then, for the one-line timeout.

    The lock file is ``.<name>.lock`` beside the file (``filelock`` may leave it between writes), so every
    machine writing a shared folder sees it; with ``beside=False`` it is kept in the system's temporary folder
    instead (for a file in a folder people publish, a model card's repository, where it would be litter).
    """
    target = real_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # the file's own mode, so whoever may write the file may take its lock
    mode = target.stat().st_mode & 0o666 if target.exists() else default_mode()
    if beside:
        lock_path = target.parent / f".{target.name}.lock"
    else:
        lock_path = Path(tempfile.gettempdir()) / "mi-tasks-locks" / f"{hashlib.sha256(str(target).encode()).hexdigest()[:24]}.lock"
        lock_path.parent.mkdir(exist_ok=True)
    lock = FileLock(str(lock_path), timeout=wait_s, mode=mode)
    try:
        lock.acquire()
    except Timeout:
        raise MiTasksError(f"{target} stayed locked by another {holder} for {wait_s:.0f} s; wait for it to finish "
                           f"and {retry}") from None
    try:
        prefix, suffix = _tmp_parts(target)
        for stale in target.parent.glob(f"{prefix}*{suffix}"):  # no write is in flight but ours
            stale.unlink(missing_ok=True)
        yield target
    finally:
        lock.release()
