"""Ridge statistics per batch: today's touched-rows update vs the dense |vocab| x D update it replaced.

Random states and Zipf-distributed token targets at the given shapes (no model needed). Baseline in
the same run: the float64 Gram product X^T X of the same batch, which every update needs anyway.
Also checks that both updates give the same statistics (max abs difference).
Usage: python benchmarks/ridge_partial_fit.py [--dim 576] [--vocab 20000] [--texts 32] [--tokens 50] [--reps 20]
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from mi_tasks.metrics.recoverability.decoders import RidgeTokenDecoder
from mi_tasks.metrics.recoverability.vocabulary import DecoderVocabulary


def dense_update(dec: RidgeTokenDecoder, X: torch.Tensor, targets: list[np.ndarray]) -> None:
    """The previous update: a sparse (|vocab| x n) multi-hot times the batch, a dense |vocab| x D result."""
    xs = X.to(torch.float64) - dec._shift
    dec.n += X.shape[0]
    dec._sx += xs.sum(0)
    dec._sxx += xs.T @ xs
    rows, cols, _ = dec.vocab.sparse_rows(targets)
    cols_t = torch.from_numpy(cols)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yt = torch.sparse_coo_tensor(torch.stack([cols_t, torch.from_numpy(rows)]), torch.ones(cols.size),
                                     (len(dec.vocab), X.shape[0])).to_sparse_csr()
        dec._sxy += yt @ xs.to(torch.float32)
    dec._sy.index_add_(0, cols_t, torch.ones(cols.size, dtype=torch.float64))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=576)
    ap.add_argument("--vocab", type=int, default=20000)
    ap.add_argument("--texts", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=50)
    ap.add_argument("--reps", type=int, default=20)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    vocab = DecoderVocabulary(range(a.vocab))
    batches = []
    for _ in range(a.reps + 1):
        X = torch.from_numpy(rng.standard_normal((a.texts, a.dim)).astype(np.float32))
        tg = [np.unique(np.minimum(rng.zipf(1.2, a.tokens), a.vocab) - 1) for _ in range(a.texts)]
        batches.append((X, tg))
    new, old = RidgeTokenDecoder(vocab), RidgeTokenDecoder(vocab)
    new.partial_fit(*batches[0])
    old.partial_fit(*batches[0])  # same shift and buffers for both
    t = {"touched rows (today)": 0.0, "dense update (before)": 0.0, "float64 Gram X^T X": 0.0}
    for X, tg in batches[1:]:
        s = time.perf_counter()
        new.partial_fit(X, tg)
        t["touched rows (today)"] += time.perf_counter() - s
        s = time.perf_counter()
        dense_update(old, X, tg)
        t["dense update (before)"] += time.perf_counter() - s
        X64 = X.to(torch.float64)
        s = time.perf_counter()
        _ = X64.T @ X64
        t["float64 Gram X^T X"] += time.perf_counter() - s
    gram = t["float64 Gram X^T X"]
    touched = np.mean([np.unique(np.concatenate(tg)).size for _, tg in batches[1:]])
    print(f"D={a.dim} |vocab|={a.vocab} texts/batch={a.texts} distinct tokens/batch={touched:.0f} reps={a.reps}")
    for name, sec in t.items():
        print(f"{name:>24}: {sec / a.reps * 1e3:8.2f} ms/batch  = {sec / gram:5.2f}x the Gram product")
    print(f"speed-up over the dense update: {t['dense update (before)'] / t['touched rows (today)']:.1f}x; "
          f"max |difference| in sum x y^T: {float((new._sxy - old._sxy).abs().max()):.3g}")


if __name__ == "__main__":
    main()
