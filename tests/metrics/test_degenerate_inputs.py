"""Inputs that cannot support a number get a flag or one line, never a NaN or a number from identical views.

Through lm-eval in-process (``simple_evaluate``, as ``lm_eval --tasks ...`` runs it) on the tiny GPT-2,
through ``evaluate`` for a user's family, and a property test over drawn degenerate corpora.
"""
from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mi_tasks import MiTasksError, evaluate
from mi_tasks.metrics.embedding import EmbeddingScorer
from mi_tasks.metrics.family import MetricFamily, Skipped
from mi_tasks.metrics.registry import _REGISTERED, family_class, register_family
from mi_tasks.metrics.result import NOT_MEASURED, LayerResult, LayerRow

from ..conftest import make_sentences

ONE_TOKEN = list("abcdefghijklmn")  # fourteen distinct one-token texts (the tiny tokenizer's letters)


def _strict(obj) -> str:
    def refuse(constant: str):
        raise AssertionError(f"bare {constant} in a results file")
    text = json.dumps(obj, default=str)
    json.loads(text, parse_constant=refuse)
    return text


def _lm_eval(tiny_dir, task: str, md: dict) -> dict:
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=tiny_dir["gpt2"], device="cpu", batch_size=16, dtype="float32")
    return lm_eval.simple_evaluate(model=lm, tasks=[task], metadata=md,
                                   task_manager=TaskManager(include_defaults=False, metadata=md))


def test_geometry_on_one_token_texts_flags_curvature_and_keeps_the_rest(tiny_dir, tmp_path, caplog):
    (tmp_path / "short.txt").write_text("\n".join(ONE_TOKEN))
    with caplog.at_level(logging.WARNING, logger="mi_tasks"):
        out = _lm_eval(tiny_dir, "mi_geometry", {"eval_corpus": str(tmp_path / "short.txt"), "layers": "0,-1"})
    _strict({"results": out["results"], "configs": out["configs"]})  # what lm-eval writes: strict JSON
    scores, mi = out["results"]["mi_geometry"], out["configs"]["mi_geometry"]["mi_results"]
    assert scores["curvature,none"] == "N/A" and scores["curvature_stderr,none"] == "N/A"
    assert isinstance(scores["twonn,none"], float) and math.isfinite(scores["twonn,none"])
    flagged = mi["meta"][NOT_MEASURED]["curvature"]
    assert flagged["layers"] == [0, 3] and "fewer than 2 texts with 3 or more tokens" in flagged["reason"]
    assert [r["metrics"]["curvature"]["value"] for r in mi["layers"]] == [None, None]
    assert [r["metrics"]["curvature"]["dropped"] for r in mi["layers"]] == [len(ONE_TOKEN)] * 2
    lines = [r.getMessage() for r in caplog.records if "curvature not measured" in r.getMessage()]
    assert lines == ["geometry: curvature not measured at layers 0, 3: none: fewer than 2 texts with 3 or more tokens"]


@pytest.mark.parametrize("md, says", [
    ({"augment_word_p": 0.0}, "views needs views that differ, but view 2 of 2 is the same texts as an earlier view"),
    ({"eval_limit": 2}, "views needs at least 3 distinct eval texts, got 2"),
])
def test_views_that_cannot_support_a_number_are_skipped_with_one_line(tiny_dir, tmp_path, caplog, md, says):
    (tmp_path / "eval.txt").write_text("\n".join(make_sentences(12, seed=3)))
    md = {"eval_corpus": str(tmp_path / "eval.txt"), "layers": "0,-1", "n_views": 2, **md}
    with caplog.at_level(logging.WARNING, logger="mi_tasks"):
        out = _lm_eval(tiny_dir, "mi_views", md)
    _strict({"results": out["results"], "configs": out["configs"]})
    scores = out["results"]["mi_views"]
    assert all(scores[f"{m},none"] == "N/A" for m in ("lidar", "dime", "infonce")), scores
    assert out["configs"]["mi_views"]["mi_results"]["skipped"].startswith(says)
    assert sum(says in r.getMessage() for r in caplog.records) == 1


class _NaNFamily(MetricFamily):
    """A user's family whose metric is NaN at every layer but the last."""

    name = "test_nan_family"
    table_metrics = ("wobble",)
    best_key = "wobble"

    def compute(self, inputs):
        layers = inputs.layers
        rows = [LayerRow(lay, j / max(1, len(layers) - 1), {"wobble": 1.0 if j == len(layers) - 1 else math.nan})
                for j, lay in enumerate(layers)]
        return LayerResult(layers=rows, meta={"n_texts": inputs.evaluation.n_texts})


def test_a_user_familys_nan_is_flagged_and_saved_as_null(tiny, caplog):
    if "test_nan_family" not in _REGISTERED:
        register_family(_NaNFamily)
    model, tok = tiny["gpt2"]
    with caplog.at_level(logging.WARNING, logger="mi_tasks"):
        res = evaluate(model, tok, make_sentences(8, seed=2), ["test_nan_family"], layers="0,1,-1", progress=False)
    r = res["test_nan_family"]
    assert r.meta[NOT_MEASURED]["wobble"]["layers"] == [0, 1]
    assert "test_nan_family: wobble not measured at layers 0, 1: the family returned nan" in caplog.text
    saved = json.loads(_strict(r.to_dict()))
    assert [row["metrics"]["wobble"]["value"] for row in saved["layers"]] == [None, None, 1.0]
    assert "wobble: not measured at layers 0, 1" in r.table()


