"""Model cards and leaderboard rows from real ``lm_eval`` results (the tiny-model run of test_reporting)."""
from __future__ import annotations

import csv
import io
import json

import pytest
from huggingface_hub import ModelCard, metadata_load

from mi_tasks.cli import main as cli_main
from mi_tasks.errors import MiTasksError
from mi_tasks.metrics.result import Measurement
from mi_tasks.reporting import leaderboard_rows, load_results, model_index_yaml, update_card
from mi_tasks.reporting.card import eval_results

BODY = "# My model\n\nSome text with --- dashes,\n\n```yaml\nmodel-index: not this one\n```\n\nCRLF-free end.\n"
HEADER = ("---\n# a comment the user wrote\nlicense: apache-2.0\nmodel-index:\n- name: my-model\n  results:\n"
          "  - task:\n      type: text-generation\n    dataset:\n      name: HellaSwag\n      type: hellaswag\n"
          "    metrics:\n    - type: acc\n      value: 0.3\ntags:\n- mi\n---\n")


def _bert(suite_run):
    return next(d for d in suite_run["json"].values() if d["model_name"].endswith("bert"))


def test_model_index_parses_with_huggingface_hub_and_round_trips(suite_run, tmp_path):
    res = load_results(suite_run["out"] / "lm_eval")
    text = model_index_yaml(res, model="bert")
    card = ModelCard(text + "\nbody\n")
    parsed = card.data.eval_results
    want = eval_results(res.for_run(next(r for r in res.runs if r.label == "bert")))
    assert parsed == want and card.data.model_name == "bert"
    data = _bert(suite_run)
    rec = next(e for e in parsed if e.task_type == "mi_recoverability" and e.metric_type == "recall_at_k")
    assert rec.metric_value == pytest.approx(data["results"]["mi_recoverability"]["recall_at_k,none"], rel=1e-5)
    meta = data["configs"]["mi_recoverability"]["mi_results"]["meta"]
    assert rec.dataset_name == meta["eval_corpus"]["name"] and rec.dataset_revision == meta["eval_corpus"]["sha256"]
    assert rec.metric_args["layer"] == 3 and rec.metric_args["num_layers"] == 3 and rec.metric_args["seed"] == 1
    assert rec.metric_args["train_corpus_sha256"] == meta["train_corpus"]["sha256"]
    assert {(e.task_type, e.metric_type) for e in parsed} == {
        (t, k.split(",")[0]) for t in ("mi_recoverability", "mi_fano", "mi_geometry")
        for k in data["results"][t] if "," in k and "_stderr" not in k}
    (tmp_path / "README.md").write_text(text)
    assert metadata_load(tmp_path / "README.md")["model-index"][0]["name"] == "bert"
    # a value that is not a number (a layer a task could not score) stays off the card
    tc = next(t for t in res.tasks if t.run.label == "bert" and t.task == "mi_fano")
    tc.headline["ba_mi_bits"] = float("nan")
    assert ("mi_fano", "ba_mi_bits") not in {(e.task_type, e.metric_type) for e in eval_results([tc])}


def test_update_keeps_body_and_other_header_lines_and_foreign_results(suite_run, tmp_path):
    res = load_results(suite_run["out"] / "lm_eval")
    readme = tmp_path / "README.md"
    readme.write_text(HEADER + BODY)
    new = update_card(readme, res, model="llama")
    assert readme.read_text() == new and new.endswith(BODY)  # body byte-identical
    head = new[: len(new) - len(BODY)]
    for line in ("# a comment the user wrote\n", "license: apache-2.0\n", "tags:\n- mi\n---\n"):
        assert line in head
    card = ModelCard(new)
    assert card.text == BODY and card.data.model_name == "my-model"  # the card's own name is kept
    tasks = {e.task_type for e in card.data.eval_results}
    assert tasks == {"text-generation", "mi_recoverability", "mi_fano", "mi_geometry"}  # the other tool's result stays
    # updating again with the same results changes nothing; other results replace only ours
    assert update_card(readme, res, model="llama") == new
    update_card(readme, res, model="bert")
    again = ModelCard(readme.read_text())
    bert_recall = _bert(suite_run)["results"]["mi_recoverability"]["recall_at_k,none"]
    ours = [e for e in again.data.eval_results if e.metric_type == "recall_at_k"]
    assert len(ours) == 1 and ours[0].metric_value == pytest.approx(bert_recall, rel=1e-5)
    assert readme.read_text().endswith(BODY)


