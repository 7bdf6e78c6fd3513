"""Whether a family's input can support its numbers: one check for every family, built-in or a user's.

A family declares what its numbers need (:class:`MinimumInputs`, the class attribute ``minimum``);
:func:`compute_checked` holds every family to it the same way:

- a package it needs that is not installed (``requires``): skipped, naming the extra that adds it;
- too few texts, or too few texts with enough tokens (from the tokenizer, before any model pass of
  the family): the family is skipped, with one line saying what it needs and what it got;
- views that are all the same texts (a family that needs views which differ): skipped before the
  second view's pass;
- a NaN or infinity of one of its metrics (``metrics()``): kept out of every number (``null`` in results files, ``N/A``
  in lm-eval's table), logged once per metric naming family, metric and layers, and recorded with
  its reason in ``meta["not_measured"]``, which tables, reports and cards show as a flag.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

from .family import MetricFamily, MinimumInputs, Skipped
from .result import NOT_MEASURED, LayerResult, Measurement

log = logging.getLogger("mi_tasks")


class _ViewsIdentical(Exception):
    """Raised inside a family's compute when it asks for a view that repeats an earlier one."""


def _tokens(stream: Any) -> list[int]:
    enc = stream.encoded
    if stream.extractor.include_special:
        return [len(ids) for ids in enc.input_ids]
    return [sum(1 for m in mask if not m) for mask in enc.special_masks]


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def missing_extra(family: MetricFamily) -> str | None:
    """What ``family`` needs installed and is not (with the pip command that adds it), or None."""
    for module, package, extra in getattr(family, "requires", ()):
        if not _installed(module):
            return f"{family.name} needs {package}, which is not installed: pip install 'mi-tasks[{extra}]' adds it"
    return None


def _minimum(family: MetricFamily, settings: Any) -> MinimumInputs:
    declared = getattr(family, "minimum_inputs", None)
    return declared(settings) if declared is not None else MinimumInputs()


def shortfall(family: MetricFamily, texts: Sequence[str], stream: Any = None, settings: Any = None) -> str | None:
    """Why ``texts`` cannot support ``family`` (its declared minimum), or None; ``stream`` adds the token check."""
    need = _minimum(family, settings)
    name, distinct = family.name, len(set(texts))
    if distinct < need.texts:
        got = f"{distinct} distinct" if distinct < len(texts) else str(distinct)
        return (f"{name} needs at least {need.texts} distinct eval texts, got {got}: its numbers would not be "
                "measured but made by the shortage; use more texts (eval_limit, a larger eval_corpus)")
    if stream is not None and need.tokens_per_text > 1:
        enough = sum(1 for n in _tokens(stream) if n >= need.tokens_per_text)
        if enough < need.texts:
            return (f"{name} needs at least {need.texts} eval texts of {need.tokens_per_text}+ tokens, got {enough} "
                    f"of {len(texts)}: use longer texts (or max_text_length above {need.tokens_per_text})")
    return None


def _guard_views(stream: Callable[[Sequence[str], str], Any], name: str) -> Callable[[Sequence[str], str], Any]:
    seen: list[list[str]] = []

    def guarded(texts: Sequence[str], what: str) -> Any:
        texts = list(texts)
        if any(texts == earlier for earlier in seen):
            raise _ViewsIdentical(f"{name} needs views that differ, but {what} is the same texts as an earlier view "
                                  "(nothing was augmented): its numbers would compare a text with itself; raise "
                                  "augment_word_p, or use texts with words the augmenter changes (4+ letters)")
        seen.append(texts)
        return stream(texts, what)
    return guarded


def compute_checked(family: MetricFamily, inputs: Any, texts: Sequence[str]) -> LayerResult | Skipped:
    """``family.compute(inputs)`` held to the family's minimum inputs, its non-finite values flagged."""
    need = _minimum(family, inputs.settings)
    reason = missing_extra(family) or shortfall(family, texts, inputs.evaluation, inputs.settings)
    if reason:
        return Skipped(reason)
    if need.distinct_views:
        inputs = dataclasses.replace(inputs, stream=_guard_views(inputs.stream, family.name))
    try:
        result = family.compute(inputs)
    except _ViewsIdentical as e:
        return Skipped(str(e))
    if isinstance(result, LayerResult):
        flag_non_finite(family.name, result, family.metrics())
    return result


def _reason(m: Measurement) -> str:
    """Why ``m`` has no number: the family's own words where it left some, else what is known."""
    if m.stderr_method and not m.has_stderr:
        return m.stderr_method
    if m.n is not None:
        return f"{m.value} from {m.n} usable inputs ({m.dropped or 0} dropped)"
    return f"the family returned {m.value}: its input cannot support this metric"


def flag_non_finite(name: str, result: LayerResult, metrics: Sequence[str]) -> None:
    """Record (``meta["not_measured"]``) and log, once per metric, every NaN or infinity of the family's
    ``metrics`` in the rows (other measurements, such as metrics a setting turned off, are only written null)."""
    found: dict[str, dict[str, Any]] = {}
    for row in result.layers:
        for key, m in row.measurements.items():
            if key in metrics and not math.isfinite(m.value):
                entry = found.setdefault(key, {"layers": [], "reason": _reason(m)})
                entry["layers"].append(row.layer)
    if not found:
        return
    result.meta.setdefault(NOT_MEASURED, {}).update(found)
    for metric, entry in found.items():
        log.warning("%s: %s not measured at layer%s %s: %s", name, metric, "s" if len(entry["layers"]) > 1 else "",
                    ", ".join(map(str, entry["layers"])), entry["reason"])
