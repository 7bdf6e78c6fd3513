"""Answer mi-tasks requests with the model lm-eval already loaded: every metric family on one pass per corpus.

lm-eval groups requests by type and calls ``lm.<type>(requests)``: ``hf-mi`` defines
``mi_hidden_states`` itself, and for ``--model hf`` mi-tasks adds it to lm-eval's ``LM`` base class
(``lm_eval_compat``), so one call sees every mi-tasks task of the run. The tasks' families are
computed through :class:`~mi_tasks.states.source.StateSource`, whose passes, fits and results
are cached on the ``lm`` object, so every task of ``mi_suite`` shares one eval pass (with every
family's token reductions) and one train pass. Under ``accelerate launch`` the ranks split the
forward passes and exchange pooled states, so every rank computes the single-process numbers.
Other backends get a clear error.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..errors import MiTasksError
from ..states.distributed import ProcessGroup, process_group
from ..states.source import StateSource

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


def source_for(lm: Any) -> StateSource:
    """The passes of the model lm-eval loaded; their cache lives on ``lm``, so later calls reuse it."""
    model, tok = _hf_parts(lm)
    return StateSource(model, tok, batch_size=_batch_size(lm), process_group=_group(lm),
                       cache=lm.__dict__.setdefault("_mi_tasks_cache", {}))


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
    source = source_for(lm)
    for task in tasks.values():  # a bad layer spec or headline_layer fails here, before any pass
        source.layers(task.settings.layers)
        task.headline_state(source.num_layers)
    full = _full_texts(source.group, tasks, local)
    for key in local:  # every family's token reductions join the one eval pass before it runs
        task = tasks[key]
        source.eval_stream(task.settings.pass_settings, [t for _, t in full[key]], task.family.reducers)
    out: list[dict[str, float] | None] = [None] * len(requests)
    for key in local:
        task = tasks[key]
        doc_ids = [d for d, _ in full[key]]
        texts = [t for _, t in full[key]]
        result = task.compute(source, texts)
        where = {d: p for p, d in enumerate(doc_ids)}
        values = task.attach_result(result)
        for (doc_id, _), i in zip(local[key], positions[key]):
            out[i] = values(where[doc_id])
    return out  # type: ignore[return-value]
