"""Reports from real ``lm_eval`` runs on tiny models: figures hold the JSON's curves, tables, CLI, errors."""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import shutil

import matplotlib.pyplot as plt
import pytest

from mi_tasks.cli import main as cli_main
from mi_tasks.errors import MiTasksError
from mi_tasks.metrics.result import rows_from_dict
from mi_tasks.reporting import load_results, write_report


from ..conftest import SUITE_TASKS as TASKS

pytestmark = pytest.mark.skipif(shutil.which("lm_eval") is None, reason="lm_eval is not installed (pip install '.[test]')")


def _rows(data: dict, task: str) -> list:
    return rows_from_dict(data["configs"][task]["mi_results"], task)


def _curve(data: dict, task: str, metric: str) -> list[dict]:
    return [{"layer": r.layer, "depth": r.depth, "value": r.measurement(metric).value, "stderr": r.stderr(metric)}
            for r in _rows(data, task)]


def test_results_load_into_records_equal_to_the_json(suite_run):
    res = load_results(suite_run["out"] / "lm_eval")
    assert [r.label for r in res.runs] == ["bert", "llama"]
    assert res.task_names() == ["mi_recoverability", "mi_fano", "mi_geometry"]  # the group's order, not lm-eval's sorted
    for f, data in suite_run["json"].items():
        run = next(r for r in res.runs if r.source == str(f))
        assert run.model == data["model_name"] and run.model_args["dtype"] == "float32"
        assert run.versions["lm_eval"] == data["lm_eval_version"] and run.versions["mi_tasks"]
        for task in ("mi_recoverability", "mi_fano"):
            got = [(r["layer"], r["depth"], r["value"]) for r in res.records
                   if r["source"] == str(f) and r["task"] == task and r["metric"] == "fano_mi_bits"]
            want = [(p["layer"], p["depth"], p["value"]) for p in _curve(data, task, "fano_mi_bits")]
            assert got == want and [g[0] for g in got] == [0, 1, 2, 3]
        geometry = {r["metric"]: r for r in res.records if r["source"] == str(f) and r["task"] == "mi_geometry"}
        assert {"curvature", "twonn", "gride", "cka_to_last"} <= set(geometry)  # each metric once, its error beside it
        assert geometry["curvature"]["stderr"] > 0 and geometry["curvature"]["n"] > 0
        tc = next(t for t in res.tasks if t.run == run and t.task == "mi_recoverability")
        assert tc.headline["recall_at_k"] == data["results"]["mi_recoverability"]["recall_at_k,none"]
        assert tc.headline_layer == 3 and tc.settings["seed"] == 1


def test_figures_exist_and_hold_each_models_curve(suite_run):
    rep = suite_run["report"]
    figs = rep.figures
    assert figs.overview is not None and figs.overview.name == "overview.png"
    for p in figs.paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        h, w = plt.imread(p).shape[:2]
        assert h > 300 and w > 500
    side = json.loads(figs.sidecar.read_text())
    fig = side["mi_recoverability__recall_at_k.png"]
    assert [s["label"] for s in fig["series"]] == ["bert", "llama"]
    for s in fig["series"]:
        data = next(d for d in suite_run["json"].values() if d["model_name"].endswith(s["label"]))
        want = _curve(data, "mi_recoverability", "recall_at_k")
        assert s["layers"] == [p["layer"] for p in want] == [0, 1, 2, 3]
        assert s["depths"] == pytest.approx([0, 1 / 3, 2 / 3, 1])
        assert s["values"] == [p["value"] for p in want]
        assert s["stderr"] == [p["stderr"] for p in want]
        assert s["num_layers"] == 3
    # mi_fano's curves are mi_recoverability's (one extraction): drawn once, the PNG says so
    assert fig["also_tasks"] == ["mi_fano"] and not (figs.paths[0].parent / "mi_fano__recall_at_k.png").exists()
    panels = side["overview.png"]["panels"]
    assert [(p["task"], p["metric"]) for p in panels] == [("mi_recoverability", "recall_at_k"),
                                                         ("mi_recoverability", "fano_mi_bits"),
                                                         ("mi_recoverability", "ba_mi_bits"),
                                                         ("mi_geometry", "curvature")]
    # every measured metric has a PNG (standard errors are bands and flags are flags, not figures of their
    # own); metrics the run turned off (bleu4, rougeL with text_metrics false: all null) have none
    rows = [r for d in suite_run["json"].values() for t in ("mi_recoverability", "mi_geometry") for r in _rows(d, t)]
    drawn = {v["metric"] for k, v in side.items() if k != "overview.png"}
    measured = {m for r in rows for m, v in r.measurements.items() if math.isfinite(v.value)}
    assert drawn == measured and "bleu4" in rows[0].measurements and "bleu4" not in drawn


