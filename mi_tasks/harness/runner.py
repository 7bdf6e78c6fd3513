"""Answer mi-tasks requests with the model lm-eval already loaded: one extraction pass per corpus.

lm-eval groups requests by type and calls ``lm.<type>(requests)``; mi-tasks adds the type
``mi_hidden_states`` to lm-eval's ``LM`` base class. For Hugging Face backends it reads the
backbone's hidden states (no LM head), fits each train corpus once per model and settings, scores
each eval corpus once, and caches both on the ``lm`` object so every task of ``mi_suite`` reuses
the same pass. Other backends get a clear error.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..corpora import load_corpus
from ..errors import MiTasksError
from ..extraction import HiddenStateExtractor
from ..recoverability import RecoverabilityProbe, RecoverabilityResult

if TYPE_CHECKING:
    from .settings import TaskSettings

REQUEST_TYPE = "mi_hidden_states"
_TASKS: dict[str, Any] = {}


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
            "`lm_eval --model hf` (Hugging Face causal or masked models, gguf_file= too). "
            "API backends (openai-completions, local-completions, ...) and vLLM are not supported"
        )
    return model, tok


def _batch_size(lm: Any) -> int:
    bs = getattr(lm, "batch_size_per_gpu", None) or getattr(lm, "batch_size", None) or 32
    try:
        return max(1, int(bs))
    except (TypeError, ValueError):  # "auto": lm-eval has not sized a batch for this request type
        return 32


def _headline_slot(result: RecoverabilityResult, which: str) -> int:
    layers = [r["layer"] for r in result.layers]
    if which == "last":
        return len(layers) - 1
    if which == "first":
        return 0
    if which == "best":
        return max(range(len(layers)), key=lambda j: result.layers[j]["recall_at_k"])
    try:
        wanted = int(which)
    except ValueError:
        raise MiTasksError(f"headline_layer {which!r}: use last, first, best or a layer index") from None
    wanted = wanted % (result.meta.get("num_layers", max(layers)) + 1)
    if wanted not in layers:
        raise MiTasksError(f"headline_layer {which} is not among the scored layers {layers}")
    return layers.index(wanted)


def score_texts(lm: Any, settings: "TaskSettings", texts: list[str]) -> RecoverabilityResult:
    """Recoverability result for ``texts`` under ``settings``, computed at most once per lm."""
    if getattr(lm, "world_size", 1) > 1:
        raise MiTasksError(
            "mi-tasks does not yet reduce its statistics across processes; run lm_eval in one process "
            "(no accelerate launch) so results are not computed from one rank's share"
        )
    model, tok = _hf_parts(lm)
    cache = lm.__dict__.setdefault("_mi_tasks_cache", {})
    ex_key = ("extractor", settings.layers, settings.pooling, settings.max_text_length)
    if ex_key not in cache:
        backbone = getattr(model, "base_model", model)  # hidden states without the LM head's cost
        cache[ex_key] = HiddenStateExtractor(backbone, tok, layers=settings.layers, pooling=settings.pooling,
                                             max_length=settings.max_text_length, batch_size=_batch_size(lm))
    ex = cache[ex_key]
    fit_key = ("fit", settings.train_key())
    if fit_key not in cache:
        train = load_corpus(settings.train_corpus, **settings.corpus_kwargs("train"))
        probe = RecoverabilityProbe(fit=settings.fit, seed=settings.seed, text_metrics=settings.text_metrics,
                                    calibration_fraction=settings.calibration_fraction)
        cache[fit_key] = probe.fit(ex, train)
    probe = cache[fit_key]
    digest = hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()
    res_key = ("result", fit_key, digest)
    if res_key not in cache:
        res = probe.score(ex, texts)
        res.meta.update({"eval_texts_sha256": digest, "mi_tasks_version": __version__,
                         "model_dtype": str(next(model.parameters()).dtype)})
        cache[res_key] = res
    return cache[res_key]


def handle_requests(lm: Any, requests: list[Any]) -> list[dict[str, float]]:
    """``LM.mi_hidden_states``: one small dict of scores per request (the text at the headline layer)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, req in enumerate(requests):
        groups[req.args[1]].append(i)
    out: list[dict[str, float] | None] = [None] * len(requests)
    for key, idx in groups.items():
        task = _TASKS.get(key)
        if task is None:
            raise MiTasksError(f"request for unknown mi-tasks task {key!r}")
        texts = [requests[i].args[0] for i in idx]
        result = score_texts(lm, task.settings, texts)
        slot = _headline_slot(result, task.settings.headline_layer)
        task.attach_result(result, slot)
        per, prior = result.per_text, len(result.layers)
        for pos, i in enumerate(idx):
            out[i] = {"layer": int(result.layers[slot]["layer"]),
                      "recall": float(per["recall"][slot, pos]), "prior_recall": float(per["recall"][prior, pos]),
                      "cosine": float(per["cosine"][slot, pos]),
                      "ce_bits": float(per["ce"][slot, pos]), "prior_ce_bits": float(per["ce"][prior, pos])}
    return out  # type: ignore[return-value]


def install_request_handler() -> None:
    """Give lm-eval's LM base class the ``mi_hidden_states`` request method (idempotent)."""
    from lm_eval.api.model import LM

    if getattr(LM, REQUEST_TYPE, None) is None:
        setattr(LM, REQUEST_TYPE, lambda self, requests: handle_requests(self, requests))
