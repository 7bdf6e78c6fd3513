"""One direction per metric: lm-eval's ``higher_is_better``, ``headline_layer: best``, the layer-choice study
and the leaderboard page all read it from the metric's family."""
from __future__ import annotations

import pytest

from mi_tasks.metrics.registry import builtin_families, metric_direction
from mi_tasks.settings import TaskSettings
from mi_tasks.reporting.layer_choice_report import direction_of
from mi_tasks.reporting.leaderboard.page import metric_facts

TASKS = ["mi_recoverability", "mi_fano", "mi_entropy", "mi_emergence", "mi_geometry", "mi_views"]


@pytest.fixture(scope="module")
def lm_eval_tasks(tmp_path_factory):
    from lm_eval.tasks import TaskManager

    from mi_tasks.harness.lm_eval_compat import load_tasks

    folder = tmp_path_factory.mktemp("corpus")
    (folder / "t.txt").write_text("\n".join(f"text number {i} about things" for i in range(40)) + "\n")
    md = {"train_corpus": str(folder / "t.txt"), "eval_corpus": str(folder / "t.txt")}
    return load_tasks(TaskManager(include_defaults=False, metadata=md), TASKS)


def test_every_reader_takes_the_family_direction(lm_eval_tasks):
    facts = metric_facts()
    checked = 0
    for fam in builtin_families():
        for metric in fam.metrics():
            higher = fam.higher_is_better(metric)
            assert metric_direction(metric) is higher, metric
            assert direction_of(metric) == ("max" if higher else "min"), metric
            assert facts[metric]["higher_is_better"] is higher, metric
            checked += 1
    for name, task in lm_eval_tasks.items():
        for metric, higher in task.higher_is_better().items():
            assert higher is task.family.higher_is_better(metric), (name, metric)
            checked += 1
    assert checked > 30


def test_the_conventions_the_docs_state():
    """docs/geometry.md: lower curvature, InfoNCE loss and prompt entropy count as better; the rest higher."""
    lower = {m for m in ("curvature", "infonce", "prompt_entropy", "prompt_effective_rank")}
    for fam in builtin_families():
        for metric in fam.metrics():
            assert fam.higher_is_better(metric) is (metric not in lower), metric


def test_headline_best_follows_the_direction(lm_eval_tasks):
    from mi_tasks.metrics.result import LayerResult, LayerRow

    task = lm_eval_tasks["mi_entropy"]
    rows = [LayerRow(i, i / 2, {"prompt_entropy": v}) for i, v in enumerate([0.9, 0.4, 0.7])]
    task.settings = TaskSettings.given(task.settings, headline_layer="best")
    result = LayerResult(layers=rows, meta={"num_layers": 2})
    assert task.headline_row(result) == 1  # the lowest prompt entropy
