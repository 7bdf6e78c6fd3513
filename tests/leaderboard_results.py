"""Synthetic lm-eval results files shaped like the ones ``lm_eval --model hf-mi --tasks mi_suite,hellaswag`` writes.

The leaderboard tests need many models, hostile names and broken provenance in milliseconds; the
real files (same keys, same nesting) come from the tiny-model and main-job runs.
"""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

from mi_tasks.metrics.recoverability.result import RecoverabilityResult
from mi_tasks.metrics.result import LayerResult, LayerRow, Measurement, Scores

SHA = {"train": "1" * 64, "eval": "2" * 64, "tok_a": "a" * 64, "tok_b": "b" * 64}


def _curve(n_layers: int, top: float, seed: int) -> list[float]:
    return [top * (0.3 + 0.7 * math.sin((i + 1) / (n_layers + 1) * math.pi / 1.3)) + 0.003 * ((seed * 7 + i) % 5)
            for i in range(n_layers + 1)]


def results_json(model: str, *, n_layers: int = 6, top: float = 0.4, seed: int = 0, targets: str = "words",
                 tokenizer_sha: str = SHA["tok_a"], hellaswag: float | None = 0.41, date: float = 1.7e9) -> dict[str, Any]:
    """One model's results: mi_recoverability and mi_entropy with per-layer curves, and hellaswag's acc."""
    recall = _curve(n_layers, top, seed)
    erank = _curve(n_layers, 40.0, seed + 1)
    layers = list(range(n_layers + 1))
    depth = [lay / n_layers for lay in layers]
    settings = {"layers": "all", "pooling": "mean", "max_text_length": 128, "include_special": False,
                "train_corpus": "bbcnews:train", "train_limit": 500, "eval_corpus": "bbcnews:test", "eval_limit": 200,
                "fit": "ridge", "targets": targets, "text_metrics": False, "seed": 0, "headline_layer": "last"}
    corpora = {"train_corpus": {"name": "bbcnews:train", "rows": 500, "sha256": SHA["train"], "split": "train"},
               "eval_corpus": {"name": "bbcnews:test", "rows": 200, "sha256": SHA["eval"], "split": "test",
                               "scored_rows": 200}}
    meta = {"model": model, "num_layers": n_layers, "pooling": "mean", "max_length": 128, "fit": "ridge", "seed": 0,
            "targets": targets, "vocab_size": 4860 if targets == "words" else 30522, "decoder_vocab_size": 3897,
            "tokenizer": {"name": model, "class": "BertTokenizer", "vocab_size": 30522, "sha256": tokenizer_sha},
            "mi_tasks_version": "0.1.0", "model_dtype": "torch.bfloat16", **copy.deepcopy(corpora)}

    rec = RecoverabilityResult(layers=[LayerRow(lay, d, {"recall_at_k": Measurement(v, 0.01), "fano_mi_bits": 3 * v})
                                       for lay, d, v in zip(layers, depth, recall)],
                               prior=Scores({"recall_at_k": 0.2}), meta=meta).to_dict()
    rec["headline_layer"] = n_layers
    ent_meta = {"model": model, "num_layers": n_layers, "pooling": "mean", "seed": 0, "mi_tasks_version": "0.1.0",
                "model_dtype": "torch.bfloat16", "eval_corpus": copy.deepcopy(corpora["eval_corpus"])}
    ent = LayerResult(layers=[LayerRow(lay, d, {"prompt_effective_rank": Measurement(v, 0.5)})
                              for lay, d, v in zip(layers, depth, erank)], meta=ent_meta).to_dict()
    ent["headline_layer"] = n_layers
    results = {"mi_recoverability": {"alias": "mi_recoverability", "recall_at_k,none": recall[-1],
                                     "recall_at_k_stderr,none": 0.01, "fano_mi_bits,none": 3 * recall[-1]},
               "mi_entropy": {"alias": "mi_entropy", "prompt_effective_rank,none": erank[-1]}}
    configs = {"mi_recoverability": {"task": "mi_recoverability", "mi_settings": settings, "mi_results": rec},
               "mi_entropy": {"task": "mi_entropy", "mi_settings": settings, "mi_results": ent}}
    if hellaswag is not None:
        results["hellaswag"] = {"alias": "hellaswag", "acc,none": hellaswag, "acc_stderr,none": 0.005,
                                "acc_norm,none": hellaswag + 0.1, "acc_norm_stderr,none": 0.005}
        configs["hellaswag"] = {"task": "hellaswag", "num_fewshot": 0, "output_type": "multiple_choice"}
    return {"results": results, "group_subtasks": {"mi_recoverability": [], "mi_entropy": [], "hellaswag": []},
            "configs": configs, "versions": {"mi_recoverability": 1, "mi_entropy": 1, "hellaswag": 1.0},
            "n-shot": {"mi_recoverability": 0, "mi_entropy": 0, "hellaswag": 0},
            "higher_is_better": {"hellaswag": {"acc": True, "acc_norm": True}},
            "config": {"model": "hf-mi", "model_args": {"pretrained": model, "dtype": "bfloat16"},
                       "model_dtype": "torch.bfloat16", "model_revision": "main", "limit": None},
            "date": date, "pretty_env_info": "PyTorch version: 2.13.0+cpu\n", "transformers_version": "5.23.0",
            "lm_eval_version": "0.4.13", "model_name": model}


def write_results(folder: Path, name: str, data: dict[str, Any]) -> Path:
    """``folder/name/results_<date>.json``, the layout ``lm_eval --output_path`` makes."""
    path = Path(folder) / name / "results_2026-01-01T00-00-00.000000.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path
