"""Spilled states of a killed run do not pile up in TMPDIR."""
from __future__ import annotations

import os


def test_a_killed_runs_state_folder_is_removed_by_the_next_run(tmp_path):
    """An lm_eval run killed mid-way leaves its spilled states (GiBs at 70B); the next store on the host removes them."""
    import subprocess
    import sys

    from mi_tasks.states import state_store

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"{state_store._PREFIX}{state_store._HOST}_{int(dead.stdout)}_abc"
    stale.mkdir()
    (stale / "states.npy").write_bytes(b"\0" * 1024)
    live = tmp_path / f"{state_store._PREFIX}{state_store._HOST}_{os.getppid()}_def"  # a process that runs
    live.mkdir()
    other_host = tmp_path / f"{state_store._PREFIX}elsewhere_{int(dead.stdout)}_ghi"
    other_host.mkdir()
    store = state_store.StateStore([0, 1], 3, 4, directory=tmp_path)
    try:
        assert not stale.exists() and live.exists() and other_host.exists()
    finally:
        store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other_host.name])
