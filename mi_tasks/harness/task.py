"""The lm-eval Task class of every mi-tasks task; a task YAML names its metric family.

``class: !function mi_task_classes.MITask`` with ``family: recoverability`` (or any family of
:mod:`mi_tasks.metrics.registry`) and, optionally, ``metric_list`` choosing the printed metrics.
A task's documents are the texts of its eval corpus; each becomes one ``mi_hidden_states``
request. The printed table shows headline scalars at ``headline_layer``; the results JSON holds,
under ``configs.<task>.mi_results``, every layer's measurements (value, standard error, caveat, texts used; layer index and normalized
depth) and the settings (corpora with row counts and hashes, seed, versions).
"""
from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

from lm_eval.api.instance import Instance
from lm_eval.api.metrics import mean as lm_eval_mean
from lm_eval.api.task import Task
from lm_eval.filters import build_filter_ensemble

from ..data.corpora import load_corpus
from ..errors import MiTasksError
from ..metrics.family import MetricFamily, Skipped
from ..metrics.inputs import missing_extra
from ..metrics.registry import family_class
from ..metrics.result import LayerResult
from .lm_eval_compat import REQUEST_TYPE, install_runtime_patches, manager_metadata, task_config_class
from ..evaluation import compute_family
from .runner import handle_requests, register_task
from ..settings import TaskSettings
from .stderr_hook import with_stderr

NOT_MEASURED_CELL = "N/A"  # what lm-eval's table and results JSON hold for a value that was not measured

log = logging.getLogger("mi_tasks")
_SAID_MISSING: set[str] = set()  # tasks whose missing extra was said in this process

install_runtime_patches(handle_requests)
TaskConfig = task_config_class()


