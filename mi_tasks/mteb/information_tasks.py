"""Information metrics as MTEB tasks, computed from a model's embeddings alone.

``mteb.evaluate(model, [*mteb_tasks, *information_tasks()])`` puts MI scores beside a model's MTEB
scores for any MTEB encoder: a ``SentenceTransformer``, a :class:`~mi_tasks.mteb.encoder.LayerEncoder`,
or a model that only returns embeddings (an API model). Results are ordinary MTEB results: stored in
and reloaded from mteb's ``ResultCache``.

Every metric family that scores one embedding per text (``MetricFamily.embedding_scorer``, built-in
or a plugin) is one task here, named as its scorer says (``MIRecoverability``, ``MIEntropy``):
``from mi_tasks.mteb import MIRecoverability`` or :func:`information_task`. The family defines what
is measured; this module reads the corpora, embeds them through MTEB's data loader and encoder
protocol, and stores the scores. MTEB's task types are a closed list: a scorer fitted on train texts
predicts something of each text from its embedding and is declared ``MultilabelClassification``;
one that scores the test set alone measures the set of embeddings and is declared ``Clustering``.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from datasets import Dataset, DatasetDict

from mteb._create_dataloaders import create_dataloader
from mteb.abstasks.abstask import AbsTask

from ..data.corpora import load_corpus, sample_texts
from ..data.settings import EvalCorpusSettings, TrainCorpusSettings
from ..errors import MiTasksError
from ..metrics.embedding import EmbeddingScorer
from ..metrics.family import MetricFamily
from ..metrics.registry import all_families, family_class
from ..metrics.result import MEASUREMENTS_KEY
from .local_tasks import content_hash, local_task_metadata
from .registry import register_result_name

# (MTEB task type, category) by whether the scorer fits on train texts
_MTEB_TYPE = {True: ("MultilabelClassification", "t2c"), False: ("Clustering", "t2t")}


def _texts(source: str | Sequence[str], limit: int | None, seed: int, data_dir: str | os.PathLike | None, role: str) -> tuple[list[str], dict[str, Any]]:
    if isinstance(source, (str, os.PathLike)):
        corpus = load_corpus(source, limit=limit, seed=seed, data_dir=data_dir)
        return list(corpus.texts), corpus.describe()
    texts = sample_texts([str(t) for t in source], limit, seed, f"{role}_limit", f"inline {role} texts")  # as a file's
    return texts, {"name": f"inline {role} texts", "rows": len(texts)}


def _label(corpus: dict[str, Any]) -> str:
    """A corpus as the task description names it: hub id and split, or name, plus a local sample's file."""
    if corpus.get("hub_id"):
        text = f"{corpus['hub_id']}" + (f"/{corpus['hub_config']}" if corpus.get("hub_config") else "") + \
               f":{corpus['split']}"
        lf = corpus.get("local_file")
        if lf and not lf.get("same_as_hub"):
            text += f" (local sample {lf['path']}, {lf['rows']} rows, sha256 {lf['sha256'][:12]})"
        return text
    return str(corpus.get("name"))


def _embed(task: AbsTask, model: Any, texts: list[str], split: str, hf_subset: str, encode_kwargs: dict[str, Any],
           num_proc: int | None) -> np.ndarray:
    """The model's embeddings of ``texts`` through mteb's own data loader and encoder protocol."""
    loader = create_dataloader(Dataset.from_dict({"text": texts}), task_metadata=task.metadata, input_column="text",
                               num_proc=num_proc, **encode_kwargs)
    emb = model.encode(loader, task_metadata=task.metadata, hf_split=split, hf_subset=hf_subset, **encode_kwargs)
    emb = np.asarray(emb.float().cpu().numpy() if hasattr(emb, "cpu") else emb, dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] != len(texts):
        raise MiTasksError(f"{task.metadata.name}: the model returned embeddings of shape {emb.shape} for "
                           f"{len(texts)} texts; an encoder must return one vector per text")
    if not np.isfinite(emb).all():
        bad = int((~np.isfinite(emb)).any(axis=1).sum())
        raise MiTasksError(f"{task.metadata.name}: {bad} of {len(texts)} embeddings hold NaN or inf; "
                           "recompute them in float32 (a model in float16 can overflow)")
    return emb


