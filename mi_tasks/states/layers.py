"""Layer specs: which of a model's L+1 hidden states (0 = embeddings, L = last block) to read."""
from __future__ import annotations

from collections.abc import Sequence

from ..errors import MiTasksError

LayerSpec = str | int | Sequence[int] | None


def _check_index(i: int, num_layers: int) -> int:
    n = num_layers + 1
    if not -n <= i < n:
        raise MiTasksError(
            f"unknown layer {i}: this model has hidden states 0..{num_layers} "
            f"(0 = embeddings, {num_layers} = last block); negative indices count from the end"
        )
    return i % n


def _parse_depths(spec: str, num_layers: int) -> list[int]:
    parts = spec.split(":")
    try:
        start, stop, step = (float(p) for p in parts)
    except ValueError:
        raise MiTasksError(
            f"bad depth range {spec!r}: write start:stop:step with fractions of depth, e.g. 0:1:0.25"
        ) from None
    if not (0.0 <= start <= 1.0 and 0.0 <= stop <= 1.0 and step > 0):
        raise MiTasksError(f"bad depth range {spec!r}: start and stop must lie in [0, 1] and step be > 0")
    out, k = [], 0
    while start + k * step <= stop + 1e-9:
        out.append(int(round((start + k * step) * num_layers)))
        k += 1
    return out


def parse_layers(spec: LayerSpec, num_layers: int) -> list[int]:
    """Turn a layer spec into sorted, unique state indices in 0..num_layers.

    Accepted: ``"all"`` or None; an int; a list of ints; a comma list ``"0,6,-1"``;
    normalized depths ``"0:1:0.25"`` (fractions of L, rounded to the nearest index).
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "all"):
        return list(range(num_layers + 1))
    if isinstance(spec, bool):
        raise MiTasksError(f"bad layer spec {spec!r}: use 'all', indices like '0,6,-1' or depths like '0:1:0.25'")
    if isinstance(spec, int):
        return [_check_index(spec, num_layers)]
    if isinstance(spec, str):
        s = spec.strip()
        if ":" in s:
            idx = _parse_depths(s, num_layers)
        else:
            try:
                idx = [int(p) for p in s.replace(" ", "").split(",") if p != ""]
            except ValueError:
                raise MiTasksError(
                    f"bad layer spec {spec!r}: use 'all', indices like '0,6,-1' or depths like '0:1:0.25'"
                ) from None
    else:
        try:
            idx = [int(i) for i in spec]
        except (TypeError, ValueError):
            raise MiTasksError(f"bad layer spec {spec!r}: give a list of integer layer indices") from None
    if not idx:
        raise MiTasksError(f"layer spec {spec!r} selects no layer")
    return sorted({_check_index(i, num_layers) for i in idx})


def normalized_depth(layer: int, num_layers: int) -> float:
    """Depth as a fraction of the model's blocks, so models of different depth share one axis."""
    return layer / num_layers if num_layers else 0.0
