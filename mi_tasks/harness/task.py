"""lm-eval Task classes for mi-tasks; YAMLs in task_configs/ point at them with ``class: !function``.

A task's documents are the texts of its eval corpus; each becomes one ``mi_hidden_states``
request. The printed table shows headline scalars at ``headline_layer``; the results JSON holds,
under ``configs.<task>.mi_results``, every metric's per-layer curve (layer index and normalized
depth), the prior's scores and the settings (corpora with row counts and hashes, fit, seed,
versions).
"""
from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
from lm_eval.api.instance import Instance
from lm_eval.api.metrics import mean as lm_eval_mean
from lm_eval.api.task import Task
from lm_eval.filters import build_filter_ensemble

from ..data.corpora import load_corpus
from ..metrics.entropy.probe import EntropyResult
from ..errors import MiTasksError
from ..metrics.recoverability.bounds import fano_mi_bits
from ..metrics.recoverability.probe import RecoverabilityResult
from ..metrics.result import LayerResult
from ..metrics.uncertainty import mean_stderr
from .lm_eval_compat import REQUEST_TYPE, install_runtime_patches, manager_metadata, task_config_class
from .runner import handle_requests, register_task
from .settings import TaskSettings
from .stderr_hook import with_stderr

log = logging.getLogger("mi_tasks")

if TYPE_CHECKING:
    from ..metrics.emergence.result import EmergenceResult

install_runtime_patches(handle_requests)
TaskConfig = task_config_class()


class MITask(Task):
    """Base: settings, eval-corpus documents, one request per document, results with curves."""

    VERSION = 1
    OUTPUT_TYPE = REQUEST_TYPE  # type: ignore[assignment]
    METRICS: tuple[str, ...] = ()

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        # Task.__init__ would wrap the config dict wrongly for Python tasks; set its fields here.
        raw = {k: v for k, v in dict(config or {}).items() if k != "class"}
        raw.setdefault("task", type(self).__name__)
        raw["metadata"] = {**(raw.get("metadata") or {}), **manager_metadata()}  # --metadata wins over the YAML
        raw["output_type"] = REQUEST_TYPE
        valid = {f.name for f in dataclasses.fields(TaskConfig)}
        self._config = TaskConfig(**{k: v for k, v in raw.items() if k in valid})
        self._training_docs = self._fewshot_docs = self._instances = None
        self._filters = [build_filter_ensemble("none", [["take_first", None]])]
        self.fewshot_rnd = None
        self.settings = TaskSettings.from_metadata(self.config.metadata, self.config.task)
        self._key = register_task(self)
        self._docs: list[dict[str, str]] | None = None
        self.mi_result: LayerResult | _Skipped | None = None
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
    KIND = "recoverability"
    BEST_KEY = "recall_at_k"
    CORPUS_LEVEL: tuple[str, ...] = ()

    def compute(self, run: Any, texts: list[str]) -> LayerResult | _Skipped:
        """The task's result for the full list of eval texts (``run`` is the handler's model and cache)."""
        raise NotImplementedError

    def per_text(self, result: LayerResult, slot: int, pos: int) -> dict[str, float]:
        """Small per-text values handed to ``process_results`` (and ``--log_samples``)."""
        raise NotImplementedError

    def headline_index(self, num_layers: int) -> int | None:
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

    def headline_slot(self, result: LayerResult) -> int:
        rows = result.layers
        layers = [r["layer"] for r in rows]
        which = self.settings.headline_layer
        if which == "last":
            return len(layers) - 1
        if which == "first":
            return 0
        if which == "best":
            return max(range(len(layers)), key=lambda j: rows[j][self.BEST_KEY])
        wanted = self.headline_index(int(result.meta.get("num_layers", max(layers))))
        if wanted not in layers:
            raise MiTasksError(f"headline_layer {which} is not among the scored layers {layers}")
        return layers.index(wanted)

    def attach_result(self, result: LayerResult | _Skipped):
        """Keep ``result`` for aggregation and the results JSON; return per-text values by position."""
        self.mi_result, self.mi_slot = result, self.headline_slot(result)
        self._mi_results.clear()
        self._mi_results.update(self.results_record())
        return lambda pos: self.per_text(result, self.mi_slot, pos)

    def _headline(self, key: str) -> float:
        return float(self.mi_result.layers[self.mi_slot][key]) if self.mi_result is not None else float("nan")

    def _n_scored(self) -> int:
        meta = self.mi_result.meta
        return int(meta.get("n_eval", meta.get("n_texts", 0)))

    def _corpus_level(self, key: str):
        def agg(items: list[float]) -> float:
            if self.mi_result is None:
                return float("nan")
            if len(items) != self._n_scored():
                raise RuntimeError(f"{key}: {len(items)} per-text values but {self._n_scored()} texts scored")
            return float(self.mi_result.layers[self.mi_slot].get(key, float("nan")))
        return with_stderr(agg, self._corpus_stderr(key))

    def _corpus_stderr(self, key: str):
        """The standard error lm-eval prints for a corpus-level metric, or None for N/A."""
        def stderr(items: list[float]) -> float:
            return float(self.mi_result.layers[self.mi_slot].get(f"{key}_stderr", float("nan")))
        return stderr

    def aggregation(self) -> dict[str, Any]:
        # Per-text metrics use lm-eval's own mean, so lm-eval computes their standard error as for its tasks.
        return {m: (self._corpus_level(m) if m in self.CORPUS_LEVEL else lm_eval_mean) for m in self.METRICS}

    def higher_is_better(self) -> dict[str, bool]:
        return {m: True for m in self.METRICS}

    def results_record(self) -> dict[str, Any]:
        """What the results JSON holds under ``configs.<task>.mi_results`` (curves, prior, meta)."""
        out = self.mi_result.to_dict()
        out["headline_layer"] = int(self.mi_result.layers[self.mi_slot]["layer"])
        out["curves"] = {k: [{"layer": r["layer"], "depth": r["depth"], "value": r[k]} for r in self.mi_result.layers]
                         for k in self.mi_result.layers[0] if k not in ("layer", "depth")}
        corpus = getattr(self, "eval_corpus", None)
        if corpus is not None:
            out["meta"]["eval_corpus"] = {**corpus.describe(), "scored_rows": self._n_scored()}
        return out

    def dump_config(self) -> dict[str, Any]:
        cfg = dict(super().dump_config())
        cfg["mi_settings"] = asdict(self.settings)
        cfg["mi_results"] = self._mi_results
        return cfg


