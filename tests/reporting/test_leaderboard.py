"""Leaderboard submissions: the row schema, refusals with one line each, replacement, atomic writes."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mi_tasks.cli.main import main as cli_main
from mi_tasks.reporting import leaderboard_rows, load_results
from mi_tasks.reporting.leaderboard import store as store_module
from mi_tasks.reporting.leaderboard.rows import rows_from_file
from mi_tasks.reporting.leaderboard.schema import SCHEMA_VERSION, check_row
from mi_tasks.reporting.leaderboard.store import Board

from ..leaderboard_results import SHA, results_json, write_results

HOSTILE = '<img src=x onerror="window.__pwned=1;alert(1)"><svg onload=alert(2)><script>window.__pwned=2</script>'


def _add(capsys, board: Path, *files: Path) -> tuple[int, list[str], list[str]]:
    rc = cli_main(["leaderboard", "add", *map(str, files), "--board", str(board)])
    out, err = capsys.readouterr()
    return rc, out.splitlines(), [ln for ln in err.splitlines() if not ln.startswith("WARNING")]


def test_submissions_refused_with_one_line_each_and_duplicate_replaced(tmp_path, capsys):
    d, board = tmp_path / "runs", tmp_path / "board"
    good = [write_results(d, f"m{i}", results_json(f"org/model-{i}", seed=i, top=0.3 + 0.05 * i, targets="tokens"))
            for i in range(2)]
    rc, out, err = _add(capsys, board, *good)
    assert rc == 0 and err == [] and len(out) == 3 and out[0].startswith(f"added {good[0]}: 5 rows")
    before = json.loads((board / "board.json").read_text())["rows"]
    assert len(before) == 10 and {r["model"] for r in before} == {"model-0", "model-1"}

    rows = rows_from_file(good[0])
    rows[0]["value"] = "0.9"  # malformed: a number as text
    malformed = tmp_path / "malformed" / "leaderboard.json"
    malformed.parent.mkdir()
    malformed.write_text(json.dumps(rows))
    data = results_json("org/no-hashes", targets="tokens")
    for task in data["configs"].values():
        for c in ("train_corpus", "eval_corpus"):
            task.get("mi_results", {}).get("meta", {}).get(c, {}).pop("sha256", None)
    no_hashes = write_results(d, "no-hashes", data)
    other_tok = write_results(d, "other-tok", results_json("org/other-tokenizer", targets="tokens", tokenizer_sha=SHA["tok_b"]))
    duplicate = write_results(d, "dup", results_json("org/model-0", seed=9, top=0.5, targets="tokens"))
    hostile = write_results(d, "hostile", results_json(HOSTILE, targets="tokens"))
    rc, out, err = _add(capsys, board, malformed, no_hashes, other_tok, duplicate, hostile)
    assert rc == 1
    assert len(err) == 3, err  # one line per refused file
    assert err[0].startswith(f"refused {malformed}: row 1 (model-0, mi_recoverability, recall_at_k): value '0.9'")
    assert err[1].startswith(f"refused {no_hashes}: ") and "eval_corpus 'bbcnews:test' has no sha256" in err[1]
    assert err[2].startswith(f"refused {other_tok}: task mi_recoverability: tokenizer_sha256 is 'bbbb")
    assert any(ln.startswith(f"added {duplicate}: 5 rows, replacing 5 rows") and "model-0 from" in ln for ln in out)
    after = json.loads((board / "board.json").read_text())["rows"]
    assert len(after) == 15  # 10 + hostile's 5; the duplicate replaced model-0's 5
    recall = {r["model_path"]: r["value"] for r in after if r["metric"] == "recall_at_k"}
    assert recall["org/model-0"] == pytest.approx(0.5 * (0.3 + 0.7 * 0.7557), abs=0.05)  # the new run's value
    assert HOSTILE in recall and not any("no-hashes" in p or "other-tokenizer" in p for p in recall)
    assert [r for r in after if r["model_path"] == "org/model-1"] == [r for r in before if r["model_path"] == "org/model-1"]


def test_words_and_tokens_do_not_mix(tmp_path):
    b = Board(tmp_path, [])
    assert b.add(rows_from_file(write_results(tmp_path, "a", results_json("org/a"))), "a").refused is None
    refused = b.add(rows_from_file(write_results(tmp_path, "b", results_json("org/b", targets="tokens"))), "b").refused
    assert refused.startswith("task mi_recoverability: targets is 'tokens' but the board's rows (e.g. a) have 'words'")


def test_standard_scores_are_rows_and_their_settings_must_match(tmp_path):
    data = results_json("org/std")
    rows = rows_from_file(write_results(tmp_path, "std", data))
    acc = next(r for r in rows if r["task"] == "hellaswag" and r["metric"] == "acc")
    assert acc["standard"] is True and acc["value"] == 0.41 and acc["num_fewshot"] == 0 and acc["value_stderr"] == 0.005
    assert check_row(acc) is None and acc["lm_eval_version"] == "0.4.13" and acc["model_dtype"] == "torch.bfloat16"
    b = Board(tmp_path, [])
    assert b.add(rows, "std").refused is None
    five = results_json("org/five")
    five["n-shot"]["hellaswag"] = 5
    refused = b.add(rows_from_file(write_results(tmp_path, "five", five)), "five").refused
    assert refused.startswith("task hellaswag: num_fewshot is 5 but the board's rows (e.g. std) have 0")


def test_rows_of_the_existing_writers_are_accepted(tmp_path, capsys):
    f = write_results(tmp_path, "m", results_json("org/m"))
    rows = leaderboard_rows(load_results([f]))
    assert rows and all(check_row(r) is None for r in rows) and rows[0]["schema_version"] == SCHEMA_VERSION
    assert cli_main(["card", str(f), "--leaderboard", str(tmp_path / "lb")]) == 0
    capsys.readouterr()
    rc, out, err = _add(capsys, tmp_path / "board", tmp_path / "lb" / "leaderboard.json")
    assert rc == 0 and err == [] and out[0].endswith(f"{len(rows)} rows")


def test_real_tiny_model_results_each_row_valid_and_two_tokenizers_refused(suite_run, tmp_path, capsys):
    """The tiny BERT and Llama ran with token targets: each file is a valid submission, the pair does not compare."""
    files = suite_run["files"]
    assert all(check_row(r) is None for f in files for r in rows_from_file(f))
    rc, out, err = _add(capsys, tmp_path / "board", *files)
    assert rc == 1 and len(out) == 2 and len(err) == 1
    assert "tokenizer_sha256" in err[0] and err[0].startswith(f"refused {files[1]}: task mi_recoverability")


@pytest.mark.parametrize("field, value, says", [
    ("schema_version", None, "schema_version is None"), ("model", "", "model is missing"),
    ("value", float("nan"), "not a finite number"), ("value", True, "not a finite number"),
    ("lm_eval_version", None, "no provenance: lm_eval_version"), ("seed", None, "no provenance: seed"),
    ("eval_corpus_sha256", "abc", "eval_corpus 'bbcnews:test' has no sha256"),
    ("targets", "bytes", "neither words nor tokens"),
    ("curve", {"layer": [0, 1], "depth": [0.0], "value": [0.1, 0.2]}, "curve must hold equally long lists")])
def test_schema_names_what_is_wrong(tmp_path, field, value, says):
    row = copy.deepcopy(rows_from_file(write_results(tmp_path, "m", results_json("org/m")))[0])
    assert check_row(row) is None
    row[field] = value
    assert says in check_row(row)


def test_interrupted_write_leaves_the_board_as_it_was(tmp_path, monkeypatch):
    board = Board(tmp_path, [])
    board.add(rows_from_file(write_results(tmp_path / "r", "a", results_json("org/a"))), "a")
    board.save()
    saved = board.path.read_bytes()
    board.add(rows_from_file(write_results(tmp_path / "r", "b", results_json("org/b"))), "b")

    dumps, calls = json.dumps, []

    def dies_halfway(obj, **kw):  # the board is written a row at a time: die at the third
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return dumps(obj, **kw)

    monkeypatch.setattr(store_module.json, "dumps", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        board.save()
    assert board.path.read_bytes() == saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board.json", "r"]  # no temporary file left
    monkeypatch.undo()
    assert len(Board.open(tmp_path).rows) == 5


def test_mteb_layer_sweeps_are_submissions(tmp_path):
    sweep = {"kind": "mteb_layer_sweep", "model": "org/encoder", "pooling": "mean", "normalize": True,
             "num_layers": 2, "mteb_version": "2.20.0", "mi_tasks_version": "0.1.0",
             "rows": [{"task": "STSBenchmark", "metric": "cosine_spearman", "layer": lay, "depth": lay / 2,
                       "value": 0.5 + 0.1 * lay} for lay in range(3)]}
    f = tmp_path / "sweep.json"
    f.write_text(json.dumps(sweep))
    rows = rows_from_file(f)
    assert [(r["task"], r["metric"], r["value"]) for r in rows] == [("mteb:STSBenchmark", "cosine_spearman", 0.7)]
    assert check_row(rows[0]) is None and rows[0]["curve"]["depth"] == [0.0, 0.5, 1.0]
    del rows[0]["mteb_version"]
    assert check_row(rows[0]).startswith("no provenance: mteb_version")
