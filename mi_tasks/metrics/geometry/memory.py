"""What the geometry and views families hold at their peak, from a run's shape (bytes, before any pass).

"held" parts live for the whole computation (every layer's pooled states); "per layer" parts are one
layer's transient work, freed before the next layer. The peak is their sum. Float32 states, float64
linear algebra, as the code does it.
"""
from __future__ import annotations

from ..family import RunShape

F32, F64 = 4, 8


def geometry_bytes(shape: RunShape) -> dict[str, int]:
    """Pooled states of every layer, the CKA Grams, and one layer's TwoNN/GRIDE/CKA work."""
    big_l, n, d = shape.n_layers, shape.n_texts, shape.hidden
    cka_held = big_l * n * n * F64 if n <= d else 2 * d * d * F64
    return {"held: pooled states (float32, every layer)": big_l * n * d * F32,
            "held: CKA Gram matrices (float64, every layer)": cka_held,
            "held: CKA's centred states (float64, every layer, while the matrix is built)": big_l * n * d * F64,
            "held: curvature per text": big_l * n * F64,
            # in the pass: float32 copy, centred unit rows, steps and their neighbours
            f"per layer: curvature of one batch (float32, on {shape.device})": 4 * shape.batch_size * shape.max_tokens * d * F32,
            # float64 copy, unique rows and the neighbour search's distance block (scikit-learn)
            "per layer: intrinsic dimension": 2 * n * d * F64 + n * n * F64,
            "per layer: CKA centring (float64)": 2 * n * d * F64 + min(n, d) ** 2 * F64}


def views_bytes(shape: RunShape, n_views: int) -> dict[str, int]:
    """Every layer's pooled views (on the states' device), the two DiME/InfoNCE views, one layer's LiDAR and DiME."""
    big_l, n, d, v = shape.n_layers, shape.n_texts, shape.hidden, n_views
    rows = n * v
    span = min(rows, d)  # LiDAR works in the rows' span: no D × D matrix when n·V < D
    lidar = (2 * rows * d * F64  # float64 copy and its centred rows
             + 2 * rows * rows * F64 * (rows <= d)  # Gram matrix and its eigenvectors
             + 2 * rows * span * F64  # coordinates and within-text residuals
             + 4 * span * span * F64)  # scatter, its group downdate, Cholesky factor, workspace
    return {f"held: pooled views (float32, every layer, on {shape.device})": big_l * rows * d * F32,
            "held: two views for DiME and InfoNCE (host)": big_l * n * 2 * d * F32,
            f"per layer: LiDAR with its jackknife (float64, on {shape.device})": lidar,
            "per layer: DiME and InfoNCE (float64)": 2 * n * d * F64 + 5 * n * n * F64}