class InformationTask(AbsTask):
    """One family's embedding scorer as an MTEB task: corpora read at construction, one 'test' split (and 'train'
    where the scorer fits on train texts), metadata with a content revision.

    ``train``/``test``: a registered corpus name (read from the data folder: ``data_dir``, else
    ``$MI_TASKS_DATA_DIR``, else ../shared/data; from the hub when it has no file for the corpus), a file
    path, or a list of texts; by default the corpora and sizes of the lm-eval tasks (``train_corpus``,
    ``eval_corpus``). ``name``: give another name when changing the data, so results of different data are
    stored apart (the revision also changes with the data). Further keywords are the scorer's options.
    The class carries class-level ``metadata`` (what MTEB's registry walks read: name, type, main score);
    an instance carries its own, whose description and revision name its data.
    """

    scorer: ClassVar[type[EmbeddingScorer]]

    def __init__(self, *, train: str | Sequence[str] | None = None, test: str | Sequence[str] | None = None,
                 train_limit: int | None = TrainCorpusSettings().limit, test_limit: int | None = EvalCorpusSettings().limit,
                 seed: int = 0, data_dir: str | os.PathLike | None = None, name: str | None = None, **options: Any) -> None:
        label = name or self.scorer.task_name
        self.scorer.check_options(label, options)
        if train is not None and not self.scorer.needs_train:
            raise MiTasksError(f"{label} scores the test texts alone; drop train=")
        self.train_texts, self.train_corpus = ([], {})
        if self.scorer.needs_train:
            self.train_texts, self.train_corpus = _texts(TrainCorpusSettings().corpus if train is None else train,
                                                         train_limit, seed, data_dir, "train")
        self.test_texts, self.test_corpus = _texts(EvalCorpusSettings().corpus if test is None else test, test_limit,
                                                   seed, data_dir, "test")
        self.mi_scorer = self.scorer(self.train_texts, self.test_texts, seed=seed, name=label, **options)
        self.mi_seed = int(seed)
        corpora = f"train: {_label(self.train_corpus)} ×{len(self.train_texts)}; " if self.scorer.needs_train else ""
        corpora += f"test: {_label(self.test_corpus)} ×{len(self.test_texts)}"
        kind, category = _MTEB_TYPE[self.scorer.needs_train]
        self._mi_metadata = local_task_metadata(label, kind, f"{self.scorer.description} Data: {corpora}.",
                                                content_hash(self.train_texts, self.test_texts, [seed]),
                                                main_score=self.scorer.headline[0], category=category)
        self.metadata = self._mi_metadata
        register_result_name(type(self), self._mi_metadata)
        super().__init__(seed=seed)

    def unload_data(self) -> None:
        """MTEB's unload drops instance metadata (it assumes the class's is the published one); keep this task's."""
        super().unload_data()
        self.metadata = self._mi_metadata

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        splits = {"test": Dataset.from_dict({"text": self.test_texts})}
        if self.train_texts:
            splits["train"] = Dataset.from_dict({"text": self.train_texts})
        self.dataset = DatasetDict(splits)
        self.data_loaded = True

    def _calculate_descriptive_statistics_from_split(self, split: str, *, hf_subset: str | None = None,
                                                     compute_overall: bool = False, num_proc: int | None = None) -> Any:
        texts = self.train_texts if split == "train" else self.test_texts
        lengths = [len(t) for t in texts]
        return {"num_samples": len(texts), "min_text_length": min(lengths), "average_text_length": float(np.mean(lengths)),
                "max_text_length": max(lengths), "unique_texts": len(set(texts))}

    def _evaluate_subset(self, model: Any, data_split: Any, *, hf_split: str, hf_subset: str,
                         encode_kwargs: dict[str, Any], prediction_folder: Path | None = None,
                         num_proc: int | None = None, timer: Any = None, **kwargs: Any) -> dict[str, Any]:
        x_train = (_embed(self, model, self.train_texts, "train", hf_subset, encode_kwargs, num_proc)
                   if self.scorer.needs_train else None)
        x_test = _embed(self, model, self.test_texts, hf_split, hf_subset, encode_kwargs, num_proc)
        got = self.mi_scorer.score(x_train, x_test)
        scores: dict[str, Any] = {k: float(v) for k, v in got.scores.items()}   # MTEB's flat scores
        scores[MEASUREMENTS_KEY] = got.scores.to_dict()   # the same, whole: errors, caveats, counts, flags
        scores.update(got.extras)
        if x_train is not None:
            scores["n_train"] = len(self.train_texts)
        scores.update({"n_test": len(self.test_texts), "embed_dim": int(x_test.shape[1])})
        return scores


_CLASSES: dict[type[EmbeddingScorer], type[InformationTask]] = {}


def information_task(family: str | type[MetricFamily]) -> type[InformationTask]:
    """The MTEB task class of ``family``'s embedding scorer (one class per scorer, entered into MTEB's task table
    under its name so stored results read back in a fresh process)."""
    fam = family_class(family) if isinstance(family, str) else family
    scorer = fam.embedding_scorer
    if scorer is None:
        able = ", ".join(f.name for f in all_families() if f.embedding_scorer) or "none"
        raise MiTasksError(f"family {fam.name!r} does not score embeddings alone, so it has no MTEB task; "
                           f"families that do: {able}")
    if scorer not in _CLASSES:
        kind, category = _MTEB_TYPE[scorer.needs_train]
        metadata = local_task_metadata(scorer.task_name, kind, scorer.description,
                                       "content hash of the task's texts (set per instance)",
                                       main_score=scorer.headline[0], category=category)
        cls = type(scorer.task_name, (InformationTask,), {"scorer": scorer, "metadata": metadata,
                                                          "__module__": __name__, "__doc__": scorer.__doc__})
        register_result_name(cls, metadata)
        _CLASSES[scorer] = cls
    return _CLASSES[scorer]


def information_task_classes() -> dict[str, type[InformationTask]]:
    """Every known family's MTEB task class, by task name."""
    classes = [information_task(f) for f in all_families() if f.embedding_scorer is not None]
    return {c.__name__: c for c in classes}


def information_tasks(data_dir: str | os.PathLike | None = None, seed: int = 0) -> list[AbsTask]:
    """Every family's MTEB task at its defaults (data folder if there is one, else the hub)."""
    return [cls(data_dir=data_dir, seed=seed) for cls in information_task_classes().values()]


def __getattr__(name: str) -> type[InformationTask]:
    """A family's task class by its task name (``MIRecoverability``), as an import or pickle looks it up."""
    classes = information_task_classes()
    if name in classes:
        return classes[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


information_task_classes()  # results under the default names load in a fresh process
