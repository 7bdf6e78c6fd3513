"""Metric families on a loaded model: the one entry the lm-eval runner, the CLI and MTEB's layer sweep share.

:func:`compute_family` computes one family on a corpus through a
:class:`~mi_tasks.states.source.StateSource` (passes, fits and results cached there);
:func:`evaluate` is the Python API over it: a model, texts, family names and settings under the
task YAML's names, and back one :class:`~mi_tasks.metrics.result.LayerResult` per family.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from . import __version__
from .errors import translate_errors
from .metrics.family import MetricFamily, RunShape, Skipped
from .metrics.inputs import compute_checked
from .metrics.registry import family_class
from .metrics.result import LayerResult
from .settings import TaskSettings
from .states.source import PassInputs, StateSource, texts_digest

log = logging.getLogger("mi_tasks")


def memory_estimate(family: MetricFamily, inputs: PassInputs, s: TaskSettings, own: Any, n_train: int) -> dict[str, int]:
    """The family's own estimate of its peak (bytes by part) for this run's shape, logged before any pass."""
    ev = inputs.evaluation
    shape = RunShape(n_layers=len(inputs.layers), hidden=ev.hidden_size, n_texts=len(ev.texts),
                     max_tokens=s.pass_settings.max_text_length, batch_size=inputs.batch_size, vocab=ev.vocab_size,
                     n_train=n_train, device=str(ev.device))
    parts = family.memory_bytes(shape, own)
    if parts:
        log.info("%s memory estimate: %.2f GiB at its peak (%s)", family.name, sum(parts.values()) / 1024 ** 3,
                 "; ".join(f"{k} {v / 1024 ** 3:.2f} GiB" for k, v in parts.items()))
    return parts


def compute_family(source: StateSource, family: MetricFamily, s: TaskSettings,
                   texts: Sequence[str]) -> LayerResult | Skipped:
    """``family``'s result on ``texts`` under ``s``, computed once per model, settings and texts."""
    texts = list(texts)
    own = s.family(family.name) if family.settings is not None else None
    train = s.corpus("train") if family.needs_train else None
    key = ("result", family.name, s.pass_settings.key(), own.key() if own is not None else "",
           train.key() if train is not None else "", s.seed, texts_digest(texts))

    def make() -> LayerResult | Skipped:
        inputs = source.inputs(family, s.pass_settings, own, train, s.seed, texts)
        memory = memory_estimate(family, inputs, s, own, (train.limit or 0) if train is not None else 0)
        res = compute_checked(family, inputs, texts)
        res.meta.update({"memory_estimate_bytes": memory, "eval_texts_sha256": texts_digest(texts), "mi_tasks_version": __version__,
                         "model_dtype": str(next(source.model.parameters()).dtype),
                         "world_size": getattr(source.group, "world", 1)})
        return res
    return source.memo(key, make)


@translate_errors("evaluate() could not score these texts with this model",
                  "check the texts (a list of strings), the settings and that the model and tokenizer belong together")
def evaluate(model: Any, tokenizer: Any, texts: Sequence[str], families: Sequence[str],
             settings: TaskSettings | None = None, *, batch_size: int = 32, progress: bool = True,
             source: StateSource | None = None, **values: Any) -> dict[str, LayerResult | Skipped]:
    """Each named family on ``texts`` (the eval corpus) with one shared pass.

    ``values`` are settings under their task YAML names (``layers="0:1:0.25"``, ``targets="words"``,
    ``train_corpus=...``), checked as a YAML's are; ``source`` reuses another call's passes and fits.
    """
    s = TaskSettings.given(settings, " for evaluate()", **values)
    source = source or StateSource(model, tokenizer, batch_size=batch_size, progress=progress)
    source.layers(s.layers)  # a bad spec fails before any pass
    fams = [family_class(name)() for name in ([families] if isinstance(families, str) else families)]
    for fam in fams:  # every family's token reductions join the one eval pass before it runs
        source.eval_stream(s.pass_settings, list(texts), fam.reducers)
    return {fam.name: compute_family(source, fam, s, texts) for fam in fams}
