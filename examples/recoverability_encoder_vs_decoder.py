"""Per-layer token recoverability of an encoder (all-MiniLM-L6-v2) and a decoder (SmolLM2-135M).

Runs offline on the bundled BBC News corpus, or on ../shared/data when present:
    python examples/recoverability_encoder_vs_decoder.py [--pooling mean|last]
Prints both curves on normalized depth, with each layer's lift over the frequency prior.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from mi_tasks import HiddenStateExtractor, RecoverabilityProbe, load_corpus, load_model
from mi_tasks.bundled import resolve_model

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def corpora():
    if SHARED.is_dir():
        return (load_corpus(SHARED / "dbpedia/dbpedia14_sample.tsv", fields=["title", "content"], limit=3000, seed=0),
                load_corpus(SHARED / "agnews/dev.tsv", header=False, columns=["text", "label"], limit=500, seed=0))
    return load_corpus("bbcnews:train"), load_corpus("bbcnews:test")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pooling", default="mean")
    a = ap.parse_args()
    train, evalc = corpora()
    print(f"train: {train.name} ({len(train)} texts)  eval: {evalc.name} ({len(evalc)} texts)")
    for alias in ("minilm", "smollm2"):
        path, kw = resolve_model(alias)
        model, tok = load_model(path, **kw)
        ex = HiddenStateExtractor(model, tok, layers="0:1:0.2", pooling=a.pooling, max_length=128)
        res = RecoverabilityProbe(seed=0).fit(ex, train).score(ex, evalc)
        print(f"\n{alias}  (prior recall@k {res.prior['recall_at_k']:.3f})")
        print(f"{'depth':>6} {'layer':>5} {'recall@k':>9} {'lift':>7} {'Fano bits':>10} {'BA bits':>8}")
        for r in res.layers:
            print(f"{r['depth']:>6.2f} {r['layer']:>5d} {r['recall_at_k']:>9.4f} {r['lift_recall_at_k']:>7.4f} "
                  f"{r['fano_mi_bits']:>10.3f} {r['ba_mi_bits']:>8.3f}")


if __name__ == "__main__":
    main()
