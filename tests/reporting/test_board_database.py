"""The board as a small database: concurrent writers all kept, links and modes kept, nothing of others overwritten.

Each case goes through ``mi-tasks leaderboard add/build`` as a user types it (``cli_main`` with the
same arguments): one line and exit 2, the refusal naming file and row, or the data intact.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mi_tasks.cli.main import main as cli_main
from mi_tasks.reporting.leaderboard import store as store_module

from ..leaderboard_results import results_json, write_results


def _add(capsys, board: Path, *files: Path) -> tuple[int, list[str], list[str]]:
    rc = cli_main(["leaderboard", "add", *map(str, files), "--board", str(board)])
    out, err = capsys.readouterr()
    return rc, out.splitlines(), [ln for ln in err.splitlines() if not ln.startswith("WARNING")]


def _models(board: Path) -> set[str]:
    return {r["model_path"] for r in json.loads((board / "board.json").read_text())["rows"]}


def _submit(board: str, files: list[str], start) -> None:
    start.wait()  # every writer reads the board at the same moment: without the lock all but one are lost
    os._exit(cli_main(["leaderboard", "add", *files, "--board", board]))


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writers=st.integers(2, 6), per_writer=st.integers(1, 2))
@example(writers=6, per_writer=2)  # always the largest case: 6 processes, 12 files at one instant
def test_concurrent_adds_keep_exactly_the_union(tmp_path_factory, writers, per_writer):
    root = tmp_path_factory.mktemp("concurrent")
    board = root / "board"
    write_results(root / "seed", "seed", results_json("org/seed"))  # a board that already holds a model
    assert cli_main(["leaderboard", "add", str(root / "seed"), "--board", str(board)]) == 0
    jobs = [[str(write_results(root / f"w{w}", f"s{i}", results_json(f"org/w{w}-s{i}", seed=w)))
             for i in range(per_writer)] for w in range(writers)]
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(writers)
    procs = [ctx.Process(target=_submit, args=(str(board), files, start)) for files in jobs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * writers
    want = {"org/seed"} | {f"org/w{w}-s{i}" for w in range(writers) for i in range(per_writer)}
    assert _models(board) == want
    assert not list(board.glob(".board-*.json.tmp"))


def test_board_link_written_through_and_mode_kept(tmp_path, capsys):
    shared = tmp_path / "shared"
    write_results(tmp_path / "a", "a", results_json("org/a"))
    assert _add(capsys, shared, tmp_path / "a")[0] == 0
    os.chmod(shared / "board.json", 0o664)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "board.json").symlink_to(shared / "board.json")
    write_results(tmp_path / "b", "b", results_json("org/b"))
    rc, out, err = _add(capsys, mine, tmp_path / "b")
    assert rc == 0 and err == []
    assert (mine / "board.json").is_symlink() and _models(shared) == {"org/a", "org/b"}
    assert (shared / "board.json").stat().st_mode & 0o777 == 0o664
    assert not list(mine.glob(".board-*")) and not list(shared.glob(".board-*"))


def test_temporary_files_of_interrupted_writes_are_removed(tmp_path, capsys):
    board = tmp_path / "board"
    write_results(tmp_path / "a", "a", results_json("org/a"))
    assert _add(capsys, board, tmp_path / "a")[0] == 0
    stale = board / ".board-k2j3h.json.tmp"  # what a killed add leaves behind
    stale.write_text('{"schema_version": 1, "ro')
    write_results(tmp_path / "b", "b", results_json("org/b"))
    assert _add(capsys, board, tmp_path / "b")[0] == 0
    assert not stale.exists() and _models(board) == {"org/a", "org/b"}


def test_lock_held_elsewhere_gives_one_line(tmp_path, capsys, monkeypatch):
    board = tmp_path / "board"
    write_results(tmp_path / "a", "a", results_json("org/a"))
    monkeypatch.setattr(store_module, "LOCK_WAIT_S", 0.2)
    ctx = multiprocessing.get_context("fork")
    held, done = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(board), held, done))
    holder.start()
    try:
        assert held.wait(30)
        t0 = time.monotonic()
        rc = cli_main(["leaderboard", "add", str(tmp_path / "a"), "--board", str(board)])
        err = capsys.readouterr().err.strip().splitlines()
    finally:
        done.set()
        holder.join(30)
    assert rc == 2 and len(err) == 1 and "stayed locked by another `mi-tasks leaderboard add`" in err[0]
    assert time.monotonic() - t0 < 20 and not (board / "board.json").exists()


def _hold_lock(board: str, held, done) -> None:
    with store_module.locked(board):
        held.set()
        done.wait(30)


def test_non_finite_values_refused_naming_file_row_and_layer_good_file_kept(tmp_path, capsys):
    good = write_results(tmp_path / "g", "good", results_json("org/good"))
    data = results_json("org/nan-curve")
    data["configs"]["mi_entropy"]["mi_results"]["layers"][3]["metrics"]["prompt_effective_rank"]["value"] = float("nan")
    nan_curve = write_results(tmp_path / "n", "nan", data)
    data = results_json("org/inf-headline")
    data["configs"]["mi_recoverability"]["mi_results"]["layers"][-1]["metrics"]["recall_at_k"]["value"] = float("inf")
    data["results"]["mi_recoverability"]["recall_at_k,none"] = float("inf")
    inf_headline = write_results(tmp_path / "i", "inf", data)
    data = results_json("org/nan-standard")
    data["results"]["hellaswag"]["acc,none"] = float("nan")  # a standard task's score: refused too, not dropped
    nan_standard = write_results(tmp_path / "s", "std", data)
    rc, out, err = _add(capsys, tmp_path / "board", good, nan_curve, inf_headline, nan_standard)
    assert rc == 1 and out[0].startswith(f"added {good}: 5 rows") and len(err) == 3, (out, err)
    assert err[2].startswith(f"refused {nan_standard}: row ") and "(nan-standard, hellaswag, acc)" in err[2]
    assert err[0].startswith(f"refused {nan_curve}: row ") and "(nan-curve, mi_entropy, prompt_effective_rank)" in err[0]
    assert "curve value is nan at layer 3" in err[0]
    assert err[1].startswith(f"refused {inf_headline}: row 1 (inf-headline, mi_recoverability, recall_at_k): value inf "
                             "at layer 6 is not a finite number")
    assert _models(tmp_path / "board") == {"org/good"}  # the good file is saved; nothing of the others


def test_rows_file_with_nan_and_a_bom_each_told_apart(tmp_path, capsys):
    good = write_results(tmp_path / "g", "good", results_json("org/good"))
    assert _add(capsys, tmp_path / "lb", good)[0] == 0
    rows = json.loads((tmp_path / "lb" / "board.json").read_text())["rows"]
    bom = tmp_path / "bom" / "leaderboard.json"
    bom.parent.mkdir()
    bom.write_text("\ufeff" + json.dumps(rows), encoding="utf-8")  # saved by an editor that writes a BOM
    rows[1]["value_stderr"] = float("nan")
    bad = tmp_path / "bad" / "leaderboard.json"
    bad.parent.mkdir()
    bad.write_text(json.dumps(rows))
    rc, out, err = _add(capsys, tmp_path / "board", bom, bad)
    assert rc == 1 and out[0].startswith(f"added {bom}: ") and len(err) == 1
    assert err[0].startswith(f"refused {bad}: row 2 (good, ") and "value_stderr is nan" in err[0]


def test_build_refuses_the_board_folder_and_other_peoples_files(tmp_path, capsys):
    board, site = tmp_path / "board", tmp_path / "site"
    write_results(tmp_path / "a", "a", results_json("org/a"))
    assert _add(capsys, board, tmp_path / "a")[0] == 0
    saved = (board / "board.json").read_bytes()
    assert cli_main(["leaderboard", "build", "--board", str(board), "--out", str(board)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is the board's own folder" in err[0] and (board / "board.json").read_bytes() == saved
    site.mkdir()
    (site / "index.html").write_text("my own page")
    assert cli_main(["leaderboard", "build", "--board", str(board), "--out", str(site)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--force" in err[0] and (site / "index.html").read_text() == "my own page"
    assert cli_main(["leaderboard", "build", "--board", str(board), "--out", str(site), "--force"]) == 0
    assert (site / "index.html").read_text() != "my own page"
    assert cli_main(["leaderboard", "build", "--board", str(board), "--out", str(site)]) == 0  # its own folder again
    capsys.readouterr()
    assert cli_main(["leaderboard", "add", str(tmp_path / "a"), "--board", str(board)]) == 0  # the board still reads


def test_board_with_a_byte_order_mark_reads(tmp_path, capsys):
    board = tmp_path / "board"
    write_results(tmp_path / "a", "a", results_json("org/a"))
    assert _add(capsys, board, tmp_path / "a")[0] == 0
    text = (board / "board.json").read_text(encoding="utf-8")
    (board / "board.json").write_text("\ufeff" + text, encoding="utf-8")
    write_results(tmp_path / "b", "b", results_json("org/b"))
    assert _add(capsys, board, tmp_path / "b")[0] == 0 and _models(board) == {"org/a", "org/b"}


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_a_new_board_gets_the_umask_mode(tmp_path, capsys, umask):
    write_results(tmp_path / "a", "a", results_json("org/a"))
    old = os.umask(umask)
    try:
        assert _add(capsys, tmp_path / "board", tmp_path / "a")[0] == 0
    finally:
        os.umask(old)
    assert (tmp_path / "board" / "board.json").stat().st_mode & 0o777 == 0o666 & ~umask

