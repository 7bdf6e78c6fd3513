"""Answer mi-tasks requests with the model lm-eval already loaded: one extraction pass per corpus.

lm-eval groups requests by type and calls ``lm.<type>(requests)``: ``hf-mi`` defines
``mi_hidden_states`` itself, and for ``--model hf`` mi-tasks adds it to lm-eval's ``LM`` base class
(``lm_eval_compat``), so one call sees every mi-tasks task of the run. For Hugging Face backends it reads the backbone's hidden states (no LM head), fits each
train corpus once per model and settings, runs each eval corpus once (with token spectra when an
entropy task reads it too) and caches passes, fits and results on the ``lm`` object, so every
task of ``mi_suite`` reuses them. Under ``accelerate launch`` the ranks split the forward passes
and exchange pooled states, so every rank computes the single-process numbers. Other backends
get a clear error.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, TypeVar

from .. import __version__
from ..data.corpora import load_corpus
from ..states.distributed import ProcessGroup, process_group
from ..metrics.entropy.probe import EntropyProbe
from ..errors import MiTasksError
from ..states.extraction import HiddenStateExtractor, model_num_layers
from ..states.layers import parse_layers
from ..states.modeling import hidden_state_module
from ..metrics.recoverability.probe import RecoverabilityProbe

if TYPE_CHECKING:
    from ..metrics.emergence.result import EmergenceResult
    from ..metrics.entropy.probe import EntropyResult
    from ..metrics.recoverability.probe import RecoverabilityResult
    from ..metrics.result import LayerResult
    from .settings import TaskSettings

_TASKS: dict[str, Any] = {}
R = TypeVar("R", bound="LayerResult")  # _stamp hands back the result it was given


def register_task(task: Any) -> str:
    """Give a task a key that its requests carry, so the handler finds its settings."""
    key = f"{task.config.task}@{id(task):x}"
    _TASKS[key] = task
    return key


def _hf_parts(lm: Any) -> tuple[Any, Any]:
    from transformers import PreTrainedModel

    model, tok = getattr(lm, "model", None), getattr(lm, "tokenizer", None)
    if not isinstance(model, PreTrainedModel) or tok is None:
        raise MiTasksError(
            f"the {type(lm).__name__} backend gives no hidden states; run mi-tasks tasks with "
            "`lm_eval --model hf-mi` (any Hugging Face architecture) or `--model hf` (causal-LM classes), gguf_file= too. "
            "API backends (openai-completions, local-completions, ...) and vLLM are not supported"
        )
    return model, tok


def _batch_size(lm: Any) -> int:
    bs = getattr(lm, "batch_size_per_gpu", None) or getattr(lm, "batch_size", None) or 32
    try:
        return max(1, int(bs))
    except (TypeError, ValueError):  # "auto": lm-eval has not sized a batch for this request type
        return 32


def _group(lm: Any) -> ProcessGroup:
    world = int(getattr(lm, "world_size", 1) or 1)
    return process_group(int(getattr(lm, "rank", 0) or 0), world)


def _digest(texts: list[str]) -> str:
    return hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()


class _Run:
    """The model, its cache and process group, as one handler call sees them."""

    def __init__(self, lm: Any) -> None:
        self.model, self.tokenizer = _hf_parts(lm)
        self.group = _group(lm)
        self.batch_size = _batch_size(lm)
        self.cache: dict[Any, Any] = lm.__dict__.setdefault("_mi_tasks_cache", {})
        self.num_layers = model_num_layers(self.model)

    def layer_indices(self, s: "TaskSettings") -> list[int]:
        """The task's ``layers`` spec parsed once for this model: the extractor and IE both take these indices."""
        key = ("layers", s.layers)
        if key not in self.cache:
            self.cache[key] = parse_layers(s.layers, self.num_layers)
        return list(self.cache[key])

    def extractor(self, s: "TaskSettings") -> HiddenStateExtractor:
        # every pass setting (include_special too: it changes the tokens pooling and spectra use) is in the key
        states = s.states
        key = ("extractor", states.key())
        if key not in self.cache:
            backbone = hidden_state_module(self.model)  # hidden states without the LM head's cost
            self.cache[key] = HiddenStateExtractor(backbone, self.tokenizer, layers=self.layer_indices(s),
                                                   pooling=states.pooling, max_text_length=states.max_text_length,
                                                   include_special=states.include_special,
                                                   batch_size=self.batch_size, process_group=self.group)
        return self.cache[key]

    def eval_pass(self, s: "TaskSettings", texts: list[str], spectra: bool) -> tuple[list[Any], Any]:
        """Pooled states (and token spectra if asked) of ``texts``: one pass shared by every task."""
        ex = self.extractor(s)
        key = ("pass", s.states.key(), _digest(texts))
        hit = self.cache.get(key)
        if hit is None or (spectra and not hit[2]):
            enc = ex.encode(texts, "eval corpus")
            batches = list(ex.iter_batches(enc, desc="eval states", spectra=spectra))
            hit = self.cache[key] = (batches, enc, spectra)
        return hit[0], hit[1]

    def recoverability(self, s: "TaskSettings", texts: list[str]) -> "RecoverabilityResult":
        ex = self.extractor(s)
        fit_key = ("fit", s.train_key())
        if fit_key not in self.cache:
            train = load_corpus(s.train_corpus, **s.corpus_kwargs("train"))
            probe = RecoverabilityProbe(**asdict(s.recoverability), seed=s.seed)  # budget 0 plans as None: no bound
            self.cache[fit_key] = probe.fit(ex, train)
        probe = self.cache[fit_key]
        res_key = ("recoverability", fit_key, _digest(texts))
        if res_key not in self.cache:
            batches, enc = self.eval_pass(s, texts, spectra=False)
            res = probe.score_stream(iter(batches), len(enc), texts=texts)
            res.meta["eval_truncated"] = enc.n_truncated
            self.cache[res_key] = self._stamp(res, texts)
        return self.cache[res_key]

    def entropy(self, s: "TaskSettings", texts: list[str]) -> "EntropyResult":
        res_key = ("entropy", s.entropy_key(), _digest(texts))
        if res_key not in self.cache:
            probe = EntropyProbe(**asdict(s.entropy), seed=s.seed)
            batches, enc = self.eval_pass(s, texts, spectra=True)
            res = probe.score_pass(self.extractor(s), texts, enc, batches)
            self.cache[res_key] = self._stamp(res, texts)
        return self.cache[res_key]

    def emergence(self, s: "TaskSettings", texts: list[str]) -> "EmergenceResult":
        """IE on windows of ``texts``: its own passes (windows, lone tokens), on the model already loaded.

        Every rank computes it whole (same seed, same numbers): IE's passes are short next to its
        estimator training, which is not split.
        """
        from ..metrics.emergence.probe import EmergenceProbe

        res_key = ("emergence", s.emergence_key(), _digest(texts))
        if res_key not in self.cache:
            probe = EmergenceProbe(**asdict(s.emergence), layers=self.layer_indices(s), batch_size=self.batch_size,
                                   seed=s.seed)
            self.cache[res_key] = self._stamp(probe.score(self.model, self.tokenizer, texts), texts)
        return self.cache[res_key]

    def _stamp(self, res: R, texts: list[str]) -> R:
        res.meta.update({"eval_texts_sha256": _digest(texts), "mi_tasks_version": __version__,
                         "model_dtype": str(next(self.model.parameters()).dtype), "world_size": self.group.world})
        return res


