"""Thread limits around the estimators' linear algebra and training.

On a busy machine the spinning worker pools of torch and of numpy's BLAS stall small products badly,
and a fixed thread count makes training give the same numbers on every machine; both limits are
context managers so the caller's settings come back afterwards.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import torch


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the body on ``n`` torch threads (None: leave the setting alone)."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_BLAS: list[Any] = []  # one cached threadpoolctl controller (scanning the loaded libraries costs ~20 ms)


@contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Limit numpy's BLAS/LAPACK pool: its spinning threads stall badly on a busy machine."""
    if n is None:
        yield
        return
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController
            _BLAS.append(ThreadpoolController())
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            _BLAS.append(None)
    if _BLAS[0] is None:
        yield
        return
    with _BLAS[0].limit(limits=n, user_api="blas"):
        yield

