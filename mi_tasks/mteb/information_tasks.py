"""Information metrics as MTEB tasks, computed from a model's embeddings alone.

``mteb.evaluate(model, [*mteb_tasks, MIRecoverability(), MIEntropy()])`` puts MI scores beside a
model's MTEB scores for any MTEB encoder: a ``SentenceTransformer``, a
:class:`~mi_tasks.mteb.encoder.LayerEncoder`, or a model that only returns embeddings (an API
model). Results are ordinary MTEB results: stored in and reloaded from mteb's ``ResultCache``.

Targets do not depend on the model: every model is scored on recovering the same words, from one
fixed tokenization (:data:`WORD_TOKENIZATION`), so MTEB compares models on one scale. These
numbers are therefore not the lm-eval ``mi_recoverability`` numbers, whose targets are the
model's own tokens.

- :class:`MIRecoverability` fits a ridge decoder (the core :class:`~mi_tasks.RecoverabilityProbe`)
  from train embeddings to each text's set of words and scores the test texts: recall@k
  (k = the text's number of distinct words; main score), its lift over the frequency prior,
  Fano's lower bound on I(words; embedding) with |V| = the word types of the task's texts, the
  Barber–Agakov bound against the prior, each with a standard error.
- :class:`MIEntropy` is the normalised matrix entropy (docs/metrics.md) of the test texts' embeddings and
  its effective rank, with a seeded bootstrap standard error.

MTEB's task types are a closed list: recoverability is declared ``MultilabelClassification`` (it
predicts which words a text holds), entropy ``Clustering`` (an unsupervised property of the set of
embeddings). The metadata description says what each task measures.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset, DatasetDict

from mteb._create_dataloaders import create_dataloader
from mteb.abstasks.abstask import AbsTask
from mteb.abstasks.task_metadata import TaskMetadata

from ..data.corpora import load_corpus, sample_texts
from ..metrics.entropy.probe import dataset_entropy
from ..errors import MiTasksError
from ..metrics.recoverability.probe import RecoverabilityProbe
from ..metrics.result import MEASUREMENTS_KEY, Measurement, Scores
from ..metrics.recoverability.words import WORD_TOKENIZATION, text_words, word_targets  # noqa: F401  (re-exported by mi_tasks.mteb)
from .local_tasks import content_hash, local_task_metadata
from .registry import register_result_name


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


def _class_metadata(cls_name: str, kind: str, description: str, main_score: str, category: str) -> TaskMetadata:
    """The class-level metadata of an MI task: what MTEB's registry and prompt lookup read without building it."""
    return local_task_metadata(cls_name, kind, description, "content hash of the task's texts (set per instance)",
                     main_score=main_score, category=category)


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


class _MITask(AbsTask):
    """Shared: corpora read at construction, metadata with a content revision, one 'test' split.

    Each concrete class carries a class-level ``metadata`` (what MTEB's registry walks read: name,
    type, main score); an instance carries its own, whose description and revision name its data.
    """

    MAIN_SCORE = ""
    TYPE = ""
    DESCRIPTION = ""
    CATEGORY = "t2t"

    def __init__(self, *, name: str | None, train: str | Sequence[str] | None, test: str | Sequence[str],
                 train_limit: int | None, test_limit: int | None, seed: int, data_dir: str | os.PathLike | None) -> None:
        self.train_texts, self.train_corpus = (_texts(train, train_limit, seed, data_dir, "train") if train is not None
                                               else ([], {}))
        self.test_texts, self.test_corpus = _texts(test, test_limit, seed, data_dir, "test")
        if train is not None and not self.train_texts:
            raise MiTasksError(f"{name or type(self).__name__}: the train corpus has no texts; give a larger one")
        if len(self.test_texts) < 2:
            raise MiTasksError(f"{name or type(self).__name__}: the test corpus has {len(self.test_texts)} texts; "
                               "give at least 2")
        self.mi_seed = int(seed)
        corpora = f"train: {_label(self.train_corpus)} ×{len(self.train_texts)}; " if train is not None else ""
        corpora += f"test: {_label(self.test_corpus)} ×{len(self.test_texts)}"
        self._mi_metadata = local_task_metadata(name or type(self).__name__, self.TYPE, f"{self.DESCRIPTION} Data: {corpora}.",
                                      content_hash(self.train_texts, self.test_texts, [seed]),
                                      main_score=self.MAIN_SCORE, category=self.CATEGORY)
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


