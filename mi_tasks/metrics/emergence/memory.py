"""What the emergence family holds at its peak, from a run's shape (bytes, before any pass).

The Gaussian estimate streams moments: per state a D × D second moment (float64 sum and a float32
batch accumulator) and per (l, l+1) pair a D × D cross moment, for the macro and the micro states;
the micro token states of every window are kept (float32) until their moments are taken.
"""
from __future__ import annotations

from ..family import RunShape

F32, F64 = 4, 8


def emergence_bytes(shape: RunShape, n_windows: int) -> dict[str, int]:
    states, pairs, d = shape.n_layers + 1, shape.n_layers, shape.hidden
    moments = 2 * (states + pairs) * d * d * (F64 + F32)
    return {"held: macro and micro moments (D × D per state and pair)": moments,
            "held: micro token states of every window (float32)": states * n_windows * d * F32,
            "per layer: Gaussian MI of one pair (float64)": 6 * d * d * F64}
