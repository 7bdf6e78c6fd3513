"""Metric families on a loaded model: the one entry the lm-eval runner, the CLI and MTEB's layer sweep share.

:func:`compute_family` computes one family on a corpus through a
:class:`~mi_tasks.states.source.StateSource` (passes, fits and results cached there);
:func:`evaluate` is the Python API over it: a model, texts, family names and settings under the
task YAML's names, and back one :class:`~mi_tasks.metrics.result.LayerResult` per family.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import __version__
from .errors import translate_errors
from .metrics.family import MetricFamily, Skipped
from .metrics.inputs import compute_checked
from .metrics.registry import family_class
from .metrics.result import LayerResult
from .settings import TaskSettings
from .states.source import StateSource, texts_digest


def compute_family(source: StateSource, family: MetricFamily, s: TaskSettings,
                   texts: Sequence[str]) -> LayerResult | Skipped:
    """``family``'s result on ``texts`` under ``s``, computed once per model, settings and texts."""
    texts = list(texts)
    own = s.family(family.name) if family.settings is not None else None
    train = s.corpus("train") if family.needs_train else None
    key = ("result", family.name, s.states.key(), own.key() if own is not None else "",
           train.key() if train is not None else "", s.seed, texts_digest(texts))

    def make() -> LayerResult | Skipped:
        res = compute_checked(family, source.inputs(family, s.states, own, train, s.seed, texts), texts)
        res.meta.update({"eval_texts_sha256": texts_digest(texts), "mi_tasks_version": __version__,
                         "model_dtype": str(next(source.model.parameters()).dtype),
                         "world_size": getattr(source.group, "world", 1)})
        return res
    return source.memo(key, make)


@translate_errors("evaluate() could not score these texts with this model",
                  "check the texts (a list of strings), the settings and that the model and tokenizer belong together")
def evaluate(model: Any, tokenizer: Any, texts: Sequence[str], families: Sequence[str] = ("recoverability",),
             settings: TaskSettings | None = None, *, batch_size: int = 32, progress: bool = True,
             source: StateSource | None = None, **values: Any) -> dict[str, LayerResult | Skipped]:
    """Each named family on ``texts`` (the eval corpus) with one shared pass.

    ``values`` are settings under their task YAML names (``layers="0:1:0.25"``, ``targets="words"``,
    ``train_corpus=...``), checked as a YAML's are; ``source`` reuses another call's passes and fits.
    """
    s = TaskSettings.given(settings, " for evaluate()", **values)
    source = source or StateSource(model, tokenizer, batch_size=batch_size, progress=progress)
    source.layers(s.layers)  # a bad spec fails before any pass
    fams = [family_class(name)() for name in families]
    for fam in fams:  # every family's token reductions join the one eval pass before it runs
        source.eval_stream(s.states, list(texts), fam.reducers)
    return {fam.name: compute_family(source, fam, s, texts) for fam in fams}