def test_update_adds_a_header_where_there_is_none(suite_run, tmp_path):
    res = load_results(suite_run["files"][0])
    readme = tmp_path / "README.md"
    readme.write_text(BODY)
    assert cli_main(["card", str(suite_run["files"][0]), "--update", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("---\nmodel-index:\n") and text.endswith(BODY)
    assert ModelCard(text).data.eval_results == eval_results(res.tasks)


def test_several_models_need_a_choice_and_bad_cards_are_refused(suite_run, tmp_path, capsys):
    res = load_results(suite_run["out"] / "lm_eval")
    with pytest.raises(MiTasksError, match=r"several model runs \(bert, llama\); choose one with --model"):
        model_index_yaml(res)
    with pytest.raises(MiTasksError, match="no results for model 'gpt9'"):
        model_index_yaml(res, model="gpt9")
    with pytest.raises(MiTasksError, match="does not exist"):
        update_card(tmp_path / "missing.md", res, model="bert")
    bad = tmp_path / "bad.md"
    bad.write_text("---\nlicense: [unclosed\n---\nbody\n")
    with pytest.raises(MiTasksError, match="YAML header does not parse"):
        update_card(bad, res, model="bert")
    assert bad.read_text() == "---\nlicense: [unclosed\n---\nbody\n"
    assert cli_main(["card", str(suite_run["out"] / "lm_eval"), "--model", "llama", "--name", "org/llama"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("---\nmodel-index:\n- name: org/llama\n")


def test_leaderboard_rows_carry_the_comparability_settings(suite_run, tmp_path):
    res = load_results(suite_run["out"] / "lm_eval")
    rows = leaderboard_rows(res)
    assert cli_main(["card", str(suite_run["out"] / "lm_eval"), "--model", "bert", "--leaderboard", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "leaderboard.json").read_text()) == json.loads(json.dumps(rows))
    table = list(csv.DictReader(io.StringIO((tmp_path / "leaderboard.csv").read_text())))
    assert len(table) == len(rows) and {r["model"] for r in table} == {"bert", "llama"}
    data = _bert(suite_run)
    meta = data["configs"]["mi_recoverability"]["mi_results"]["meta"]
    row = next(r for r in rows if r["model"] == "bert" and r["task"] == "mi_recoverability" and r["metric"] == "recall_at_k")
    assert row["value"] == data["results"]["mi_recoverability"]["recall_at_k,none"]
    assert (row["layers"], row["pooling"], row["seed"], row["headline_layer"], row["num_layers"]) == ("all", "mean", 1, 3, 3)
    assert row["train_corpus_sha256"] == meta["train_corpus"]["sha256"] and row["train_corpus_rows"] == 200
    assert row["eval_corpus_sha256"] == meta["eval_corpus"]["sha256"] and row["eval_corpus_rows"] == 30
    assert row["lm_eval_version"] == data["lm_eval_version"] and row["transformers_version"] == data["transformers_version"]
    assert row["mi_tasks_version"] and row["torch_version"] and row["run_date"].endswith("Z")
    assert "dtype=float32" in row["model_args"]


def test_card_entries_name_their_targets_and_vacuous_bounds(suite_run):
    res = load_results(suite_run["out"] / "lm_eval")
    run = next(r for r in res.runs if r.label == "bert")
    entries = eval_results(res.for_run(run))
    meta = _bert(suite_run)["configs"]["mi_recoverability"]["mi_results"]["meta"]
    rec = next(e for e in entries if e.task_type == "mi_recoverability" and e.metric_type == "recall_at_k")
    assert rec.metric_args["targets"] == "tokens" and rec.metric_args["tokenizer_sha256"] == meta["tokenizer"]["sha256"]
    fano = next(t for t in res.for_run(run) if t.task == "mi_fano")
    for row in fano.rows:
        row.measurements["fano_mi_bits_empirical"] = Measurement(0.0, caveat="vacuous")
    flagged = next(e for e in eval_results([fano]) if e.metric_type == "fano_mi_bits_empirical")
    assert flagged.metric_args["vacuous"] is True and "vacuous" in flagged.metric_name
    other = next(e for e in eval_results([fano]) if e.metric_type == "ba_mi_bits")
    assert "vacuous" not in other.metric_args
    row = next(r for r in leaderboard_rows(res) if r["task"] == "mi_fano" and r["model"] == "bert"
               and r["metric"] == "fano_mi_bits")
    assert row["targets"] == "tokens" and row.get("vacuous") in (None, True)
