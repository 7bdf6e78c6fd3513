"""What mi-tasks saves for a user is replaced whole: mode and links kept, no temporary file left, a killed
writer leaves the old file, and concurrent card updates each land whole with other tools' entries kept."""
from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest
from huggingface_hub import ModelCard

from mi_tasks import saving
from mi_tasks.reporting import load_results, update_card

from .leaderboard_results import results_json, write_results
from .reporting.test_card import BODY, HEADER


def _temps(folder) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_replace_file_writes_through_a_link_keeps_the_mode_and_leaves_no_temp(tmp_path):
    real = tmp_path / "shared" / "results.json"
    real.parent.mkdir()
    real.write_text("old")
    os.chmod(real, 0o640)
    link = tmp_path / "results.json"
    link.symlink_to(real)
    assert saving.replace_file(link, "new") == link
    assert link.is_symlink() and real.read_text() == "new" and real.stat().st_mode & 0o777 == 0o640
    assert _temps(real.parent) == [] and _temps(tmp_path) == []
    fresh = saving.replace_file(tmp_path / "made" / "new.json", b"\x00bytes")
    assert fresh.read_bytes() == b"\x00bytes" and fresh.stat().st_mode & 0o777 == saving.default_mode()


def test_a_failed_replace_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "sweep.json"
    target.write_text("old")

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(saving.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        saving.replace_file(target, "new")
    assert target.read_text() == "old" and _temps(tmp_path) == []


def _killed_mid_write(path: str, writing) -> None:
    def stall(fd):  # the new bytes are in the temporary file; the rename has not happened
        writing.set()
        time.sleep(60)

    saving.os.fsync = stall
    with saving.file_lock(path, 5, "test writer"):
        saving.replace_file(path, "half")


def test_a_writer_killed_mid_write_leaves_the_file_its_lock_and_temp_are_cleared(tmp_path):
    target = tmp_path / "board.json"
    target.write_text("old")
    ctx = multiprocessing.get_context("fork")
    writing = ctx.Event()
    p = ctx.Process(target=_killed_mid_write, args=(str(target), writing))
    p.start()
    assert writing.wait(30)
    assert _temps(tmp_path)  # its temporary file exists while it writes
    os.kill(p.pid, signal.SIGKILL)
    p.join(30)
    assert target.read_text() == "old"
    t0 = time.monotonic()
    with saving.file_lock(target, 5, "test writer"):  # the kernel released the dead writer's lock
        assert _temps(tmp_path) == []  # and the next holder removed its temporary file
        saving.replace_file(target, "next")
    assert time.monotonic() - t0 < 5 and target.read_text() == "next"


def _update(card: str, results_dir: str, model: str, start) -> None:
    start.wait()  # every writer reads the card at the same moment
    update_card(card, load_results(results_dir), model=model)
    os._exit(0)


def test_concurrent_card_updates_each_land_whole_with_other_tools_entries_kept(tmp_path):
    for name in ("a", "b"):
        write_results(tmp_path / "runs", name, results_json(f"org/{name}", top=0.3 if name == "a" else 0.5))
    real = tmp_path / "repo" / "README.md"
    real.parent.mkdir()
    real.write_text(HEADER + BODY)
    os.chmod(real, 0o640)
    card = tmp_path / "README.md"
    card.symlink_to(real)
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(4)
    procs = [ctx.Process(target=_update, args=(str(card), str(tmp_path / "runs"), m, start)) for m in "abab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 4
    text = real.read_text()
    assert text.endswith(BODY) and card.is_symlink() and real.stat().st_mode & 0o777 == 0o640
    results = ModelCard(text).data.eval_results
    assert "text-generation" in {e.task_type for e in results}  # the other tool's entry stays
    recalls = [e.metric_value for e in results if e.metric_type == "recall_at_k"]
    one = {update_card_text(tmp_path, m) for m in "ab"}
    assert len(one) == 2 and len(recalls) == 1 and text in one  # one writer's whole card, not a mix of two
    assert _temps(real.parent) == [] and not list(real.parent.glob("*.lock"))


def update_card_text(tmp_path, model: str) -> str:
    """The card one update for ``model`` alone writes, from the same start."""
    alone = tmp_path / f"alone-{model}.md"
    alone.write_text(HEADER + BODY)
    return update_card(alone, load_results(tmp_path / "runs"), model=model)
