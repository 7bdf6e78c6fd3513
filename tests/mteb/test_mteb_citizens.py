"""MI tasks live peacefully inside MTEB: its registry walks, prompt lookup and results tools all work."""
from __future__ import annotations

import numpy as np
import pytest

mteb = pytest.importorskip("mteb")

import mi_tasks.mteb  # noqa: E402,F401  (the import under test)
from mi_tasks.metrics.recoverability.words import text_words  # noqa: E402
from mi_tasks.mteb import MIEntropy, MIRecoverability  # noqa: E402

from ..conftest import make_sentences  # noqa: E402
from .test_mteb_information import ArrayEncoder, _evaluate  # noqa: E402


def _subclasses(cls: type) -> list[type]:
    out, todo = [], [cls]
    while todo:
        for sub in todo.pop().__subclasses__():
            out.append(sub)
            todo.append(sub)
    return out


def test_prompt_lookup_succeeds_for_every_registered_task():
    """Instruction encoders call this for every task; a class-level property used to break it for all of them.

    mteb's ``get_abstask_prompt`` (newer releases) walks every ``AbsTask`` subclass and reads
    ``cls.metadata.name``; the walk below is the same on every mteb, the lookup runs where it exists.
    """
    import importlib

    from mteb.abstasks.abstask import AbsTask
    from mteb.get_tasks import _TASKS_REGISTRY

    walked = [c for c in _subclasses(AbsTask) if "metadata" in vars(c) or hasattr(c, "metadata")]
    assert walked and all(isinstance(c.metadata.name, str) for c in walked
                          if not isinstance(getattr(c, "metadata", None), property) and hasattr(c.metadata, "name"))
    assert all(not isinstance(vars(c).get("metadata"), property) for c in _subclasses(AbsTask))
    prompt = getattr(importlib.import_module("mteb.abstasks.abstask"), "get_abstask_prompt", None)
    if prompt is None:
        return  # mteb before the instruction lookup (2.20): the class walk above is the contract
    names = [n for n, cls in _TASKS_REGISTRY.items() if not getattr(cls, "_mi_results_stand_in", False)]
    assert len(names) > 1000
    for name in [*names, "MIRecoverability", "MIEntropy"]:
        assert isinstance(prompt(name), str)


def _hub_stand_in(monkeypatch, seen):
    import datasets

    rows = {"fancyzhx/dbpedia_14": [{"label": i % 14, "title": f"Title {i}", "content": f" {s}"}
                                    for i, s in enumerate(make_sentences(40, seed=3))],
            "fancyzhx/ag_news": [{"label": i % 4, "text": s} for i, s in enumerate(make_sentences(12, seed=4))]}

    def load_dataset(path, name=None, *, split, revision=None, streaming=False):
        seen.append((path, split, streaming))
        return iter(rows[path])

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)


def test_defaults_ask_the_hub_without_a_data_folder_and_files_are_read(monkeypatch, tmp_path):
    seen: list = []
    _hub_stand_in(monkeypatch, seen)
    monkeypatch.setenv("MI_TASKS_DATA_DIR", str(tmp_path / "no-data-folder"))
    rec = MIRecoverability()
    assert seen == [("fancyzhx/dbpedia_14", "test", True), ("fancyzhx/ag_news", "test", True)]
    assert len(rec.train_texts) == 40 and len(rec.test_texts) == 12
    assert "fancyzhx/ag_news:test" in rec.metadata.description
    f = tmp_path / "mine.tsv"
    f.write_text("text\n" + "\n".join(make_sentences(8, seed=5)) + "\n", encoding="utf-8")
    ent = MIEntropy(test=str(f), name="FileMIEntropy")
    assert ent.test_texts == make_sentences(8, seed=5) and ent.test_corpus["rows"] == 8
    assert MIRecoverability.metadata.name == "MIRecoverability"  # the class keeps its own metadata
    assert ent.metadata.name == "FileMIEntropy" and MIEntropy.metadata.name == "MIEntropy"


def test_results_load_tabulate_and_aggregate_with_mteb_tools(tmp_path):
    train, test = make_sentences(120, seed=6), make_sentences(30, seed=7)
    rec, ent = MIRecoverability(train=train, test=test), MIEntropy(test=test)
    vocab = rec.mi_scorer.word_vocab

    def multi_hot(t):
        v = np.zeros(len(vocab))
        v[[vocab[w] for w in text_words(t) if w in vocab]] = 1.0
        return v

    model = ArrayEncoder("multi-hot-citizens", multi_hot, len(vocab))
    cache = mteb.ResultCache(cache_path=tmp_path / "mteb")
    _evaluate(model, [rec, ent], cache=cache)
    assert rec.metadata.name == "MIRecoverability" and rec.metadata.dataset["revision"] != MIRecoverability.metadata.dataset["revision"]
    back = cache.load_results(models=[model.mteb_model_meta], tasks=["MIRecoverability", "MIEntropy"])
    trs = {tr.task_name: tr for mr in back.model_results for tr in mr.task_results}
    assert {n: tr.task_type for n, tr in trs.items()} == {"MIRecoverability": "MultilabelClassification",
                                                          "MIEntropy": "Clustering"}
    agg = back.get_aggregated_scores()
    assert set(agg) == {model.mteb_model_meta.name}
    per_task = back.to_dataframe(aggregation_level="task")
    assert {"MIRecoverability", "MIEntropy"} <= set(per_task.columns) or len(per_task) >= 2
    with pytest.raises(Exception, match="description for reading results"):
        mteb.get_task("MIRecoverability").load_data()