def test_tables_markdown_and_csv(suite_run):
    rep = suite_run["report"]
    out = suite_run["out"]
    md = (out / "headline.md").read_text()
    assert md.splitlines()[0] == "| task | metric | bert | llama |"
    for data in suite_run["json"].values():
        v = data["results"]["mi_recoverability"]["recall_at_k,none"]
        se = data["results"]["mi_recoverability"]["recall_at_k_stderr,none"]  # lm-eval's standard error, shown too
        assert f"{v:.4f} ± {se:.4f} (peak " in md
    # mi_fano's fano_mi_bits equals mi_recoverability's: shown once
    assert "| mi_fano | fano_mi_bits |" not in md and "| mi_fano | fano_mi_bits_norm |" in md
    rows = list(csv.DictReader(io.StringIO((out / "layers.csv").read_text())))
    n_points = sum(len(r.measurements) for d in suite_run["json"].values()
                   for t in ("mi_recoverability", "mi_fano", "mi_geometry") for r in _rows(d, t))
    assert len(rows) == n_points
    r = next(r for r in rows if r["model"] == "llama" and r["task"] == "mi_fano" and r["metric"] == "ba_mi_bits"
             and r["layer"] == "2")
    data = next(d for d in suite_run["json"].values() if d["model_name"].endswith("llama"))
    assert float(r["value"]) == _curve(data, "mi_fano", "ba_mi_bits")[2]["value"]
    head = list(csv.DictReader(io.StringIO((out / "headline.csv").read_text())))
    assert {(h["model"], h["task"]) for h in head} == {(m, t) for m in ("bert", "llama") for t in TASKS.split(",")}
    assert "### mi_fano: llama" in (out / "layers.md").read_text()
    assert "![overview](figures/overview.png)" in rep.markdown.read_text()


def test_report_cli_labels_and_mteb_sweep(suite_run, tmp_path, capsys):
    sweep = {"kind": "mteb_layer_sweep", "model": "tiny-bert", "num_layers": 3, "pooling": "mean", "normalize": True,
             "mteb_version": "2.26.24", "mi_tasks_version": "0.1.0",
             "rows": [{"layer": l, "depth": l / 3, "task": "STSBenchmark", "metric": "cosine_spearman", "value": 0.1 * l}
                      for l in range(4)]}
    (tmp_path / "sweep.json").write_text(json.dumps(sweep))
    code = cli_main(["report", str(suite_run["out"] / "lm_eval"), str(tmp_path / "sweep.json"), "--out",
                     str(tmp_path / "rep"), "--label", "bert=encoder", "--no-figures"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| task | metric | encoder | llama | tiny-bert |" in printed
    assert "| mteb:STSBenchmark | cosine_spearman |" in printed and "0.3000 (peak 0.3000 @ 1.00)" in printed
    assert not (tmp_path / "rep" / "figures").exists()
    res = load_results([tmp_path / "sweep.json"])
    assert res.tasks[0].curves["cosine_spearman"][2] == (2, 2 / 3, pytest.approx(0.2))


def test_same_model_twice_is_told_apart_by_date(suite_run, tmp_path):
    src = suite_run["files"][0]
    data = json.loads(src.read_text())
    data["date"] = data["date"] + 3600
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "results_later.json").write_text(json.dumps(data))
    res = load_results([src, tmp_path / "later"])
    labels = [r.label for r in res.runs]
    assert len(set(labels)) == 2 and all(lab.startswith("bert @ ") for lab in labels)


def test_errors_name_the_problem(suite_run, tmp_path, capsys, caplog):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MiTasksError, match="no lm-eval results .* found under"):
        load_results(tmp_path / "empty")
    (tmp_path / "foreign.json").write_text(json.dumps({"accuracy": 0.9}))
    with pytest.raises(MiTasksError, match="neither an lm-eval results JSON"):
        load_results(tmp_path / "foreign.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(MiTasksError, match="cannot read .* as JSON"):
        load_results(tmp_path / "broken.json")
    with pytest.raises(MiTasksError, match="does not exist"):
        load_results(tmp_path / "nope")
    # a task without mi_results (another harness task, or a failed run) is skipped with a warning
    data = json.loads(suite_run["files"][0].read_text())
    data["configs"]["hellaswag"] = {"task": "hellaswag"}
    data["configs"]["mi_emergence"] = {"task": "mi_emergence", "mi_results": {"skipped": "needs a causal model"}}
    (tmp_path / "mixed.json").write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING):
        res = load_results(tmp_path / "mixed.json")
    assert res.task_names() == ["mi_recoverability", "mi_fano", "mi_geometry"]
    assert "skipped task(s) without mi_results" in caplog.text and "hellaswag" in caplog.text
    assert "task mi_emergence has no per-layer results for this model: needs a causal model" in caplog.text
    none = {**data, "configs": {"hellaswag": {"task": "hellaswag"}}}
    (tmp_path / "none.json").write_text(json.dumps(none))
    with pytest.raises(MiTasksError, match="no mi-tasks results"):
        load_results(tmp_path / "none.json")
    assert cli_main(["report", str(tmp_path / "empty"), "--out", str(tmp_path / "r")]) == 2
    assert "mi-tasks: error: no lm-eval results" in capsys.readouterr().err


