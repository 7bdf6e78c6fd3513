"""Matrix entropy of a set of embeddings (no layers), with a seeded bootstrap over texts for its error."""
from __future__ import annotations

import math

import numpy as np

from ...errors import MiTasksError
from ..embedding import EmbeddingScorer, EmbeddingScores
from ..result import Measurement, Scores
from .probe import dataset_entropy


class DatasetEntropyScorer(EmbeddingScorer):
    """The normalised matrix entropy of the test texts' embeddings (main score) and its effective rank.

    ``bootstrap``: resamples of the texts for the standard error (seeded; below 2 there is none).
    """

    task_name = "MIEntropy"
    description = ("Representation entropy of a set of embeddings (mi-tasks): the von Neumann entropy of the trace-"
                   "normalised Gram matrix of the centred, L2-normalised embeddings, divided by ln min(N, D), and its "
                   "effective rank exp(H); a bootstrap over texts gives the standard error.")
    headline = ("dataset_entropy", "dataset_effective_rank")
    options = {"bootstrap": 100}

    def check(self) -> None:
        b = self.settings["bootstrap"]
        if isinstance(b, bool) or not isinstance(b, int) or b < 0:
            raise MiTasksError(f"{self.name}: bootstrap must be a whole number >= 0 resamples, got {b!r}")

    def score(self, train: np.ndarray | None, test: np.ndarray) -> EmbeddingScores:
        n = int(self.settings["bootstrap"])
        h, rank = dataset_entropy(test, 1.0)
        err, how = (math.nan, math.nan), "none: bootstrap switched off (bootstrap < 2)"
        if n >= 2:
            rng = np.random.default_rng(self.seed)
            draws = np.array([dataset_entropy(test[rng.integers(0, len(test), size=len(test))], 1.0) for _ in range(n)])
            err, how = tuple(float(e) for e in draws.std(axis=0, ddof=1)), f"seeded bootstrap over texts ({n} resamples)"
        scores = Scores({"dataset_entropy": Measurement(float(h), err[0], how, len(test)),
                         "dataset_effective_rank": Measurement(float(rank), err[1], how, len(test))})
        return EmbeddingScores(scores, {"bootstrap_resamples": n})
