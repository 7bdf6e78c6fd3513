"""What a metric family is to the rest of mi-tasks: what it asks of the pass, what it returns, what a table shows.

A family (recoverability, entropy, emergence, ...) subclasses :class:`MetricFamily` in its own
folder and is listed once in :mod:`mi_tasks.metrics.registry`. The runners (lm-eval, MTEB's
layer sweep, the CLI, :func:`mi_tasks.evaluate`) hand it the :class:`~mi_tasks.states.source.PassInputs` the pass
layer builds and read back a :class:`~mi_tasks.metrics.result.LayerResult`; none of them has code
for any family by name.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from ..config import Settings
from ..states.reducers import TokenReducer
from ..states.source import PassInputs
from .embedding import EmbeddingScorer
from .result import LayerResult, LayerRow


@dataclass(frozen=True)
class MinimumInputs:
    """What a family's numbers need: ``texts`` (each with at least ``tokens_per_text`` tokens, those the
    pass reduces: special tokens only where ``include_special``), and views that differ (``distinct_views``).
    Checked for every family alike (:mod:`mi_tasks.metrics.inputs`); below it the family is skipped, saying why."""

    texts: int = 1
    tokens_per_text: int = 1
    distinct_views: bool = False


@dataclass(frozen=True)
class RunShape:
    """What a family's memory depends on, known before any pass: layers, width, texts, tokens, vocabulary."""

    n_layers: int
    hidden: int
    n_texts: int
    max_tokens: int = 128
    batch_size: int = 32
    vocab: int = 32_000
    n_train: int = 0
    device: str = "cpu"


@dataclass(frozen=True)
class Comparability:
    """What a run's numbers depend on beyond the family's settings, so runs compare only where it is equal.

    Recoverability's token targets are each model's own tokens: two tokenizers' numbers answer different
    questions although every setting is equal. Reports, cards and leaderboard rows flag runs of one task whose
    ``key`` differs; ``label`` tells a reader which is which, ``columns`` are the fields a card or leaderboard
    row records it in, ``why`` and ``fix`` make the sentence printed where runs differ.
    """

    key: str
    label: str
    columns: dict[str, Any] = field(default_factory=dict)
    why: str = ""
    fix: str = ""


@dataclass
class Skipped:
    """A family that cannot score this model (IE on an encoder): the reason, and NaN everywhere."""

    reason: str
    layers: list[LayerRow] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


