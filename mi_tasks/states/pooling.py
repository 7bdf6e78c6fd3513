"""Pool a batch of token states into one vector per text; correct under left or right padding."""
from __future__ import annotations

import torch

from ..errors import MiTasksError

POOLINGS = ("mean", "last", "first")


def check_pooling(name: str) -> str:
    if name not in POOLINGS:
        raise MiTasksError(f"unknown pooling {name!r}: choose one of {', '.join(POOLINGS)}")
    return name


def content_tokens(attention_mask: torch.Tensor, content_mask: torch.Tensor | None) -> torch.Tensor:
    """(B, T) bool: real non-special tokens, or all real tokens for a text that has no other kind."""
    real = attention_mask.bool()
    if content_mask is None:
        return real
    mask = content_mask.bool() & real
    empty = mask.sum(1) == 0
    return torch.where(empty[:, None], real, mask) if empty.any() else mask


def pool(
    states: torch.Tensor,
    attention_mask: torch.Tensor,
    method: str,
    content_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pool ``states`` (B, T, D) to (B, D) in float32.

    ``attention_mask`` marks real tokens (1) vs padding (0). ``content_mask`` marks the tokens
    that ``mean`` averages (real, non-special tokens); where a text has none (e.g. only special
    tokens) its real tokens are averaged instead. ``last``/``first`` take the last/first real
    token wherever padding sits.
    """
    check_pooling(method)
    real = attention_mask.bool()
    if method == "mean":
        w = content_tokens(attention_mask, content_mask).to(torch.float32).unsqueeze(-1)
        return (states.to(torch.float32) * w).sum(1) / w.sum(1).clamp_min(1.0)
    positions = torch.arange(real.shape[1], device=real.device).expand_as(real)
    if method == "last":
        idx = torch.where(real, positions, torch.full_like(positions, -1)).max(1).values
    else:
        big = real.shape[1]
        idx = torch.where(real, positions, torch.full_like(positions, big)).min(1).values
    rows = torch.arange(states.shape[0], device=states.device)
    return states[rows, idx].to(torch.float32)
