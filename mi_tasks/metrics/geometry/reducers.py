"""Reductions of each text's token states computed in the pass where they are: curvature and the study's view pooling."""
from __future__ import annotations

import torch

from ...states.reducers import TokenReducer


def centred_unit_tokens(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T, D) float32: each text's counted token rows centred on their mean and scaled to unit length.

    Rows outside ``mask`` and rows of zero length come back as zeros. This is the study's
    ``normalize`` of one text's token states, for a padded batch at once on the states' device.
    """
    x = states.float()
    w = mask.to(x.dtype).unsqueeze(-1)
    z = (x - (x * w).sum(1, keepdim=True) / w.sum(1, keepdim=True).clamp_min(1.0)) * w
    norm = z.norm(dim=-1, keepdim=True)
    return torch.where(norm > 0, z / norm.clamp_min(torch.finfo(x.dtype).tiny), torch.zeros_like(z))


def batch_curvature(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, 2) per text: mean angle between successive token-difference vectors, arccos|cos| then arccos(cos).

    The definition of :func:`~mi_tasks.metrics.geometry.curvature.text_curvature` (each text's rows
    centred and unit-scaled first, zero-length steps left out; NaN under 3 usable tokens), both
    forms from one pass so the ``absolute_cosine`` setting needs no second one. A step joins two
    neighbouring counted tokens, which are contiguous in every tokenizer's layout (specials sit at the ends).
    """
    z = centred_unit_tokens(states, mask)
    tiny = torch.finfo(z.dtype).tiny
    v = z[:, 1:] - z[:, :-1]
    step_ok = mask[:, 1:] & mask[:, :-1]
    a, b = v[:, :-1], v[:, 1:]
    lengths = a.norm(dim=-1) * b.norm(dim=-1)
    ok = step_ok[:, :-1] & step_ok[:, 1:] & (lengths > 0)
    cos = ((a * b).sum(-1) / lengths.clamp_min(tiny)).clamp(-1.0, 1.0)
    count = ok.sum(1)
    out = []
    for c in (cos.abs(), cos):
        angle = torch.where(ok, torch.arccos(c), torch.zeros_like(c))
        out.append(torch.where(count > 0, angle.sum(1) / count.clamp_min(1), torch.full_like(angle[:, 0], float("nan"))))
    return torch.stack(out, dim=1)


def batch_unit_token_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, D): the mean of each text's centred, unit-length token rows (how the study pools a view)."""
    w = mask.to(torch.float32).unsqueeze(-1)
    return centred_unit_tokens(states, mask).sum(1) / w.sum(1).clamp_min(1.0)


CURVATURE = TokenReducer("curvature", batch_curvature)
UNIT_TOKEN_MEAN = TokenReducer("unit_token_mean", batch_unit_token_mean)