# few texts, one-token texts, repeated tokens, and a few ordinary ones; duplicates allowed
_DEGENERATE = st.lists(st.sampled_from([*"abcdefghijk", "the cat", "a a a a", "x y", "1 2 3 4 5",
                                        "the old house by the sea is quiet"]), min_size=1, max_size=14)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=_DEGENERATE, family=st.sampled_from(["geometry", "entropy", "views"]))
def test_any_familys_output_on_degenerate_texts_is_finite_or_flagged(tiny, texts, family):
    model, tok = tiny["gpt2"]
    res = evaluate(model, tok, texts, [family], layers="0,-1", progress=False, n_views=2)[family]
    if isinstance(res, Skipped):
        assert res.reason.startswith(f"{family} needs ")
        return
    flagged = res.meta.get(NOT_MEASURED) or {}
    for row in res.layers:
        for k in family_class(family).metrics():  # what tables print and boards rank
            if k in row and not np.isfinite(row[k]):
                assert row.layer in flagged[k]["layers"] and flagged[k]["reason"], (k, row.layer)
    json.loads(json.dumps(res.to_dict()), parse_constant=lambda c: pytest.fail(f"bare {c}"))


def test_suite_results_files_are_strict_json(suite_run):
    """The tiny suite (recoverability to geometry, two models): no bare NaN/Infinity in what lm-eval wrote."""
    for f in suite_run["files"]:
        json.loads(f.read_text(), parse_constant=lambda c: pytest.fail(f"{f}: bare {c}"))


class _Entropy(MetricFamily):
    name = "entropy"

    def compute(self, inputs):
        return LayerResult(layers=[])


class _NoName(MetricFamily):
    def compute(self, inputs):
        return LayerResult(layers=[])


class _NoCompute(MetricFamily):
    name = "test_no_compute"


class _HalfScorer(MetricFamily):
    name = "test_half_scorer"
    embedding_scorer = type("HalfScorer", (EmbeddingScorer,), {"task_name": "MIHalf"})  # no description, headline

    def compute(self, inputs):
        return LayerResult(layers=[])


@pytest.mark.parametrize("cls, says", [
    (_Entropy, "register_family: 'entropy' is a built-in family; name yours differently, or register_family(..., "
               "replace=True)"),
    (_NoName, "register_family: _NoName has no name: set the class attribute name"),
    (_NoCompute, "register_family: _NoCompute (test_no_compute) has no compute: define compute(self, inputs)"),
    (dict, "register_family: <class 'dict'> is not a MetricFamily: subclass mi_tasks.metrics.family.MetricFamily"),
    (_HalfScorer, "register_family: _HalfScorer (test_half_scorer): embedding_scorer must be a subclass of "
                  "mi_tasks.metrics.embedding.EmbeddingScorer with task_name, description and headline set"),
])
def test_register_family_refuses_with_one_line(cls, says):
    with pytest.raises(MiTasksError) as e:
        register_family(cls)
    assert str(e.value).startswith(says) and "\n" not in str(e.value)
    assert family_class("entropy").__module__ == "mi_tasks.metrics.entropy.family"  # the built-in stays


def test_register_family_replaces_a_builtin_only_when_asked():
    builtin = family_class("entropy")
    try:
        assert register_family(replace=True)(_Entropy) is _Entropy and family_class("entropy") is _Entropy
    finally:
        _REGISTERED["entropy"] = builtin


def test_report_shows_a_not_measured_flag_never_nan(tmp_path, capsys, caplog):
    from mi_tasks.cli.main import main

    from ..leaderboard_results import results_json, write_results

    data = results_json("org/m")
    mi = data["configs"]["mi_entropy"]["mi_results"]
    for r in mi["layers"]:
        r["metrics"]["prompt_effective_rank"] = {"value": None}  # strict JSON: not measured
    mi["meta"][NOT_MEASURED] = {"prompt_effective_rank": {"layers": list(range(7)), "reason": "every text has one token"}}
    data["results"]["mi_entropy"]["prompt_effective_rank,none"] = "N/A"
    f = write_results(tmp_path / "r", "m", data)
    assert main(["report", str(f), "--out", str(tmp_path / "rep"), "--no-figures"]) == 0
    md = (tmp_path / "rep" / "headline.md").read_text()
    assert "not measured*" in md and "every text has one token" in md and "nan" not in md.lower()
    capsys.readouterr()
    assert main(["card", str(f)]) == 0  # a model-index holds numbers only: left out, and said so
    out = capsys.readouterr()
    assert "prompt_effective_rank" not in out.out and "nan" not in out.out.lower()
    said = [r.getMessage() for r in caplog.records if "is not on the card" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("mi_entropy prompt_effective_rank is not on the card: not measured")
    assert "every text has one token" in said[0]
