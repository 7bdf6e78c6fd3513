"""The error contract, held by a property test over drawn settings, corpus files and templates.

Every run of the Python API either returns finite numbers with its settings recorded, or raises
:class:`~mi_tasks.errors.MiTasksError` with one line; never another exception, a hang or a NaN.
The draws are derandomized (the same examples in every run), so CI is deterministic.
"""
from __future__ import annotations

import csv
import json
import math
import signal
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mi_tasks import HiddenStateExtractor, MiTasksError, RecoverabilityProbe, load_corpus
from mi_tasks.settings import TaskSettings

from ..conftest import make_sentences

EXAMPLES = 100
"""Examples drawn per CI run (about 15 s on two cores with the tiny GPT-2)."""
SECONDS_PER_EXAMPLE = 60
"""A run longer than this counts as a hang."""

def mostly(valid: list[Any], invalid: list[Any]) -> st.SearchStrategy[Any]:
    """A valid value nine times in ten, else an invalid one, so that draws reach every stage of a run."""
    return st.integers(0, 9).flatmap(lambda i: st.sampled_from(valid if i < 9 else invalid))


TEXTS = st.one_of(st.sampled_from(make_sentences(8, seed=11)), st.sampled_from(["", "   ", "!!! ...", "猫が犬を見る。"]))
ANY_VALUES = st.one_of(TEXTS, st.integers(-3, 3), st.none(), st.just(["a", "b"]), st.booleans(), st.floats(allow_nan=True))
TEMPLATES = mostly([None, "{text}", "{text:>30}", "{text} {{braces}}", "{text[0]}"],
                   ["{text", "{0}", "{}", "{text!z}", "{missing}", "{text.upper}", "plain words", "text}"])
FIELDS = mostly([None, "text"], ["nope"])
SETTINGS = st.fixed_dictionaries({
    "layers": mostly(["0,-1", "all", "1", "0:1:0.5"], ["5", "-9", "x"]),
    "pooling": mostly(["mean", "last", "first"], ["max"]),
    "targets": mostly(["tokens", "words"], ["letters"]),
    "max_text_length": mostly([2, 16, 64], [0, -1, 1, None]),
    "eval_limit": mostly([None, 1, 3], [0]),
})


@st.composite
def corpus_files(draw: Any) -> tuple[str, list[Any]]:
    suffix = draw(st.sampled_from([".txt", ".jsonl", ".csv"]))
    values = draw(mostly([TEXTS], [ANY_VALUES]))  # rows of text nine files in ten
    return suffix, draw(st.lists(values, min_size=0, max_size=8))


def _write(folder: Path, name: str, suffix: str, values: list[Any]) -> Path:
    path = folder / f"{name}{suffix}"
    if suffix == ".txt":
        path.write_text("\n".join(str(v) for v in values))
    elif suffix == ".jsonl":
        path.write_text("\n".join(json.dumps({"text": v}) for v in values))
    else:
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["text"])
            w.writerows([[v] for v in values])
    return path


class _Hang(Exception):
    """A drawn run took longer than SECONDS_PER_EXAMPLE."""


def _alarm(signum: int, frame: Any) -> None:
    raise _Hang()


def _run(model: Any, tok: Any, folder: Path, md: dict[str, Any], train: Path, evalf: Path,
         template: str | None, field: str | None) -> Any:
    """What a user of the Python API does with these inputs: settings, corpora, model pass, fit, score."""
    TaskSettings.from_metadata({**md, "eval_template": template, "eval_text_field": field}, "mi_recoverability")
    train_c = load_corpus(str(train), limit=40)
    eval_c = load_corpus(str(evalf), template=template, text_field=field, limit=md["eval_limit"], limit_name="eval_limit")
    ex = HiddenStateExtractor(model, tok, layers=md["layers"], pooling=md["pooling"],
                              max_text_length=md["max_text_length"], progress=False)
    probe = RecoverabilityProbe(targets=md["targets"], text_metrics=False, seed=0)
    return probe.fit(ex.stream(train_c)).score(ex.stream(eval_c))


FINITE = ("recall_at_k", "lift_recall_at_k", "cosine", "cross_entropy_bits", "ba_mi_bits", "fano_mi_bits")


@pytest.fixture(scope="module")
def contract_model(tiny):
    return tiny["gpt2"]


def test_every_run_gives_finite_numbers_or_one_line(contract_model):
    model, tok = contract_model
    outcomes: dict[str, int] = {"result": 0, "error": 0}

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure shows its drawn example at once
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(md=SETTINGS, train=corpus_files(), evalf=corpus_files(), template=TEMPLATES, field=FIELDS)
    def check(md: dict[str, Any], train: tuple[str, list[Any]], evalf: tuple[str, list[Any]], template: str | None,
              field: str | None) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            # the train file: drawn rows after enough real text, so that most draws reach the model
            train_path = _write(folder, "train", train[0], make_sentences(30, seed=5) + train[1])
            eval_path = _write(folder, "eval", *evalf)
            previous = signal.signal(signal.SIGALRM, _alarm)
            signal.alarm(SECONDS_PER_EXAMPLE)
            try:
                result = _run(model, tok, folder, md, train_path, eval_path, template, field)
            except MiTasksError as e:
                assert "\n" not in str(e) and str(e).strip(), repr(e)
                outcomes["error"] += 1
                return
            finally:
                signal.alarm(0)
                signal.signal(signal.SIGALRM, previous)
        assert all(k in row for row in result.layers for k in FINITE)
        for row in [*result.layers, result.prior]:
            bad = [k for k in FINITE if k in row and not math.isfinite(float(row[k]))]
            assert not bad, f"non-finite {bad} at {row.get('layer', 'prior')}"
        meta = result.meta
        assert meta["targets"] == md["targets"] and meta["seed"] == 0 and meta["eval_corpus"]["rows"] >= 1
        assert 0.0 <= meta["target_coverage"] <= 1.0
        outcomes["result"] += 1

    check()
    print(f"error contract: {outcomes}")
    assert outcomes["result"] > 0 and outcomes["error"] > 0, outcomes  # both sides of the contract were drawn
