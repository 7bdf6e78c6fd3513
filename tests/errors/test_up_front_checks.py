"""What can be known before any model work is said then: metric names, extras a task needs, their settings."""
from __future__ import annotations

import logging

import pytest

from mi_tasks import MiTasksError
from mi_tasks.metrics import inputs as inputs_module

pytest.importorskip("mteb")
from mi_tasks.mteb.sweep import layer_sweep  # noqa: E402

NO_MODEL = "/nope/never-loaded"  # a model path that would fail if anything tried to load it


@pytest.mark.parametrize("metrics, says", [
    ("geomtry", "unknown metric family 'geomtry': known families are"),
    (["geometry", "geomtry"], "unknown metric family 'geomtry'"),
    ([3], "layer_sweep(metrics=...) takes family names, got 3"),
])
def test_layer_sweep_metric_names_checked_before_the_model(metrics, says):
    with pytest.raises(MiTasksError) as e:
        layer_sweep(NO_MODEL, [object()], metrics=metrics)
    assert str(e.value).startswith(says)


def test_layer_sweep_takes_one_family_name_and_checks_its_settings_first():
    with pytest.raises(MiTasksError, match=r"^gride_n1 for layer_sweep\(metrics=\.\.\.\) must be a whole number >= 1"):
        layer_sweep(NO_MODEL, [object()], metrics="geometry", metric_settings={"gride_n1": 0})
    with pytest.raises(MiTasksError, match="model path '/nope/never-loaded' does not exist"):
        layer_sweep(NO_MODEL, [object()], metrics="geometry")  # one string is one family: checks passed


def test_a_missing_extra_is_said_before_the_model(monkeypatch):
    monkeypatch.setattr(inputs_module, "_installed", lambda module: module != "skdim")
    with pytest.raises(MiTasksError, match=r"^layer_sweep\(metrics=\.\.\.\): geometry needs scikit-dimension, which is "
                                           r"not installed: pip install 'mi-tasks\[geometry\]' adds it$"):
        layer_sweep(NO_MODEL, [object()], metrics=["geometry"])


def test_a_suite_without_an_extra_runs_the_rest_and_says_once_what_it_skipped(tiny_dir, tmp_path, monkeypatch, caplog):
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from ..conftest import make_sentences

    monkeypatch.setattr(inputs_module, "_installed", lambda module: module != "skdim")
    (tmp_path / "eval.txt").write_text("\n".join(make_sentences(16, seed=4)))
    md = {"eval_corpus": str(tmp_path / "eval.txt"), "layers": "0,-1"}
    lm = HFLM(pretrained=tiny_dir["gpt2"], device="cpu", batch_size=16, dtype="float32")
    with caplog.at_level(logging.WARNING, logger="mi_tasks"):
        out = lm_eval.simple_evaluate(model=lm, tasks=["mi_entropy", "mi_geometry"], metadata=md,
                                      task_manager=TaskManager(include_defaults=False, metadata=md))
    said = [r.getMessage() for r in caplog.records if "scikit-dimension" in r.getMessage()]
    assert said == ["mi_geometry is skipped (no model work): geometry needs scikit-dimension, which is not installed: "
                    "pip install 'mi-tasks[geometry]' adds it"]
    assert isinstance(out["results"]["mi_entropy"]["prompt_entropy,none"], float)
    assert out["results"]["mi_geometry"]["twonn,none"] == "N/A"
    assert "scikit-dimension" in out["configs"]["mi_geometry"]["mi_results"]["skipped"]
