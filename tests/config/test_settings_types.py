"""Every setting is checked by its declared type (no per-setting code): a wrong type is one line naming it.

Through ``--metadata`` as lm-eval reads it (``TaskSettings.from_metadata``, and one ``simple_evaluate``
run), and through ``evaluate``'s keywords (``TaskSettings.given``).
"""
from __future__ import annotations

import math

import pytest

from mi_tasks import MiTasksError
from mi_tasks.settings import TaskSettings


@pytest.mark.parametrize("name", sorted(TaskSettings.known()))
@pytest.mark.parametrize("value", [{"a": 1}, [{"a": 1}], {"x"}, math.inf])
def test_every_setting_refuses_a_value_of_another_type(name, value):
    default = getattr(TaskSettings(), name)
    if value is math.inf and (isinstance(default, bool) or not isinstance(default, (int, float))):
        pytest.skip("infinity is tried on numeric settings only")
    with pytest.raises(MiTasksError) as e:
        TaskSettings.from_metadata({name: value}, "mi_recoverability")
    assert str(e.value).startswith(name) or f" {name}" in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


def test_eval_columns_given_a_number_says_what_it_takes():
    with pytest.raises(MiTasksError, match=r"^eval_columns for task mi_recoverability must be comma list of names, "
                                           r"or null \(.*\), got int 3$"):
        TaskSettings.from_metadata({"eval_columns": 3}, "mi_recoverability")


def test_values_of_the_right_type_still_pass():
    s = TaskSettings.from_metadata({"eval_columns": ["text", "label"], "layers": [0, -1], "headline_layer": 2,
                                    "eval_limit": "20", "text_metrics": "false"}, "mi_recoverability")
    assert (s.eval_columns, s.layers, s.headline_layer, s.eval_limit, s.text_metrics) == (
        ("text", "label"), "0,-1", "2", 20, False)


def test_lm_eval_metadata_with_a_wrong_type_stops_before_the_model(tiny_dir):
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    md = {"eval_columns": 3}
    lm = HFLM(pretrained=tiny_dir["gpt2"], device="cpu", batch_size=16, dtype="float32")
    with pytest.raises(MiTasksError, match="eval_columns for task mi_recoverability must be comma list of names"):
        lm_eval.simple_evaluate(model=lm, tasks=["mi_recoverability"], metadata=md,
                                task_manager=TaskManager(include_defaults=False, metadata=md))
