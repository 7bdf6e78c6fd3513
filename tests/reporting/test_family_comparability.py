"""What else a family's numbers depend on is the family's to say: reports, cards and boards read it from the hook.

The plugin family of ``tests/metrics/plugin_family`` declares that pooled-state norms of different widths
do not compare; nothing in mi-tasks' reporting names it, yet its runs of two widths are flagged in the
headline table and leaderboard rows, refused by ``--strict`` and by a board, and a row that lost the width
is refused with the family's phrase.
"""
from __future__ import annotations

import importlib
import json
import sys

import pytest

from mi_tasks.metrics.result import LayerResult, LayerRow, Measurement
from mi_tasks.reporting import load_results
from mi_tasks.reporting.card import leaderboard_rows
from mi_tasks.reporting.comparability import find_clashes
from mi_tasks.reporting.leaderboard.schema import check_row
from mi_tasks.reporting.tables import headline_markdown

from ..leaderboard_results import results_json, write_results
from ..readme_commands import REPO


@pytest.fixture
def state_norm(monkeypatch):
    """The plugin family registered for this test only (the registry is restored afterwards)."""
    from mi_tasks.metrics import registry

    monkeypatch.setattr(registry, "_REGISTERED", dict(registry._REGISTERED))
    monkeypatch.delitem(sys.modules, "state_norm", raising=False)
    folder = str(REPO / "tests" / "metrics" / "plugin_family")
    sys.path.insert(0, folder)
    try:
        return importlib.import_module("state_norm").StateNormFamily
    finally:
        sys.path.remove(folder)


def _with_norms(model: str, width: int) -> dict:
    """A results file with the plugin's task beside the built-ins, its meta recording the states' width."""
    data = results_json(model)
    rows = [LayerRow(lay, lay / 6, {"mean_state_norm": Measurement(10.0 + lay, 0.1)}) for lay in range(7)]
    res = LayerResult(layers=rows, meta={"num_layers": 6, "state_width": width, "seed": 0,
                                         "mi_tasks_version": "0.1.0", "model_dtype": "torch.bfloat16"}).to_dict()
    res["headline_layer"] = 6
    data["configs"]["mi_state_norm"] = {"task": "mi_state_norm", "mi_settings": {"seed": 0}, "mi_results": res}
    data["results"]["mi_state_norm"] = {"alias": "mi_state_norm", "mean_state_norm,none": 16.0}
    return data


def test_a_plugin_familys_comparability_flags_reports_and_rows(state_norm, tmp_path, capsys):
    from mi_tasks.cli import main as cli_main

    write_results(tmp_path, "narrow", _with_norms("org/narrow", 32))
    write_results(tmp_path, "wide", _with_norms("org/wide", 64))
    res = load_results(tmp_path)
    clashes = find_clashes(res)
    assert [c.task for c in clashes] == ["mi_state_norm"]  # word-target recoverability of both compares
    assert clashes[0].message == ("mi_state_norm: narrow (32-d states), wide (64-d states): a pooled state's norm grows "
                                  "with its width; compare models of one hidden width")
    assert "**Not comparable across models.** mi_state_norm: narrow (32-d states)" in headline_markdown(res)
    rows = {(r["model"], r["task"]): r for r in leaderboard_rows(res)}
    assert rows[("narrow", "mi_state_norm")]["state_width"] == 32
    assert rows[("wide", "mi_state_norm")]["comparable_across_models"] is False
    assert rows[("wide", "mi_recoverability")]["comparable_across_models"] is True
    assert rows[("wide", "mi_recoverability")]["targets"] == "words"

    assert cli_main(["report", str(tmp_path / "narrow"), str(tmp_path / "wide"), "--out", str(tmp_path / "r"),
                     "--strict", "--no-figures"]) == 2
    assert "mi_state_norm: narrow (32-d states)" in capsys.readouterr().err
    board = tmp_path / "board"
    assert cli_main(["leaderboard", "add", str(tmp_path / "narrow"), "--board", str(board)]) == 0
    assert cli_main(["leaderboard", "add", str(tmp_path / "wide"), "--board", str(board)]) == 1
    assert "task mi_state_norm: state_width is 64 but the board's rows (e.g. narrow) have 32" in capsys.readouterr().err

    lost = dict(rows[("narrow", "mi_state_norm")])
    del lost["state_width"]
    assert check_row(json.loads(json.dumps(lost))).startswith(
        "state_width is missing: a norm cannot be compared without the width of its states; re-run")