class _RecoverabilityBase(MITask):
    """Tasks scored by token decoders fitted on the train corpus."""

    CORPUS_LEVEL = ("fano_mi_bits", "fano_mi_bits_norm", "fano_mi_bits_empirical")

    def _corpus_stderr(self, key: str):
        if key == "fano_mi_bits_norm":  # the bound over log2|V|: its bootstrap error scales alike
            def inner(items: list[float]) -> float:
                row, v = self.mi_result.layers[self.mi_slot], self.mi_result.meta["vocab_size"]
                return float(row["fano_mi_bits_stderr"]) / math.log2(v)
        else:
            inner = super()._corpus_stderr(key)

        def stderr(items: list[float]) -> float | str:
            """N/A for a vacuous bound (0 by the clamp, nothing measured), never a zero error."""
            row = self.mi_result.layers[self.mi_slot]
            value = float(inner(items))
            return "N/A" if row.get(key.removesuffix("_norm") + "_vacuous") or not math.isfinite(value) else value
        return stderr

    def attach_result(self, result: RecoverabilityResult):
        values = super().attach_result(result)
        row = result.layers[self.mi_slot]
        for key in ("fano_mi_bits", "fano_mi_bits_empirical"):
            if row.get(f"{key}_vacuous") and any(m.startswith(key) for m in self.METRICS):
                log.warning(
                    "%s: %s at layer %d is vacuous (Fano's bound is at most 0 there, printed as 0 with no standard "
                    "error); ba_mi_bits is the tighter bound", self.config.task, key, int(row["layer"]))
        return values

    def compute(self, run: Any, texts: list[str]) -> RecoverabilityResult:
        return run.recoverability(self.settings, texts)

    def per_text(self, result: RecoverabilityResult, slot: int, pos: int) -> dict[str, float]:
        per, prior = result.per_text, len(result.layers)
        return {"layer": int(result.layers[slot]["layer"]),
                "recall": float(per["recall"][slot, pos]), "prior_recall": float(per["recall"][prior, pos]),
                "cosine": float(per["cosine"][slot, pos]),
                "ce_bits": float(per["ce"][slot, pos]), "prior_ce_bits": float(per["ce"][prior, pos])}

    # Per-text values (what --log_samples shows). Fano's bound is a corpus-level quantity: the
    # table's value comes from the mean recall over the scored texts, not from averaging per-text bounds.
    def process_results(self, doc: dict[str, str], results: list[dict[str, float]]) -> dict[str, float]:
        r = results[0]
        meta = self.mi_result.meta if self.mi_result is not None else {"vocab_size": 2, "unigram_entropy_bits": 0.0}
        v, h = meta["vocab_size"], meta["unigram_entropy_bits"]
        fano = fano_mi_bits(1.0 - r["recall"], v)
        values = {"recall_at_k": r["recall"], "lift_recall_at_k": r["recall"] - r["prior_recall"],
                  "cosine": r["cosine"], "ba_mi_bits": r["prior_ce_bits"] - r["ce_bits"], "fano_mi_bits": fano,
                  "fano_mi_bits_norm": fano / math.log2(v), "fano_mi_bits_empirical": fano_mi_bits(1.0 - r["recall"], v, h)}
        return {m: values[m] for m in self.METRICS}


class RecoverabilityTask(_RecoverabilityBase):
    """``mi_recoverability``: token recovery at the headline layer, with the Fano and BA bounds."""

    METRICS = ("recall_at_k", "lift_recall_at_k", "cosine", "fano_mi_bits", "ba_mi_bits")


