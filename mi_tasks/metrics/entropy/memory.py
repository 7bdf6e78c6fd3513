"""What the entropy family holds at its peak, from a run's shape (bytes, before any pass).

"held": for the whole computation (pooled states of every layer, per-text entropies); "per layer":
one layer's transient work (the token spectra of one batch in the pass, on the model's device,
and the dataset spectrum). The peak is their sum; the random copy's pass (Diff-eRank) repeats the
held part for its ``random_limit`` texts.
"""
from __future__ import annotations

from ..family import RunShape

F32, F64 = 4, 8


def entropy_bytes(shape: RunShape, random_texts: int = 0) -> dict[str, int]:
    big_l, n, d, t, b = shape.n_layers, shape.n_texts, shape.hidden, shape.max_tokens, shape.batch_size
    m = min(n, d)
    parts = {"held: pooled states (float32, every layer)": big_l * n * d * F32,
             "held: per-text entropies and spectra": 2 * big_l * n * F64 + big_l * n * min(t, d) * F32,
             f"per layer: token spectra of one batch (float32, on {shape.device})": 2 * b * t * d * F32
             + 2 * b * min(t, d) ** 2 * F32,
             "per layer: dataset spectrum (float64)": 3 * n * d * F64 + 2 * m * m * F64}
    if random_texts:
        parts["held: random copy's pooled states (Diff-eRank)"] = big_l * random_texts * d * F32
    return parts
