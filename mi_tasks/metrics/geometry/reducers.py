"""Curvature of each text's token trajectory, computed in the pass where the token states are."""
from __future__ import annotations

import torch

from ...states.reducers import TokenReducer


def batch_curvature(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B,) mean angle between successive token-difference vectors of each text (NaN under 3 usable tokens).

    The definition of :func:`~mi_tasks.metrics.geometry.curvature.text_curvature` (each text's rows
    centred and unit-scaled first, arccos |cos|, zero-length steps left out), for a whole padded
    batch at once on the states' device in float32. A step joins two neighbouring counted tokens,
    which are contiguous in every tokenizer's layout (specials sit at the ends).
    """
    x = states.float()
    w = mask.to(x.dtype).unsqueeze(-1)
    tiny = torch.finfo(x.dtype).tiny
    z = (x - (x * w).sum(1, keepdim=True) / w.sum(1, keepdim=True).clamp_min(1.0)) * w
    norm = z.norm(dim=-1, keepdim=True)
    z = torch.where(norm > 0, z / norm.clamp_min(tiny), torch.zeros_like(z))
    v = z[:, 1:] - z[:, :-1]
    step_ok = mask[:, 1:] & mask[:, :-1]
    a, b = v[:, :-1], v[:, 1:]
    lengths = a.norm(dim=-1) * b.norm(dim=-1)
    ok = step_ok[:, :-1] & step_ok[:, 1:] & (lengths > 0)
    cos = ((a * b).sum(-1) / lengths.clamp_min(tiny)).abs().clamp(0.0, 1.0)
    angle = torch.where(ok, torch.arccos(cos), torch.zeros_like(cos))
    count = ok.sum(1)
    return torch.where(count > 0, angle.sum(1) / count.clamp_min(1), torch.full_like(angle[:, 0], float("nan")))


CURVATURE = TokenReducer("curvature", batch_curvature)
