"""Per-text reductions of token states that a metric asks the pass to compute where the states are.

A metric that needs more of a text than its pooled vector (token-Gram spectra, curvature) hands
the pass a :class:`TokenReducer`; the pass applies it to every requested layer of every batch on
the model's device and keeps only its small output, so token matrices never pile up in memory and
the pass needs no knowledge of which metric asked.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

ReduceFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class TokenReducer:
    """``fn(states (B, T, D), content (B, T) bool) -> (B, ...)`` stored under ``name`` in each batch."""

    name: str
    fn: ReduceFn

    def __call__(self, states: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
        return self.fn(states, content)


def merge_reducers(*groups: Iterable[TokenReducer]) -> tuple[TokenReducer, ...]:
    """The union of several metrics' reducers, each name once, in first-asked order."""
    out: dict[str, TokenReducer] = {}
    for group in groups:
        for r in group:
            out.setdefault(r.name, r)
    return tuple(out.values())