class MIRecoverability(_MITask):
    """Word recoverability from embeddings, with Fano's and Barber–Agakov's MI bounds (see the module docstring).

    ``train``/``test``: a registered corpus name (read from the data folder: ``data_dir``, else
    ``$MI_TASKS_DATA_DIR``, else ../shared/data; from the hub when it has no file for the corpus), a
    file path, or a list of texts. Defaults: DBpedia-14 ×5,000 to fit, AG News
    ×1,000 to score, as lm-eval's ``mi_recoverability``. ``name``: give another name when changing the
    data, so results of different data are stored apart (the revision also changes with the data).
    """

    MAIN_SCORE = "recall_at_k"
    SCORED = ("recall_at_k", "lift_recall_at_k", "fano_mi_bits", "fano_mi_bits_norm", "fano_mi_bits_empirical",
              "ba_mi_bits", "ba_mi_bits_norm", "cosine", "cross_entropy_bits")
    TYPE = "MultilabelClassification"
    CATEGORY = "t2c"
    DESCRIPTION = ("Token recoverability of a text's words from its embedding (mi-tasks): a ridge decoder fitted on "
                   "train embeddings predicts each test text's set of words; recall@k with k = its number of distinct "
                   "words, lift over the frequency prior, Fano's lower bound on I(words; embedding) in bits (|V| = word "
                   f"types of the task's texts) and the Barber-Agakov bound. Targets: {WORD_TOKENIZATION}.")

    metadata = _class_metadata("MIRecoverability", TYPE, DESCRIPTION, MAIN_SCORE, CATEGORY)

    def __init__(self, train: str | Sequence[str] = "dbpedia14", test: str | Sequence[str] = "agnews", *,
                 train_limit: int | None = 5000, test_limit: int | None = 1000, seed: int = 0,
                 data_dir: str | os.PathLike | None = None, name: str | None = None) -> None:
        super().__init__(name=name, train=train, test=test, train_limit=train_limit, test_limit=test_limit,
                         seed=seed, data_dir=data_dir)
        (train_targets, _), self.word_vocab = word_targets(self.train_texts, self.test_texts)
        if len(self.word_vocab) < 2:
            raise MiTasksError(f"{self.metadata.name}: the texts hold {len(self.word_vocab)} distinct words; "
                               "recoverability needs at least 2")
        if not any(len(t) for t in train_targets):
            raise MiTasksError(f"{self.metadata.name}: no train text holds a word ({WORD_TOKENIZATION})")

    def _evaluate_subset(self, model: Any, data_split: Any, *, hf_split: str, hf_subset: str,
                         encode_kwargs: dict[str, Any], prediction_folder: Path | None = None,
                         num_proc: int | None = None, timer: Any = None, **kwargs: Any) -> dict[str, float]:
        x_train = _embed(self, model, self.train_texts, "train", hf_subset, encode_kwargs, num_proc)
        x_test = _embed(self, model, self.test_texts, hf_split, hf_subset, encode_kwargs, num_proc)
        # word targets from the core probe: the same ids as word_targets(train, test), so |V| = the task's word types
        probe = RecoverabilityProbe(fit="ridge", seed=self.mi_seed, text_metrics=False, targets="words")
        res = probe.fit_arrays(x_train, self.train_texts).score_arrays(x_test, self.test_texts)
        row, prior, meta = res.layers[0], res.prior, res.meta
        measured = Scores({k: row.measurement(k) for k in self.SCORED}, flags=row.flags)
        scores: dict[str, Any] = {k: float(measured[k]) for k in self.SCORED}   # MTEB's flat scores
        scores[MEASUREMENTS_KEY] = measured.to_dict()   # the same, whole: errors, caveats, counts, flags
        scores.update({f"prior_{k}": float(prior[k]) for k in ("recall_at_k", "fano_mi_bits", "cross_entropy_bits")})
        scores.update({"word_vocab_size": len(self.word_vocab), "decoder_vocab_size": int(meta["decoder_vocab_size"]),
                       "unigram_entropy_bits": float(meta["unigram_entropy_bits"]), "ridge_alpha": float(row["ridge_alpha"]),
                       "n_train": len(self.train_texts), "n_test": len(self.test_texts),
                       "embed_dim": int(x_test.shape[1]), "coverage_tokens": float(meta["coverage_tokens"])})
        return scores