class FanoTask(_RecoverabilityBase):
    """``mi_fano``: the information bounds alone (uniform and empirical H(t), Barber-Agakov)."""

    METRICS = ("fano_mi_bits", "fano_mi_bits_norm", "fano_mi_bits_empirical", "ba_mi_bits")


class EntropyTask(MITask):
    """``mi_entropy``: prompt and dataset entropy, effective rank and Diff-eRank at the headline layer.

    Per-text rows (``--log_samples``) hold each text's prompt entropy and effective rank; the table's
    values are the corpus-level ones (texts with fewer than two tokens have no prompt entropy).
    ``diff_erank`` is the authors' exp(mean H_random) − exp(mean H_trained); the per-layer curves in
    the results JSON also hold ``diff_erank_mean_of_differences``, ``erank_trained``, ``erank_random``.
    """

    KIND = "entropy"
    BEST_KEY = "prompt_entropy"
    METRICS = ("prompt_entropy", "prompt_effective_rank", "dataset_entropy", "dataset_effective_rank", "diff_erank")
    CORPUS_LEVEL = METRICS

    def compute(self, run: Any, texts: list[str]) -> EntropyResult:
        return run.entropy(self.settings, texts)

    def _corpus_stderr(self, key: str):
        if key in ("prompt_entropy", "prompt_effective_rank"):  # means over texts (NaN ones left out)
            return mean_stderr
        return None  # dataset-level spectra: no cheap interval, lm-eval prints N/A

    def per_text(self, result: EntropyResult, slot: int, pos: int) -> dict[str, float]:
        return {"layer": int(result.layers[slot]["layer"]),
                "prompt_entropy": float(result.per_text["prompt_entropy"][slot, pos]),
                "prompt_effective_rank": float(np.exp(result.per_text["prompt_log_erank"][slot, pos]))}

    def process_results(self, doc: dict[str, str], results: list[dict[str, float]]) -> dict[str, float]:
        r = results[0]
        row = self.mi_result.layers[self.mi_slot] if self.mi_result is not None else {}
        values = {"prompt_entropy": r["prompt_entropy"], "prompt_effective_rank": r["prompt_effective_rank"],
                  "dataset_entropy": row.get("dataset_entropy", float("nan")),
                  "dataset_effective_rank": row.get("dataset_effective_rank", float("nan")),
                  "diff_erank": row.get("diff_erank", float("nan"))}
        return {m: values[m] for m in self.METRICS}


class EmergenceTask(MITask):
    """``mi_emergence``: Information Emergence at the headline layer and its mean over layers.

    IE is a corpus-level quantity (MI across windows): every per-text row carries the corpus value.
    Encoder-only models have no IE (it needs a causal model); for them the task reports NaN with a
    warning instead of failing the whole suite.
    """

    KIND = "emergence"
    BEST_KEY = "ie_bits"
    METRICS = ("ie_bits", "mean_ie_bits", "mi_macro_bits", "mi_micro_bits")
    CORPUS_LEVEL = METRICS

    def compute(self, run: Any, texts: list[str]) -> EmergenceResult | _Skipped:
        from ..states.modeling import is_encoder_only

        if is_encoder_only(run.model.config):
            return _Skipped(f"information emergence needs a causal (decoder) model; "
                            f"{type(run.model).__name__} is encoder-only, so mi_emergence reports NaN")
        return run.emergence(self.settings, texts)

    def headline_slot(self, result: LayerResult | _Skipped) -> int:
        return 0 if isinstance(result, _Skipped) else super().headline_slot(result)

    def per_text(self, result: EmergenceResult | _Skipped, slot: int, pos: int) -> dict[str, float]:
        if isinstance(result, _Skipped):
            return {m: float("nan") for m in self.METRICS}
        row = result.layers[slot]
        return {"layer": int(row["layer"]), "ie_bits": row["ie_bits"], "mean_ie_bits": result.mean_ie,
                "mi_macro_bits": row["mi_macro_bits"], "mi_micro_bits": row["mi_micro_bits"]}

    def process_results(self, doc: dict[str, str], results: list[dict[str, float]]) -> dict[str, float]:
        return {m: float(results[0][m]) for m in self.METRICS}

    def _n_scored(self) -> int:
        return len(self.test_docs())

    def _corpus_level(self, key: str):
        # No standard error: IE is one corpus-level MI estimate whose resampling would refit the estimators.
        def agg(items: list[float]) -> float:
            res = self.mi_result
            if res is None or isinstance(res, _Skipped):
                return float("nan")
            return float(res.mean_ie) if key == "mean_ie_bits" else float(res.layers[self.mi_slot][key])
        return agg

    def results_record(self) -> dict[str, Any]:
        if isinstance(self.mi_result, _Skipped):
            return {"skipped": self.mi_result.reason}
        out = super().results_record()
        out["mean_ie_bits"] = float(self.mi_result.mean_ie)
        return out


class _Skipped:
    """A task result that could not be computed for this model, with the reason (logged once)."""

    layers: list[dict[str, float]] = []
    meta: dict[str, Any] = {}

    def __init__(self, reason: str) -> None:
        self.reason = reason
        log.warning(reason)