def test_write_report_from_results_object(suite_run, tmp_path):
    res = load_results(suite_run["files"][:1])
    rep = write_report(res, tmp_path / "one", overview=["cosine"])
    panels = json.loads(rep.figures.sidecar.read_text())["overview.png"]["panels"]
    assert [p["metric"] for p in panels] == ["cosine"] and [s["label"] for s in panels[0]["series"]] == ["bert"]
    assert os.path.isfile(rep.leaderboard[0]) and os.path.isfile(rep.leaderboard[1])


def test_token_targets_of_different_tokenizers_are_flagged_or_refused(suite_run, tmp_path, capsys):
    """The tiny BERT and Llama have different tokenizers: their token-target numbers do not compare."""
    from mi_tasks.reporting.card import leaderboard_rows
    from mi_tasks.reporting.tables import headline_markdown

    res = load_results(suite_run["out"] / "lm_eval")
    head = headline_markdown(res)
    assert "Not comparable across models" in head and '"targets": "words"' in head
    side = json.loads(suite_run["report"].figures.sidecar.read_text())
    assert "not comparable" not in json.dumps(side["mi_recoverability__recall_at_k.png"]["series"])
    assert "tokenizers" in side["mi_recoverability__recall_at_k.png"]["not_comparable"]
    rows = [r for r in leaderboard_rows(res) if r["task"] == "mi_recoverability"]
    assert rows and all(r["targets"] == "tokens" and r["comparable_across_models"] is False for r in rows)
    assert all("mi-tasks suite --targets words" in r["comparability_note"] and r["tokenizer_sha256"] for r in rows)
    assert cli_main(["report", str(suite_run["out"] / "lm_eval"), "--out", str(tmp_path / "r"), "--strict",
                     "--no-figures"]) == 2
    assert "not comparable across models" in capsys.readouterr().err


def test_a_layer_sweeps_rows_read_back_as_written(tmp_path):
    """A sweep row is where and what, then the measurement's own fields: its error, caveat and counts come back
    whole, a value not measured reads as NaN with its reason kept out of the measurement, and a field the
    measurement does not have is one line naming the row."""
    from mi_tasks.metrics.result import Measurement
    from mi_tasks.reporting.results import MTEB_KIND, sweep_row

    got = Measurement(0.42, 0.03, "bootstrap over texts (100 resamples)", 200, 1)
    rows = [sweep_row(0, 0.0, "mi:views.lidar", "lidar", got),
            sweep_row(1, 1.0, "mi:views.lidar", "lidar", Measurement(math.nan), not_measured="one view per text"),
            sweep_row(1, 1.0, "STS", "cosine_spearman", Measurement(0.8))]
    data = {"kind": MTEB_KIND, "model": "m", "num_layers": 1, "pooling": "mean", "normalize": True, "rows": rows}
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(data, allow_nan=False))
    by_task = {t.task: t for t in load_results(path).tasks}
    lidar = by_task["mteb:mi:views.lidar"]
    assert lidar.measurements["lidar"][0] == got and math.isnan(lidar.measurements["lidar"][1].value)
    assert lidar.headline_layer == 1 and by_task["mteb:STS"].headline == {"cosine_spearman": 0.8}
    data["rows"][0]["stdev"] = 0.03
    path.write_text(json.dumps(data))
    with pytest.raises(MiTasksError, match=r"^.*sweep\.json: row 1 \(mi:views\.lidar, layer 0\): malformed measurement "
                                           r"\(unknown field\(s\) stdev\); re-run with this mi-tasks version$"):
        load_results(path)
