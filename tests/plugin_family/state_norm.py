"""A metric family written outside mi-tasks: the mean L2 norm of the pooled states per layer.

It is what a user adds: this file (the family, registered here) and a task YAML beside it. No
runner, task class or report of mi-tasks is edited for it.
"""
from __future__ import annotations

import numpy as np

from mi_tasks.harness.task import MITask  # noqa: F401  (the YAML's class)
from mi_tasks.metrics.family import MetricFamily
from mi_tasks.metrics.registry import register_family
from mi_tasks.metrics.result import LayerResult
from mi_tasks.metrics.uncertainty import mean_stderr
from mi_tasks.states.layers import normalized_depth


@register_family
class StateNormFamily(MetricFamily):
    name = "state_norm"
    table_metrics = ("mean_state_norm",)
    per_text_metrics = ("mean_state_norm",)
    best_key = "mean_state_norm"
    units = {"mean_state_norm": "L2 norm"}
    definitions = {"mean_state_norm": "mean over texts of the pooled hidden state's L2 norm"}

    def compute(self, inputs):
        stream = inputs.evaluation
        norms = np.zeros((len(stream.layers), stream.n_texts))
        for b in stream.batches():
            norms[:, b.indices] = b.states.double().norm(dim=-1).numpy()
        rows = [{"layer": layer, "depth": normalized_depth(layer, stream.num_layers),
                 "mean_state_norm": float(norms[j].mean()), "mean_state_norm_stderr": mean_stderr(norms[j])}
                for j, layer in enumerate(stream.layers)]
        result = LayerResult(layers=rows, meta={"n_texts": stream.n_texts, "num_layers": stream.num_layers})
        result.per_text = {"mean_state_norm": norms}
        return result