def _full_texts(group: ProcessGroup, tasks: dict[str, Any], local: dict[str, list[tuple[int, str]]]
                ) -> dict[str, list[tuple[int, str]]]:
    """Each task's (doc_id, text) pairs over all ranks, sorted by doc id, duplicates (padding) dropped."""
    names = {key: tasks[key].config.task for key in local}
    mine = {names[key]: pairs for key, pairs in local.items()}
    merged: dict[str, dict[int, str]] = defaultdict(dict)
    for part in group.all_gather(mine):
        for name, pairs in part.items():
            for doc_id, text in pairs:
                merged[name][doc_id] = text
    return {key: sorted(merged[names[key]].items()) for key in local}


def handle_requests(lm: Any, requests: list[Any]) -> list[dict[str, float]]:
    """``LM.mi_hidden_states``: one small dict of per-text values per request."""
    local: dict[str, list[tuple[int, str]]] = defaultdict(list)
    positions: dict[str, list[int]] = defaultdict(list)
    for i, req in enumerate(requests):
        key = req.args[1]
        doc_id = getattr(req, "doc_id", None)
        local[key].append((i if doc_id is None else int(doc_id), req.args[0]))
        positions[key].append(i)
    tasks = {}
    for key in local:
        if key not in _TASKS:
            raise MiTasksError(f"request for unknown mi-tasks task {key!r}")
        tasks[key] = _TASKS[key]
    run = _Run(lm)
    for task in tasks.values():  # a bad layer spec or headline_layer fails here, before any pass
        run.layer_indices(task.settings)
        task.headline_index(run.num_layers)
    full = _full_texts(run.group, tasks, local)
    # Entropy tasks first: their eval pass keeps token spectra, which recoverability can reuse.
    order = sorted(local, key=lambda k: 0 if tasks[k].KIND == "entropy" else 1)
    out: list[dict[str, float] | None] = [None] * len(requests)
    for key in order:
        task = tasks[key]
        doc_ids = [d for d, _ in full[key]]
        texts = [t for _, t in full[key]]
        result = task.compute(run, texts)
        where = {d: p for p, d in enumerate(doc_ids)}
        values = task.attach_result(result)
        for (doc_id, _), i in zip(local[key], positions[key]):
            out[i] = values(where[doc_id])
    return out  # type: ignore[return-value]
