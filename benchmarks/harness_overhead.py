"""mi_suite through lm-eval vs a plain forward pass over the same texts, in one run.

Plain pass: ``model(**batch, output_hidden_states=True)`` over the train and eval texts, same
batch size and dtype. Through lm-eval: ``simple_evaluate(model=HFLM, tasks=["mi_suite"])``, with
the time split into hidden-state extraction, decoder fitting/scoring and lm-eval's own work.
Target: extraction <= 1.3x the plain pass.
Usage: python benchmarks/harness_overhead.py [--model minilm|smollm2] [--train 1000] [--eval 300]
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from _common import agnews, dbpedia, need_data
from mi_tasks import HiddenStateExtractor, RecoverabilityProbe
from mi_tasks.states.bundled import resolve_model

SPENT = {"forward": 0.0, "fit": 0.0, "score": 0.0}


def timed(cls, name, key):
    original = getattr(cls, name)

    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            SPENT[key] += time.perf_counter() - t
    setattr(cls, name, wrapper)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--train", type=int, default=1000)
    ap.add_argument("--eval", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=32)
    a = ap.parse_args()
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    data = need_data()
    path, kw = resolve_model(a.model)
    lm = HFLM(pretrained=path, device="cpu", batch_size=a.batch_size, dtype="bfloat16", **kw)
    train, evalc = dbpedia(a.train), agnews(a.eval)
    texts = train.texts + evalc.texts
    # plain passes over the same texts, same truncation, same batch size (input order):
    # the model lm-eval loaded (with its LM head), and its backbone alone
    plains = {}
    for name, net in (("with LM head", lm.model), ("backbone", lm.model.base_model)):
        t = time.perf_counter()
        with torch.inference_mode():
            for s in range(0, len(texts), a.batch_size):
                b = lm.tokenizer(texts[s:s + a.batch_size], padding=True, truncation=True, max_length=128, return_tensors="pt")
                net(input_ids=b["input_ids"], attention_mask=b["attention_mask"], output_hidden_states=True)
        plains[name] = time.perf_counter() - t
    plain = plains["backbone"]
    timed(HiddenStateExtractor, "forward_batch", "forward")
    timed(RecoverabilityProbe, "fit", "fit")
    timed(RecoverabilityProbe, "score_stream", "score")
    md = {"train_corpus": str(data / "dbpedia/dbpedia14_sample.tsv"), "train_template": "{title} {content}",
          "train_limit": a.train, "eval_corpus": str(data / "agnews/dev.tsv"), "eval_header": False,
          "eval_columns": "text,label", "eval_limit": a.eval}
    t = time.perf_counter()
    out = lm_eval.simple_evaluate(model=lm, tasks=["mi_recoverability", "mi_fano"], task_manager=TaskManager(metadata=md), metadata=md)
    total = time.perf_counter() - t
    ours = SPENT["fit"] + SPENT["score"]
    print(f"model={a.model} texts={len(texts)} (train {len(train)} + eval {len(evalc)}) batch={a.batch_size} bf16")
    print(f"plain forward pass, model with LM head (input order): {plains['with LM head']:8.1f} s")
    print(f"plain forward pass, backbone only (input order):      {plain:8.1f} s  <- baseline")
    print(f"lm_eval mi_recoverability+mi_fano total:                               {total:8.1f} s")
    print(f"  hidden-state extraction (one pass, all layers):     {SPENT['forward']:8.1f} s  -> {SPENT['forward'] / plain:.2f}x plain backbone (target <= 1.3x)")
    print(f"  decoder fit, calibration, scoring (31 layers max):  {ours - SPENT['forward']:8.1f} s")
    print(f"  lm-eval itself (task index, requests, aggregation): {total - ours:8.1f} s")
    print(f"total / plain backbone: {total / plain:.2f}x")
    print(json.dumps({k: v for k, v in out["results"]["mi_recoverability"].items() if "stderr" not in k}, default=str))


if __name__ == "__main__":
    main()
