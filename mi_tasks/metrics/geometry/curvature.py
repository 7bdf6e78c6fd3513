"""Curvature of a text's trajectory through a layer's state space (Hosseini & Fedorenko; Skean et al.).

For token states z_1..z_N of one text, v_k = z_{k+1} − z_k and the curvature is the mean over k of
the angle between v_k and v_{k+1}. As in the study's code, the states are first centred over the
text's tokens with rows scaled to unit length, and the angle is arccos(|cos|) (so a step that turns
back counts as straight); ``absolute_cosine=False`` gives the paper's signed arccos(cos) instead.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..uncertainty import mean_stderr
from .arrays import as_states, centre_unit_rows
from ..result import Measurement


def text_curvature(tokens: np.ndarray, normalise: bool = True, absolute_cosine: bool = True) -> float:
    """Mean angle (radians) between successive token-difference vectors of one text's (N, D) states.

    NaN when fewer than 3 tokens, or when every step has zero length (the angle is undefined):
    steps of zero length are left out rather than counted as angle 0.
    """
    x = as_states(tokens, "token states")
    if normalise:
        x = centre_unit_rows(x)
    if x.shape[0] < 3:
        return float("nan")
    v = np.diff(x, axis=0)
    a, b = v[:-1], v[1:]
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    ok = norms > 0
    if not ok.any():
        return float("nan")
    cos = (a[ok] * b[ok]).sum(axis=1) / norms[ok]
    if absolute_cosine:
        cos = np.abs(cos)
    return float(np.arccos(np.clip(cos, -1.0, 1.0)).mean())


def curvature(texts: Sequence[np.ndarray], normalise: bool = True, absolute_cosine: bool = True) -> Measurement:
    """Mean over texts of ``text_curvature``; texts with an undefined curvature are skipped and counted."""
    return curvature_from_values([text_curvature(t, normalise, absolute_cosine) for t in texts])


def curvature_from_values(per_text: Sequence[float] | np.ndarray) -> Measurement:
    """The corpus curvature from per-text values (as the pass's reducer gives them); NaN ones skipped and counted."""
    values = np.asarray(per_text, dtype=np.float64)
    ok = np.isfinite(values)
    n = int(ok.sum())
    value = float(values[ok].mean()) if n else float("nan")
    return Measurement(value, mean_stderr(values[ok]), "mean over texts (sd/sqrt n)" if n >= 2 else
                    "none: fewer than 2 texts with 3 or more tokens", n, int(values.size - n))
