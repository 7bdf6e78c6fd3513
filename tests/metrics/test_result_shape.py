"""The one shape of every family's results: rows of measurements, written and read back by metrics/result.py."""
from __future__ import annotations

import json
import math

import pytest

from mi_tasks.errors import MiTasksError
from mi_tasks.metrics.result import LayerResult, LayerRow, Measurement, rows_from_dict


def _result() -> LayerResult:
    rows = [LayerRow(0, 0.0, {"bound": Measurement(0.0, caveat="vacuous"), "mean": Measurement(1.5, 0.1, "mean over texts", 40, 2),
                              "off": math.nan}, flags={"fallback": True}),
            LayerRow(3, 1.0, {"bound": Measurement(2.0, 0.3, "bootstrap", 40), "mean": 2.5, "off": math.nan})]
    return LayerResult(layers=rows, meta={"num_layers": 3})


def test_rows_read_back_as_written_through_strict_json():
    res = _result()
    text = json.dumps(res.to_dict(), allow_nan=False)  # strict: NaN is null
    back = rows_from_dict(json.loads(text), "r.json")
    assert back == res.layers
    first = back[0]
    assert first.caveat("bound") == "vacuous" and math.isnan(first.stderr("bound")) and first.flags == {"fallback": True}
    assert first.measurement("mean") == Measurement(1.5, 0.1, "mean over texts", 40, 2)
    assert math.isnan(first["off"]) and back[1]["mean"] == 2.5 and not back[1].measurement("mean").has_stderr
    assert "vacuous" in res.table() and res.metric_names() == ["bound", "mean", "off"]


def test_a_family_returning_plain_dict_rows_is_told_the_row_type():
    with pytest.raises(MiTasksError, match=r"row is a dict, not a LayerRow; build each row as LayerRow\(layer, depth"):
        LayerResult(layers=[{"layer": 0, "depth": 0.0, "x": 1.0}])  # type: ignore[list-item]


@pytest.mark.parametrize("record, says", [
    ({"layers": [{"layer": 0, "depth": 0.0, "metrics": {"x": {"value": 1.0, "sterr": 0.1}}}]}, "unknown field(s) sterr"),
    ({"layers": [{"layer": 0, "depth": 0.0, "metrics": {"x": 1.0}}]}, "expected an object, got float"),
    ({"layers": [{"layer": 0, "depth": 0.0, "x": 1.0}]}, "a row without its metrics"),
    ({"layers": [{"depth": 0.0, "metrics": {}}]}, "a row without its layer and depth"),
    ({"curves": {}}, "no per-layer rows"),
])
def test_a_malformed_record_is_one_line_naming_where(record, says):
    with pytest.raises(MiTasksError, match="r.json") as e:
        rows_from_dict(record, "r.json")
    assert says in str(e.value) and "\n" not in str(e.value)
