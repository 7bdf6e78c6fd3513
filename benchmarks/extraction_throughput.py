"""(a) Extraction throughput vs a plain ``model(**batch, output_hidden_states=True)`` loop.

Same texts, same batch size, same dtype, same max_length. The plain loop pads each batch in
input order and keeps the raw hidden states; the extractor also pools every layer and collects
targets. Also reports the gain from bf16 (vs float32) and from length grouping (vs input order).
Usage: python benchmarks/extraction_throughput.py [--model minilm|smollm2] [--n 512]
"""
from __future__ import annotations

import argparse

import torch

from _common import agnews, imdb, model, timer
from mi_tasks import HiddenStateExtractor


def plain_loop(m, tok, texts, batch_size, max_length):
    with torch.inference_mode():
        for s in range(0, len(texts), batch_size):
            batch = tok(texts[s:s + batch_size], padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            m(**batch, output_hidden_states=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-text-length", type=int, default=256)
    a = ap.parse_args()
    # Mixed lengths (short news + long reviews), shuffled together, as real corpora are.
    texts = agnews(a.n // 2).texts + imdb(a.n - a.n // 2).texts
    g = torch.Generator().manual_seed(0)
    texts = [texts[i] for i in torch.randperm(len(texts), generator=g).tolist()]
    t: dict[str, float] = {}
    for dtype in ("bfloat16", "float32"):
        m, tok = model(a.model, dtype)
        plain_loop(m, tok, texts[:8], 8, a.max_text_length)  # warm-up
        with timer(t, f"plain_{dtype}"):
            plain_loop(m, tok, texts, a.batch_size, a.max_text_length)
        for group in (True, False):
            ex = HiddenStateExtractor(m, tok, layers="all", pooling="mean", max_text_length=a.max_text_length,
                                      batch_size=a.batch_size, group_by_length=group, progress=False)
            with timer(t, f"ours_{dtype}_{'grouped' if group else 'ungrouped'}"):
                for _ in ex.iter_batches(texts):
                    pass
        del m
    print(f"model={a.model} texts={len(texts)} batch={a.batch_size} max_length={a.max_text_length}")
    for k, v in t.items():
        print(f"  {k:28s} {v:8.2f} s  {len(texts) / v:7.1f} texts/s")
    for dtype in ("bfloat16", "float32"):
        print(f"throughput ours(grouped)/plain at {dtype}: {t[f'plain_{dtype}'] / t[f'ours_{dtype}_grouped']:.2f}x  (target >= 0.9x)")
        print(f"throughput ours(ungrouped)/plain at {dtype}: {t[f'plain_{dtype}'] / t[f'ours_{dtype}_ungrouped']:.2f}x  (same work, pooling overhead only)")
    print(f"gain from bf16 (ours, grouped): {t['ours_float32_grouped'] / t['ours_bfloat16_grouped']:.2f}x")
    print(f"gain from length grouping (ours, bf16): {t['ours_bfloat16_ungrouped'] / t['ours_bfloat16_grouped']:.2f}x")


if __name__ == "__main__":
    main()
