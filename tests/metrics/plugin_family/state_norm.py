"""A metric family written outside mi-tasks: the mean norm of the pooled states per layer.

It is what a user adds: this file (the family with its own settings, direction and minimum,
registered here) and a task YAML beside it. No runner, task class, settings table or report of
mi-tasks is edited for it; its settings are task settings wherever settings are taken.
"""
# No `from __future__ import annotations` here: lm-eval executes a YAML's module without entering it in
# sys.modules, and dataclasses then cannot resolve string annotations (an AttributeError at import).
from dataclasses import dataclass

import numpy as np

from mi_tasks.config import Settings, setting
from mi_tasks.harness.task import MITask  # noqa: F401  (the YAML's class)
from mi_tasks.metrics.embedding import EmbeddingScorer, EmbeddingScores
from mi_tasks.metrics.family import Comparability, MetricFamily, MinimumInputs
from mi_tasks.metrics.registry import register_family
from mi_tasks.metrics.result import LayerResult, LayerRow, Measurement, Scores
from mi_tasks.metrics.uncertainty import mean_stderr
from mi_tasks.states.layers import normalized_depth


@dataclass(frozen=True)
class StateNormSettings(Settings):
    """Which norm, and a whole-number scale (a stand-in for any setting a family may need)."""

    norm_order: str = setting("l2", str, "the norm of each pooled state", choices=("l2", "l1"))
    norm_scale: int = setting(1, int, "the norm is multiplied by this", low=1)


class EmbeddingNormScorer(EmbeddingScorer):
    """The mean norm of one embedding per text (an encoder without layers: MTEB's task of this family)."""

    task_name = "MIStateNorm"
    description = "Mean L2 norm of the test texts' embeddings, with its standard error over texts."
    headline = ("mean_state_norm",)
    options = {"norm_scale": 1}

    def score(self, train, test):
        norms = self.settings["norm_scale"] * np.linalg.norm(test.astype(np.float64), axis=1)
        m = Measurement(float(norms.mean()), mean_stderr(norms), "mean over texts", len(norms))
        return EmbeddingScores(Scores({"mean_state_norm": m}), {"state_width": int(test.shape[1])})


@register_family
class StateNormFamily(MetricFamily):
    name = "state_norm"
    settings = StateNormSettings
    table_metrics = ("mean_state_norm",)
    per_text_metrics = ("mean_state_norm",)
    best_key = "mean_state_norm"
    lower_is_better = ("mean_state_norm",)
    minimum = MinimumInputs(texts=3)
    embedding_scorer = EmbeddingNormScorer
    units = {"mean_state_norm": "norm"}
    definitions = {"mean_state_norm": "mean over texts of the pooled hidden state's norm, times norm_scale"}

    @classmethod
    def comparability(cls, settings, meta):
        """A norm grows with the state's width: models of different widths do not compare."""
        width = meta.get("state_width")
        if width is None:
            return None
        return Comparability(f"width {width}", f"{width}-d states", {"state_width": width},
                             "a pooled state's norm grows with its width", "compare models of one hidden width")

    @classmethod
    def row_comparability(cls, row):
        if not isinstance(row.get("state_width"), int):
            return "state_width is missing: a norm cannot be compared without the width of its states"
        return {"state_width": row["state_width"]}

    def compute(self, inputs):
        own: StateNormSettings = inputs.settings
        stream = inputs.evaluation
        norms = np.zeros((len(stream.layers), stream.n_texts))
        p = 2 if own.norm_order == "l2" else 1
        for b in stream.batches():
            norms[:, b.indices] = own.norm_scale * b.states.double().norm(p=p, dim=-1).numpy()
        rows = [LayerRow(layer, normalized_depth(layer, stream.num_layers), {"mean_state_norm": Measurement(
                    float(norms[j].mean()), mean_stderr(norms[j]), "mean over texts", stream.n_texts)})
                for j, layer in enumerate(stream.layers)]
        width = int(b.states.shape[-1])
        result = LayerResult(layers=rows, meta={"n_texts": stream.n_texts, "num_layers": stream.num_layers,
                                                "state_width": width})
        result.per_text = {"mean_state_norm": norms}
        return result