class MITask(Task):
    """Base: settings, eval-corpus documents, one request per document, results with curves."""

    VERSION = 1
    OUTPUT_TYPE = REQUEST_TYPE  # type: ignore[assignment]

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        # Task.__init__ would wrap the config dict wrongly for Python tasks; set its fields here.
        raw = {k: v for k, v in dict(config or {}).items() if k != "class"}
        name = raw.get("task", type(self).__name__)
        if "family" not in raw:
            raise MiTasksError(f"task {name}: its YAML must name a metric family (family: recoverability, ...)")
        self.family: MetricFamily = family_class(str(raw["family"]))()
        self.METRICS = self._metrics(name, raw.get("metric_list"))
        raw.setdefault("task", type(self).__name__)
        raw["metadata"] = {**(raw.get("metadata") or {}), **manager_metadata()}  # --metadata wins over the YAML
        raw["output_type"] = REQUEST_TYPE
        valid = {f.name for f in dataclasses.fields(TaskConfig)}
        self._config = TaskConfig(**{k: v for k, v in raw.items() if k in valid})
        self._training_docs = self._fewshot_docs = self._instances = None
        self._filters = [build_filter_ensemble("none", [["take_first", None]])]
        self.fewshot_rnd = None
        self.settings = TaskSettings.from_metadata(self.config.metadata, self.config.task)
        missing = missing_extra(self.family)
        if missing and self.config.task not in _SAID_MISSING:  # said once, when the tasks are built
            _SAID_MISSING.add(self.config.task)
            log.warning("%s is skipped (no model work): %s", self.config.task, missing)
        self._key = register_task(self)
        self._docs: list[dict[str, str]] | None = None
        self.mi_result: LayerResult | Skipped | None = None
        self.mi_slot: int | None = None
        # One dict for the results JSON, filled in place once scored: lm-eval 0.4.9 copies the
        # config (shallowly) before the run, 0.4.10+ after it, and both then see the same numbers.
        self._mi_results: dict[str, Any] = {}

    @property
    def task_name(self) -> str:  # lm-eval 0.4.9 reads it on every task object
        return self.config.task

    def download(self, *args: Any, **kwargs: Any) -> None:  # corpora load lazily in test_docs
        return None

    def has_training_docs(self) -> bool:
        return False

    def has_validation_docs(self) -> bool:
        return False

    def has_test_docs(self) -> bool:
        return True

    def test_docs(self) -> list[dict[str, str]]:
        if self._docs is None:
            corpus = load_corpus(self.settings.eval_corpus, **self.settings.corpus_kwargs("eval"))
            if len(corpus) < 2:  # said in the log and recorded, as a limit larger than the corpus is
                corpus.options["stderr_note"] = (f"{self.config.task}: the eval corpus {corpus.name} has {len(corpus)} "
                                                 "text, too few for a standard error (N/A); use at least 2")
                log.warning("%s", corpus.options["stderr_note"])
            self.eval_corpus = corpus
            self._docs = [{"text": t} for t in corpus.texts]
        return self._docs

    def doc_to_text(self, doc: dict[str, str]) -> str:
        return doc["text"]

    def doc_to_target(self, doc: dict[str, str]) -> str:
        return ""

    def doc_to_prefix(self, doc: dict[str, str]) -> str:
        return ""

    def fewshot_context(self, doc: dict[str, str], num_fewshot: int = 0, *args: Any, **kwargs: Any) -> str:
        return doc["text"]

    def construct_requests(self, doc: dict[str, str], ctx: str, **kwargs: Any) -> Instance:
        return Instance(request_type=REQUEST_TYPE, doc=doc, arguments=(doc["text"], self._key), idx=0,  # type: ignore[arg-type]
                        metadata=kwargs.get("metadata", (self.config.task, None, 1)))

    # ------------------------------------------------------------ results
    def _metrics(self, name: str, metric_list: Any) -> tuple[str, ...]:
        """The printed metrics: the YAML's ``metric_list`` (checked against the family), else the family's."""
        if not metric_list:
            return tuple(self.family.table_metrics)
        chosen = tuple(m["metric"] if isinstance(m, dict) else str(m) for m in metric_list)
        known = self.family.metrics()
        unknown = [m for m in chosen if m not in known]
        if unknown:
            raise MiTasksError(f"task {name}: {', '.join(unknown)} is not a {self.family.name} metric; choose from "
                               f"{', '.join(known)}")
        return chosen

    def compute(self, source: Any, texts: list[str]) -> LayerResult | Skipped:
        """The task's result for the full list of eval texts (``source``: the model's passes and cache)."""
        result = compute_family(source, self.family, self.settings, texts)
        if isinstance(result, Skipped) and result.reason != missing_extra(self.family):  # that one: said at the start
            log.warning(result.reason)
        return result

    def per_text(self, result: LayerResult | Skipped, slot: int, pos: int) -> dict[str, float]:
        """Small per-text values handed to ``process_results`` (and ``--log_samples``)."""
        if isinstance(result, Skipped):
            return {m: float("nan") for m in self.METRICS}
        return self.family.per_text_values(result, slot, pos)

    def process_results(self, doc: dict[str, str], results: list[dict[str, float]]) -> dict[str, float]:
        r = results[0]
        res = self.mi_result
        ok = res is not None and not isinstance(res, Skipped)
        return {m: float(r[m]) if m in r else (self.family.corpus_value(res, self.mi_slot, m) if ok else float("nan"))
                for m in self.METRICS}

    def headline_state(self, num_layers: int) -> int | None:
        """The state index (0..num_layers) an integer ``headline_layer`` names; None for last, first, best.

        Out of range (99, -99 on a 4-state model) is an error naming the valid range, never wrapped
        round. The handler calls it before any pass, so a typo costs no model run.
        """
        which = self.settings.headline_layer
        if which in ("last", "first", "best"):
            return None
        try:
            wanted = int(which)
        except ValueError:
            raise MiTasksError(f"headline_layer {which!r}: use last, first, best or a layer index") from None
        n_states = int(num_layers) + 1
        if not -n_states <= wanted < n_states:
            raise MiTasksError(f"headline_layer {which} is out of range: this model has {n_states} states, so use "
                               f"an index from 0 to {n_states - 1} (or -{n_states} to -1), or last, first, best")
        return wanted % n_states

    def headline_row(self, result: LayerResult | Skipped) -> int:
        """The row of ``result`` the printed table shows (``headline_layer``: last, first, best or a state)."""
        if isinstance(result, Skipped):
            return 0
        rows = result.layers
        layers = [r["layer"] for r in rows]
        which = self.settings.headline_layer
        if which == "last":
            return len(layers) - 1
        if which == "first":
            return 0
        if which == "best":
            key, sign = self.family.best_key, 1.0 if self.family.higher_is_better(self.family.best_key) else -1.0
            return max(range(len(layers)), key=lambda j: sign * rows[j][key])
        wanted = self.headline_state(int(result.meta.get("num_layers", max(layers))))
        if wanted not in layers:
            raise MiTasksError(f"headline_layer {which} is not among the scored layers {layers}")
        return layers.index(wanted)

    def attach_result(self, result: LayerResult | Skipped):
        """Keep ``result`` for aggregation and the results JSON; return per-text values by position."""
        self.mi_result, self.mi_slot = result, self.headline_row(result)
        if not isinstance(result, Skipped):
            for caveat in self.family.warnings(result, self.mi_slot, self.METRICS):
                log.warning("%s: %s", self.config.task, caveat)
        self._mi_results.clear()
        self._mi_results.update(self.results_record())
        return lambda pos: self.per_text(result, self.mi_slot, pos)

    def _n_scored(self) -> int:
        meta = self.mi_result.meta
        return int(meta.get("n_eval", meta.get("n_texts", len(self.test_docs()))))

    def _corpus_level(self, key: str):
        def agg(items: list[float]) -> float | str:
            res = self.mi_result
            if res is None or isinstance(res, Skipped):
                return NOT_MEASURED_CELL
            if len(items) != self._n_scored():
                raise RuntimeError(f"{key}: {len(items)} per-text values but {self._n_scored()} texts scored")
            value = self.family.corpus_value(res, self.mi_slot, key)
            return value if math.isfinite(value) else NOT_MEASURED_CELL  # the reason is logged and in mi_results

        def stderr(items: list[float]) -> float | str:
            res = self.mi_result
            value = None if res is None or isinstance(res, Skipped) else self.family.corpus_stderr(res, self.mi_slot, key)
            # no interval for this metric (lm-eval prints N/A); never a bare NaN in the results JSON
            return value if isinstance(value, (int, float)) and math.isfinite(value) else "N/A"
        return with_stderr(agg, stderr)

    def aggregation(self) -> dict[str, Any]:
        # Per-text metrics use lm-eval's own mean, so lm-eval computes their standard error as for its tasks;
        # a skipped family has no per-text values to average, so every metric reads N/A.
        skipped = isinstance(self.mi_result, Skipped)
        return {m: (lm_eval_mean if m in self.family.per_text_metrics and not skipped else self._corpus_level(m))
                for m in self.METRICS}

    def higher_is_better(self) -> dict[str, bool]:
        return {m: self.family.higher_is_better(m) for m in self.METRICS}

    def results_record(self) -> dict[str, Any]:
        """What the results JSON holds under ``configs.<task>.mi_results``: the result's rows (read back by
        :func:`mi_tasks.metrics.result.rows_from_dict`), the headline layer and meta."""
        if isinstance(self.mi_result, Skipped):
            return {"skipped": self.mi_result.reason}
        out = self.mi_result.to_dict()
        out["headline_layer"] = self.mi_result.layers[self.mi_slot].layer
        corpus = getattr(self, "eval_corpus", None)
        if corpus is not None:
            out["meta"]["eval_corpus"] = {**corpus.describe(), "scored_rows": self._n_scored()}
        return out

    def dump_config(self) -> dict[str, Any]:
        cfg = dict(super().dump_config())
        cfg["mi_settings"] = self.settings.as_dict()
        cfg["mi_results"] = self._mi_results
        return cfg