class MIEntropy(_MITask):
    """Matrix entropy of the test texts' embeddings (normalised to [0, 1]) and its effective rank.

    ``bootstrap``: resamples of the texts for the standard error (seeded; 0 turns it off).
    """

    MAIN_SCORE = "dataset_entropy"
    TYPE = "Clustering"
    DESCRIPTION = ("Representation entropy of a set of embeddings (mi-tasks): the von Neumann entropy of the trace-"
                   "normalised Gram matrix of the centred, L2-normalised embeddings, divided by ln min(N, D), and its "
                   "effective rank exp(H); a bootstrap over texts gives the standard error.")

    metadata = _class_metadata("MIEntropy", TYPE, DESCRIPTION, MAIN_SCORE, "t2t")

    def __init__(self, test: str | Sequence[str] = "agnews", *, test_limit: int | None = 1000, seed: int = 0,
                 bootstrap: int = 100, data_dir: str | os.PathLike | None = None, name: str | None = None) -> None:
        if bootstrap < 0:
            raise MiTasksError(f"bootstrap must be >= 0 resamples, got {bootstrap}")
        self.bootstrap = int(bootstrap)
        super().__init__(name=name, train=None, test=test, train_limit=None, test_limit=test_limit, seed=seed,
                         data_dir=data_dir)

    def _evaluate_subset(self, model: Any, data_split: Any, *, hf_split: str, hf_subset: str,
                         encode_kwargs: dict[str, Any], prediction_folder: Path | None = None,
                         num_proc: int | None = None, timer: Any = None, **kwargs: Any) -> dict[str, float]:
        x = _embed(self, model, self.test_texts, hf_split, hf_subset, encode_kwargs, num_proc)
        h, rank = dataset_entropy(x, 1.0)
        err, how = (math.nan, math.nan), "none: bootstrap switched off (bootstrap < 2)"
        if self.bootstrap >= 2:
            rng = np.random.default_rng(self.mi_seed)
            draws = np.array([dataset_entropy(x[rng.integers(0, len(x), size=len(x))], 1.0) for _ in range(self.bootstrap)])
            err, how = tuple(float(e) for e in draws.std(axis=0, ddof=1)), f"seeded bootstrap over texts ({self.bootstrap} resamples)"
        measured = Scores({"dataset_entropy": Measurement(float(h), err[0], how, len(x)),
                           "dataset_effective_rank": Measurement(float(rank), err[1], how, len(x))})
        return {"dataset_entropy": float(h), "dataset_effective_rank": float(rank), MEASUREMENTS_KEY: measured.to_dict(),
                "n_test": len(x), "embed_dim": int(x.shape[1]), "bootstrap_resamples": self.bootstrap}


def information_tasks(data_dir: str | os.PathLike | None = None, seed: int = 0) -> list[AbsTask]:
    """The two MI tasks at their defaults (data folder if there is one, else the hub)."""
    return [MIRecoverability(data_dir=data_dir, seed=seed), MIEntropy(data_dir=data_dir, seed=seed)]



for _cls in (MIRecoverability, MIEntropy):  # results under the default names load in a fresh process
    register_result_name(_cls, _cls.metadata)
