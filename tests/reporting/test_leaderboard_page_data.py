"""What the leaderboard page is built from, without a browser: column meanings from the metric families,
headline standard errors on rows and downloads, ranks with ties within the errors, shared metrics shown once."""
from __future__ import annotations

import copy
import json

from mi_tasks.metrics.registry import builtin_families
from mi_tasks.reporting.leaderboard.page import _ranks, build_site, metric_facts, page_data
from mi_tasks.reporting.leaderboard.rows import rows_from_file
from mi_tasks.reporting.leaderboard.store import Board

from ..leaderboard_results import results_json, write_results


def test_every_family_metric_has_a_unit_a_definition_and_lm_evals_direction():
    facts = metric_facts()
    for fam in builtin_families():
        for m in fam.metrics():
            assert fam.units.get(m) and fam.definitions.get(m), (fam.name, m)
            assert facts[m]["higher_is_better"] is (m not in fam.lower_is_better)
    assert facts["infonce"]["higher_is_better"] is False and facts["fano_mi_bits"]["unit"] == "bits"


def test_rows_carry_the_headline_standard_error_and_lm_evals_direction(tmp_path):
    rows = rows_from_file(write_results(tmp_path, "m", results_json("org/m", n_layers=6)))
    recall = next(r for r in rows if r["metric"] == "recall_at_k")
    curve = recall["curve"]
    assert recall["value_stderr"] == curve["stderr"][curve["layer"].index(recall["headline_layer"])] == 0.01
    assert next(r for r in rows if r["metric"] == "fano_mi_bits")["value_stderr"] is None  # none recorded: none claimed
    acc = next(r for r in rows if r["metric"] == "acc")
    assert acc["value_stderr"] == 0.005 and acc["higher_is_better"] is True


def test_ranks_count_differences_within_the_errors_as_ties():
    # 0.50 and 0.49 (errors 0.01) tie for first; 0.40 is beaten by both; a flagged or missing value is not ranked
    values, errors = [0.50, 0.49, 0.40, 0.99, None], [0.01, 0.01, 0.01, 0.0, None]
    ok = [True, True, True, False, False]
    assert _ranks(values, errors, ok, True) == [1, 1, 3, None, None]
    assert _ranks(values, errors, ok, False) == [2, 2, 1, None, None]
    assert _ranks([0.3, 0.3, 0.2], [None, None, None], [True] * 3, True) == [1, 1, 3]  # no errors: only equal values tie
    assert _ranks(values, errors, ok, None) == [None] * 5  # no recorded direction: no ranking


def _board(tmp_path, n=3):
    rows = []
    for i in range(n):
        rows += rows_from_file(write_results(tmp_path, f"m{i}", results_json(f"org/model-{i}", seed=i, top=0.3 + 0.05 * i)))
    for r in [r for r in rows if r["task"] == "mi_recoverability" and r["metric"] == "fano_mi_bits"]:
        rows.append({**copy.deepcopy(r), "task": "mi_fano"})  # mi_fano reports the same bound: one column
    return rows


def test_a_metric_two_tasks_share_is_one_column(tmp_path):
    data, details = page_data(_board(tmp_path))
    fano = [c for c in data["columns"] if c["metric"] == "fano_mi_bits"]
    assert len(fano) == 1 and fano[0]["tasks"] == ["mi_recoverability", "mi_fano"] and fano[0]["unit"] == "bits"
    recall = next(c for c in data["columns"] if c["metric"] == "recall_at_k")
    assert recall["higher_is_better"] is True and recall["settings"]["eval_corpus"] == "bbcnews:test"
    assert "bbcnews:test" in data["models"][0]["find"] and "mi_entropy" in data["models"][0]["find"]
    assert len(details) == 3 and set(details[0]["curves"]) == set(data["models"][0]["c"])
    old = [{k: v for k, v in r.items() if k != "value_stderr"} for r in _board(tmp_path)]  # a board from before
    assert page_data(old)[0]["models"][0]["e"][0] == 0.01


def test_board_rows_carry_the_headline_error_and_the_site_loads_details_per_model(tmp_path):
    board = Board(tmp_path / "board", _board(tmp_path))
    board.save()
    saved = json.loads((tmp_path / "board" / "board.json").read_text())["rows"]
    assert {r["value_stderr"] for r in saved if r["metric"] == "recall_at_k"} == {0.01} and saved == board.rows
    index = build_site(tmp_path / "board", tmp_path / "site")
    site = index.parent
    assert sorted(p.name for p in site.iterdir()) == [".mi-tasks-board-site", "assets", "board-data.js", "index.html", "models"]
    assert sorted(p.name for p in (site / "models").iterdir()) == ["0.js", "1.js", "2.js"]
    text = (site / "models" / "0.js").read_text()
    assert text.startswith("window.MI_BOARD_MODEL(0, {") and text.endswith("});\n")
    detail = json.loads(text[len("window.MI_BOARD_MODEL(0, "):-3])
    recall = detail["curves"]["0"]  # recall_at_k: layers 0..6 as n, values as integers over 10^d
    curve = next(r for r in board.rows if r["model"] == "model-0" and r["metric"] == "recall_at_k")["curve"]
    assert recall["n"] == 6 and recall["headline"] == 6 and len(recall["value"]["i"]) == 7
    assert all(abs(i / 10 ** recall["value"]["d"] - v) < 1e-3 for i, v in zip(recall["value"]["i"], curve["value"]))
    assert detail["provenance"]["common"]["model_path"] == "org/model-0"


def test_a_rebuild_of_a_smaller_board_leaves_no_other_models_details(tmp_path):
    Board(tmp_path / "board", _board(tmp_path, n=3)).save()
    build_site(tmp_path / "board", tmp_path / "site")
    (tmp_path / "site" / "models" / "notes.js").write_text("// a file of the site's owner")
    Board(tmp_path / "board", _board(tmp_path / "again", n=2)).save()
    build_site(tmp_path / "board", tmp_path / "site")
    assert sorted(p.name for p in (tmp_path / "site" / "models").iterdir()) == ["0.js", "1.js", "notes.js"]