class MetricFamily(ABC):
    """One metric family: its settings, its needs from the pass, its computation and its table."""

    name: ClassVar[str]
    settings: ClassVar[type[Settings] | None] = None
    """Its settings family (their flat names are task YAML and ``--metadata`` keys), or None."""
    reducers: ClassVar[tuple[TokenReducer, ...]] = ()
    """Per-text token reductions it reads from the eval pass (:mod:`mi_tasks.states.reducers`)."""
    needs_train: ClassVar[bool] = False
    """Whether it fits on the train corpus' pass."""
    table_metrics: ClassVar[tuple[str, ...]] = ()
    """What lm-eval prints for a task of this family unless the task's ``metric_list`` chooses."""
    extra_metrics: ClassVar[tuple[str, ...]] = ()
    """Further metrics a task's ``metric_list`` may print."""
    per_text_metrics: ClassVar[tuple[str, ...]] = ()
    """Of those, the ones lm-eval averages over texts (from :meth:`per_text_values`); the others are corpus-level."""
    best_key: ClassVar[str] = ""
    """The metric ``headline_layer: best`` picks the best layer by (in its direction, :meth:`higher_is_better`)."""
    lower_is_better: ClassVar[tuple[str, ...]] = ()
    """Metrics where lower is better (lm-eval's ``higher_is_better`` is False for them; True for the rest)."""
    units: ClassVar[dict[str, str]] = {}
    """Each metric's unit as a reader sees it (``bits``, ``fraction``, ``dimensions``); unitless when absent."""
    definitions: ClassVar[dict[str, str]] = {}
    """Each metric in one sentence: what the number is (shown beside it on reports and the leaderboard)."""

    @classmethod
    def higher_is_better(cls, metric: str) -> bool:
        """The metric's direction, the one every reader uses: lm-eval's ``higher_is_better``, ``headline_layer:
        best``, the leaderboard's arrows and ranks, and the layer-choice study's best layer."""
        return metric not in cls.lower_is_better

    row_settings: ClassVar[tuple[str, ...]] = ()
    """Its settings a reader must see beside its numbers (cards, leaderboard rows and legends): two rows
    compare only where they are equal."""
    overview_metrics: ClassVar[tuple[str, ...]] = ()
    """Metrics the report's overview figure shows a panel of (beside one headline per other task)."""
    suite_settings: ClassVar[dict[str, Any]] = {}
    """Values the main job (``mi-tasks suite``) gives its settings: what makes models compare, or the suite
    run in minutes (task YAMLs keep the defaults)."""

    embedding_scorer: ClassVar[type[EmbeddingScorer] | None] = None
    """How it scores one embedding per text (an encoder without layers; MTEB's information tasks), or None."""

    minimum: ClassVar[MinimumInputs] = MinimumInputs()
    """The least input its numbers mean something on (below it: skipped, with the reason)."""
    requires: ClassVar[tuple[tuple[str, str, str], ...]] = ()
    """(module, package, mi-tasks extra) it imports beyond the core install; missing: skipped, saying what to install."""

    @classmethod
    def minimum_inputs(cls, settings: Settings | None) -> MinimumInputs:
        """Its minimum under ``settings`` (its own settings family): ``minimum`` unless a setting raises it."""
        return cls.minimum

    @classmethod
    def metrics(cls) -> tuple[str, ...]:
        """Every metric it reports per layer: the printed ones, then the ones a ``metric_list`` may add."""
        return (*cls.table_metrics, *cls.extra_metrics)

    @abstractmethod
    def compute(self, inputs: PassInputs) -> LayerResult | Skipped:
        """The per-layer result of the eval corpus (:class:`~mi_tasks.metrics.result.LayerRow` each with its measurements)."""

    @classmethod
    def comparability(cls, settings: Mapping[str, Any], meta: Mapping[str, Any]) -> Comparability | None:
        """What a run's numbers depend on beyond its ``row_settings``, read from the run's settings and result
        meta; None where equal settings make runs compare (the default)."""
        return None

    @classmethod
    def row_comparability(cls, row: Mapping[str, Any]) -> dict[str, Any] | str:
        """A leaderboard row's fields that must equal another model's for the two to compare (beyond its
        ``row_settings``), or a phrase saying what in the row makes that unknowable. ``{}`` by default."""
        return {}

    def memory_bytes(self, shape: RunShape, settings: Any) -> dict[str, int]:
        """Bytes it holds at its peak, by part ("held": all layers; "per layer": one layer's transient work).

        Each family states its own estimate in its folder, so a run can print its peak before it
        starts; ``{}`` when it has none.
        """
        return {}

    def per_text_values(self, result: LayerResult, slot: int, pos: int) -> dict[str, float]:
        """Small per-text values of text ``pos`` at row ``slot`` (lm-eval's per-document results, ``--log_samples``)."""
        per = getattr(result, "per_text", None) or {}
        return {m: float(per[m][slot, pos]) for m in self.per_text_metrics if m in per}

    def corpus_value(self, result: LayerResult, slot: int, metric: str) -> float:
        """A corpus-level metric at row ``slot``."""
        return result.layers[slot].measurement(metric).value

    def corpus_stderr(self, result: LayerResult, slot: int, metric: str) -> float | str | None:
        """Its standard error; "N/A" where its value has a caveat (no measurement, so no error) or none could be
        estimated (the reason is logged and in the row); None where the family gives none for this metric."""
        m = result.layers[slot].measurement(metric)
        if m.caveat or (math.isnan(m.stderr) and m.stderr_method):
            return "N/A"
        return None if math.isnan(m.stderr) else float(m.stderr)

    def warnings(self, result: LayerResult, slot: int, metrics: tuple[str, ...]) -> list[str]:
        """Caveats to log about the headline row (a vacuous bound)."""
        return []
