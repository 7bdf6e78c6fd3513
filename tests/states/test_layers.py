import pytest

from mi_tasks import MiTasksError, parse_layers
from mi_tasks.states.layers import normalized_depth


def test_all_and_none():
    assert parse_layers("all", 4) == [0, 1, 2, 3, 4]
    assert parse_layers(None, 2) == [0, 1, 2]


def test_indices_with_negatives_are_sorted_unique():
    assert parse_layers("0,6,-1", 12) == [0, 6, 12]
    assert parse_layers([-1, 12, 3], 12) == [3, 12]
    assert parse_layers(-13, 12) == [0]


def test_normalized_depths_round_to_nearest():
    # 0.25 * 30 = 7.5 and 0.75 * 30 = 22.5 round half to even
    assert parse_layers("0:1:0.25", 30) == [0, 8, 15, 22, 30]
    assert parse_layers("0.5:1:0.5", 6) == [3, 6]
    assert normalized_depth(15, 30) == 0.5


@pytest.mark.parametrize("spec", [13, "0,13", [-14], "a,b", "0:2:0.5", "0:1:0", True, "1:0.5"])
def test_bad_specs_raise_clear_errors(spec):
    with pytest.raises(MiTasksError) as e:
        parse_layers(spec, 12)
    assert "layer" in str(e.value) or "depth" in str(e.value)
