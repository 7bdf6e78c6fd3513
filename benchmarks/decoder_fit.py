"""(b) Default ridge decoder fit vs the paper's BCE + Adam, on the same states, for every layer.

States are extracted once (SmolLM2: 31 states), then both decoders are fitted on the same train
states and scored by recall@k on the same eval states. Reports the fit-time ratio (target: ridge
>= 50x faster) and recall per layer (target: ridge at least as high).
Usage: python benchmarks/decoder_fit.py [--model smollm2] [--train 2000] [--eval 500] [--epochs 10]
"""
from __future__ import annotations

import argparse

import numpy as np

from _common import agnews, dbpedia, model, timer
from mi_tasks import HiddenStateExtractor
from mi_tasks.metrics.recoverability.decoders import BCETokenDecoder, RidgeTokenDecoder, recall_hits
from mi_tasks.metrics.recoverability.vocabulary import DecoderVocabulary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--eval", type=int, default=500)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-3)
    a = ap.parse_args()
    m, tok = model(a.model)
    ex = HiddenStateExtractor(m, tok, layers="all", pooling="mean", max_text_length=128, batch_size=32)
    Xtr, ytr = ex.extract(dbpedia(a.train).texts)
    Xev, yev = ex.extract(agnews(a.eval).texts)
    vocab = DecoderVocabulary.from_targets(ytr)
    n_cal = len(ytr) // 10  # ridge picks its penalty on a held-out tenth, as the probe does
    t: dict[str, float] = {}
    with timer(t, "ridge"):
        ridge = []
        for j in range(len(ex.layers)):
            d = RidgeTokenDecoder(vocab).partial_fit(Xtr[j, n_cal:], ytr[n_cal:])
            d.select_alpha(Xtr[j, :n_cal], ytr[:n_cal])
            ridge.append(d)
    with timer(t, "bce"):
        bce = [BCETokenDecoder(vocab, epochs=a.epochs, lr=a.lr, seed=0).fit(Xtr[j], ytr) for j in range(len(ex.layers))]
    rows = []
    for j, layer in enumerate(ex.layers):
        r = float(recall_hits(ridge[j].scores(Xev[j]), yev, vocab)[0].mean())
        b = float(recall_hits(bce[j].scores(Xev[j]), yev, vocab)[0].mean())
        rows.append((layer, r, b, bce[j].losses_[-1]))
    print(f"model={a.model} layers={len(ex.layers)} train={len(ytr)} eval={len(yev)} decoder vocab={len(vocab)} "
          f"BCE: Adam lr={a.lr}, {a.epochs} epochs, batch 256")
    print(f"{'layer':>5} {'ridge recall':>13} {'bce recall':>11} {'bce loss':>9}")
    for layer, r, b, loss in rows:
        print(f"{layer:>5} {r:>13.4f} {b:>11.4f} {loss:>9.5f}")
    r = np.array([x[1] for x in rows])
    b = np.array([x[2] for x in rows])
    print(f"fit time: ridge {t['ridge']:.1f} s, bce {t['bce']:.1f} s -> ridge is {t['bce'] / t['ridge']:.1f}x faster (target >= 50x)")
    print(f"recall@k: ridge mean {r.mean():.4f}, bce mean {b.mean():.4f}; ridge >= bce at {(r >= b).sum()}/{len(r)} layers")


if __name__ == "__main__":
    main()
