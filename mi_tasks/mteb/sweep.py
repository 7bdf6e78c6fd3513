"""Layer sweeps: score every requested layer of one model on MTEB tasks in one call.

The model is loaded once and every text runs through it once: a shared
:class:`~mi_tasks.mteb.encoder.PooledStateCache` pools all requested layers per forward pass and
each layer's :class:`~mi_tasks.mteb.encoder.LayerEncoder` reads its slice. ``mteb.evaluate``
then runs once per layer, so each layer's results are ordinary MTEB results (stored apart per
layer when an mteb ResultCache is given).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import MiTasksError
from ..saving import replace_file
from ..metrics.result import NOT_MEASURED, Measurement, strict_json
from ..reporting.results import MTEB_KIND, sweep_row
from ..states.layers import LayerSpec, normalized_depth
from ..states.modeling import load_model
from ..states.settings import PassSettings
from ..states.source import StateSource
from .encoder import LayerEncoder, PooledStateCache, encoder_defaults_for, encoder_pass_settings

log = logging.getLogger("mi_tasks")


def main_scores(model_result: Any, tasks: Iterable[Any]) -> dict[str, tuple[str, float]]:
    """{task name: (main metric, value)} from an mteb ModelResult of ``tasks`` (local tasks are not in mteb's registry)."""
    metric = {t.metadata.name: t.metadata.main_score for t in tasks}
    out = {}
    for tr in model_result.task_results:
        out[tr.task_name] = (metric.get(tr.task_name, "main_score"), float(tr.get_score()))
    return out


@dataclass
class LayerSweepResult:
    """Main score of each task at each layer; ``to_dict`` follows the project's MTEB-layer-sweep schema."""

    model: str
    num_layers: int
    pooling: str
    normalize: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    model_results: dict[int, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        import mteb

        return {"kind": MTEB_KIND, "model": self.model, "num_layers": self.num_layers,
                "pooling": self.pooling, "normalize": self.normalize, "mteb_version": mteb.__version__,
                "mi_tasks_version": __version__, "rows": [dict(r) for r in self.rows]}

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as strict JSON, replacing the file whole (:mod:`mi_tasks.saving`)."""
        return replace_file(path, json.dumps(strict_json(self.to_dict()), indent=2, allow_nan=False))  # NaN: null

    def scores(self, task: str) -> dict[int, float]:
        """{layer: main score} of one task (None where it was not measured)."""
        got = {r["layer"]: r["value"] for r in self.rows if r["task"] == task}
        if not got:
            raise MiTasksError(f"no rows for task {task!r}; tasks in this sweep: {sorted({r['task'] for r in self.rows})}")
        return got

    def table(self) -> str:
        """Plain-text table: one row per layer, one column per task (main score)."""
        tasks = list(dict.fromkeys(r["task"] for r in self.rows))
        layers = sorted({r["layer"] for r in self.rows})
        val = {(r["layer"], r["task"]): r["value"] for r in self.rows}
        metric = {r["task"]: r["metric"] for r in self.rows}
        heads = [f"{t} ({metric[t]})" for t in tasks]
        widths = [max(len(h), 8) for h in heads]
        lines = ["layer  depth  " + "  ".join(h.rjust(w) for h, w in zip(heads, widths))]
        for layer in layers:
            cells = [f"{val[(layer, t)]:.4f}".rjust(w) if val.get((layer, t)) is not None else "-".rjust(w)
                     for t, w in zip(tasks, widths)]  # a value not measured is null in the row (as saved)
            lines.append(f"{layer:5d}  {normalized_depth(layer, self.num_layers):5.2f}  " + "  ".join(cells))
        return "\n".join(lines)


def layer_sweep(
    model_name_or_path: str,
    tasks: Any,
    layers: LayerSpec = "all",
    pooling: str | None = None,
    normalize: bool | None = None,
    output: str | os.PathLike | None = None,
    *,
    max_text_length: int | None = None,
    batch_size: int = 32,
    include_special: bool | None = None,
    mteb_cache: Any = None,
    progress: bool = True,
    model: Any = None,
    tokenizer: Any = None,
    metrics: str | Sequence[str] = (),
    metric_settings: dict[str, Any] | None = None,
    **load_kwargs: Any,
) -> LayerSweepResult:
    """Run ``mteb.evaluate`` at each of ``layers`` (spec as in :func:`mi_tasks.parse_layers`).

    ``mteb_cache``: an ``mteb.ResultCache`` to store each layer's results (apart, per layer); None
    keeps them in memory only. ``output``: also write the sweep JSON there. ``model``/``tokenizer``:
    an already loaded pair (then ``model_name_or_path`` only names it). Settings left as None
    follow the model as in :class:`~mi_tasks.mteb.encoder.LayerEncoder`. ``metrics``: metric families
    (``recoverability``, ``entropy``, ...) computed at the same layers, pooling and length on the eval
    corpus of ``metric_settings`` (task settings under their YAML names), each table metric a row
    (task ``mi:<family>.<metric>``) beside the MTEB scores.
    """
    import mteb

    task_list: Sequence[Any] = [tasks] if not isinstance(tasks, Iterable) else list(tasks)
    if not task_list:
        raise MiTasksError("layer_sweep got no tasks: pass MTEB tasks, e.g. mi_tasks.mteb.stsb_dev()")
    metrics = checked_families(metrics, metric_settings)
    d, load_kwargs = encoder_defaults_for(str(model_name_or_path), load_kwargs)
    normalize = d.normalize if normalize is None else bool(normalize)
    if model is None:
        model, tokenizer = load_model(d.model_folder or str(model_name_or_path), **load_kwargs)
    elif tokenizer is None:
        raise MiTasksError("layer_sweep got a model without its tokenizer: pass tokenizer= too")
    state = PassSettings.given(encoder_pass_settings(d, model, None, pooling, include_special, max_text_length),
                               " for layer_sweep", layers="all" if layers is None else layers)
    pooling, include_special = state.pooling, state.include_special
    # one source for the MTEB rows and the metric rows: the layer spec parsed once, one extractor
    source = StateSource(model, tokenizer, batch_size=batch_size, progress=progress)
    extractor = source.extractor(state)
    cache = PooledStateCache(extractor)
    result = LayerSweepResult(model=str(model_name_or_path), num_layers=extractor.num_layers,
                              pooling=extractor.pooling, normalize=bool(normalize))
    for layer in extractor.layers:
        enc = LayerEncoder(str(model_name_or_path), layer=layer, pooling=pooling, normalize=normalize,
                           include_special=include_special, cache=cache, **load_kwargs)
        res = mteb.evaluate(enc, task_list, cache=mteb_cache, show_progress_bar=False,
                            overwrite_strategy="always" if mteb_cache is not None else "only-missing",
                            encode_kwargs={"batch_size": batch_size, "show_progress_bar": False})
        result.model_results[layer] = res
        for task, (metric, value) in main_scores(res, task_list).items():
            result.rows.append(sweep_row(layer, normalized_depth(layer, extractor.num_layers), task, metric,
                                         Measurement(value)))
    if metrics:
        _metric_rows(result, source, state, metrics, metric_settings or {})
    if output is not None:
        result.save(output)
    return result


def checked_families(metrics: str | Sequence[str], values: dict[str, Any] | None) -> list[str]:
    """``layer_sweep``'s metric families (one name or several) and their settings, checked before any model work."""
    from ..metrics.inputs import missing_extra
    from ..metrics.registry import family_class, known_families
    from ..settings import TaskSettings

    names = [metrics] if isinstance(metrics, str) else list(metrics)
    for name in names:
        if not isinstance(name, str):
            raise MiTasksError(f"layer_sweep(metrics=...) takes family names, got {name!r}; known families: "
                               f"{', '.join(known_families())}")
        missing = missing_extra(family_class(name)())  # an unknown name: one line listing the known families
        if missing:
            raise MiTasksError(f"layer_sweep(metrics=...): {missing}")
    if names:
        TaskSettings.given(None, " for layer_sweep(metrics=...)", **(values or {}))
        passed = sorted(set(values or {}) & set(PassSettings.specs()))
        if passed:  # one pass serves the MTEB rows and the metric rows: its settings are layer_sweep's own
            raise MiTasksError(f"layer_sweep(metric_settings=...) sets {', '.join(passed)}, which the sweep's one pass "
                               f"takes: pass {', '.join(f'{k}=' for k in passed)} to layer_sweep itself")
    return names


def _metric_rows(result: LayerSweepResult, source: StateSource, state: PassSettings, families: Sequence[str],
                 values: dict[str, Any]) -> None:
    """Each family's table metrics at the sweep's layers, as rows ``mi:<family>.<metric>`` (with any standard error),
    from the sweep's own ``source`` and pass settings ``state``: its parsed layers and extractor are reused."""
    from ..data.corpora import load_corpus
    from ..evaluation import evaluate
    from ..metrics.family import Skipped
    from ..metrics.registry import family_class
    from ..settings import TaskSettings

    s = TaskSettings.given(None, " for layer_sweep(metrics=...)", **dataclasses.asdict(state), **values)
    texts = load_corpus(s.eval_corpus, **s.corpus_kwargs("eval")).texts
    got = evaluate(source.model, source.tokenizer, texts, families, s, source=source)
    for name, res in got.items():
        if isinstance(res, Skipped):
            log.warning("layer_sweep: %s", res.reason)
            continue
        fam = family_class(name)
        unmeasured = res.meta.get(NOT_MEASURED) or {}
        for row in res.layers:
            for metric in fam.metrics():
                if metric in row.measurements:
                    m = row.measurement(metric)
                    # a value the family could not measure is saved as null with the reason beside it
                    why = unmeasured.get(metric, {}).get("reason") if not math.isfinite(m.value) else None
                    result.rows.append(sweep_row(row.layer, row.depth, f"mi:{name}.{metric}", metric, m, why or ""))
