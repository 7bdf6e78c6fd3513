"""Where the local data folder is: one rule for every reader (corpora, MTEB tasks, examples)."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import MiTasksError

ENV = "MI_TASKS_DATA_DIR"


def find_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The data folder, or None: ``data_dir``, then ``$MI_TASKS_DATA_DIR``, then ``../shared/data`` beside the checkout.

    An explicit ``data_dir`` or environment value is returned even when it does not exist, so that
    :func:`require_data_dir` can name it; the fallback is returned only when it is a folder.
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    near = (Path(__file__).resolve().parents[2] / "shared" / "data", Path.cwd().resolve().parent / "shared" / "data")
    return next((p for p in near if p.is_dir()), None)


def require_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data folder, for readers that have no hub copy (STS-B pairs); a clear error when there is none."""
    p = find_data_dir(data_dir)
    if p is None or not p.is_dir():
        where = f"data folder {p} not found" if p is not None else "no data folder found"
        raise MiTasksError(f"{where}: pass data_dir= or set {ENV} to a folder laid out like shared/data "
                           "(stsb/sts-dev.csv, sst2/dev.tsv, agnews/dev.tsv)")
    return p
