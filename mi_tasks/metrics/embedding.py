"""A family's numbers from one embedding per text: for encoders that give no layers (an API model, a
``SentenceTransformer``'s output), scored where the encoder is evaluated (MTEB's information tasks).

A family that can score a set of embeddings declares an :class:`EmbeddingScorer` subclass in its folder
(``MetricFamily.embedding_scorer``): the task's name and description, its headline metrics, whether it fits on
train texts, the options it takes. The scorer checks its texts when built, before any model work, and
scores arrays; it knows nothing of MTEB (``mi_tasks.mteb.information_tasks`` wraps every family's scorer
as an MTEB task).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..errors import MiTasksError
from .result import Scores


@dataclass
class EmbeddingScores:
    """What a scorer found: its measurements (errors, caveats, counts, flags) and further numbers a score table
    shows beside them (a prior's score, a vocabulary size), which are not per-layer metrics."""

    scores: Scores
    extras: dict[str, float] = field(default_factory=dict)


class EmbeddingScorer(ABC):
    """Scores the embeddings of fixed texts (test, and train where :attr:`needs_train`).

    ``options``: its own keywords and their defaults (entropy's ``bootstrap``); :meth:`check` refuses
    bad texts or options with one line naming the task.
    """

    task_name: ClassVar[str]
    """The task's name where it is evaluated (MTEB's task name, ``MIRecoverability``)."""
    description: ClassVar[str]
    """What the numbers are, in a sentence or two (MTEB's task description)."""
    headline: ClassVar[tuple[str, ...]]
    """The metrics a report shows for it; the first is its main score."""
    needs_train: ClassVar[bool] = False
    """Whether it fits on train texts' embeddings (a supervised task) or scores the test set alone."""
    options: ClassVar[dict[str, Any]] = {}
    """Its own keywords and their defaults."""

    def __init__(self, train_texts: list[str], test_texts: list[str], *, seed: int = 0, name: str = "",
                 **options: Any) -> None:
        self.name = name or self.task_name
        self.check_options(self.name, options)
        self.train_texts, self.test_texts, self.seed = list(train_texts), list(test_texts), int(seed)
        self.settings = {**self.options, **options}
        if self.needs_train and not self.train_texts:
            raise MiTasksError(f"{self.name}: the train corpus has no texts; give a larger one")
        if len(self.test_texts) < 2:
            raise MiTasksError(f"{self.name}: the test corpus has {len(self.test_texts)} texts; give at least 2")
        self.check()

    @classmethod
    def check_options(cls, name: str, options: dict[str, Any]) -> None:
        """Refuse a keyword it does not take (before any corpus is read)."""
        unknown = sorted(set(options) - set(cls.options))
        if unknown:
            takes = ", ".join(cls.options) or "no options"
            raise MiTasksError(f"{name}: unknown option {unknown[0]!r}; it takes {takes}")

    def check(self) -> None:
        """Refuse texts or options its numbers cannot come from (one line naming :attr:`name`)."""

    @abstractmethod
    def score(self, train: np.ndarray | None, test: np.ndarray) -> EmbeddingScores:
        """Scores of the test embeddings (one row per test text), fitted on ``train`` where it needs train texts."""
