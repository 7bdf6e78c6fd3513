"""Eigenvalue spectra of centred, row-normalised state matrices: what matrix entropy is computed from.

As docs/metrics.md defines it: Z = states (N×D), centred over rows, rows L2-normalised; K = Z·Zᵀ (or Zᵀ·Z, the smaller)
divided by its trace. The spectra here have trace 1, are sorted in descending order and are
zero-padded, so texts of different lengths stack into one tensor.
"""
from __future__ import annotations

import numpy as np
import torch

from ...errors import MiTasksError
from ...states.reducers import TokenReducer


def _centre_normalise(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, N, D), centred over the masked rows, rows of unit length, masked rows zero."""
    w = mask.to(x.dtype).unsqueeze(-1)
    mean = (x * w).sum(1, keepdim=True) / w.sum(1, keepdim=True).clamp_min(1.0)
    z = (x - mean) * w
    norm = z.norm(dim=-1, keepdim=True)
    tiny = torch.finfo(x.dtype).tiny
    keep = norm > 1e-6 * norm.amax(dim=1, keepdim=True).clamp_min(tiny)
    return torch.where(keep, z / norm.clamp_min(tiny), 0.0)


def token_gram_spectra(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-text spectra of a batch of token states.

    states: (B, N, D) hidden states of one layer (any dtype, padded); mask: (B, N) bool, the
    tokens of each text that count. Returns (B, min(N, D)) float32: eigenvalues of each text's
    trace-normalised Gram matrix, descending, zero where the text has fewer tokens.
    """
    # float32 throughout (entropy agrees with a float64 computation to ~1e-6); it halves the cost
    x = states.detach().to(torch.float32)
    z = _centre_normalise(x, mask.bool())
    n, d = z.shape[1], z.shape[2]
    gram = z @ z.transpose(1, 2) if n <= d else z.transpose(1, 2) @ z
    trace = gram.diagonal(dim1=1, dim2=2).sum(-1)
    eig = torch.linalg.eigvalsh(gram).to(torch.float64).clamp_min(0.0).flip(-1)
    trace = trace.to(torch.float64)
    eig = eig / trace.clamp_min(1e-30).unsqueeze(-1)
    return torch.where(trace.unsqueeze(-1) > 0, eig, 0.0).to(torch.float32)


def matrix_spectrum(states: np.ndarray | torch.Tensor) -> np.ndarray:
    """Spectrum of one state matrix (N, D): centred over rows, rows normalised, trace 1 (float64)."""
    x = torch.as_tensor(np.asarray(states, dtype=np.float64))
    if x.ndim != 2:
        raise MiTasksError(f"states must be a matrix (N, D), got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise MiTasksError("states contain NaN or inf; check the model's dtype (reload in float32)")
    z = _centre_normalise(x.unsqueeze(0), torch.ones(1, x.shape[0], dtype=torch.bool))[0]
    gram = z @ z.T if z.shape[0] <= z.shape[1] else z.T @ z
    trace = float(gram.trace())
    if trace <= 0:
        return np.zeros(min(z.shape), dtype=np.float64)
    eig = torch.linalg.eigvalsh(gram).clamp_min(0.0).flip(-1) / trace
    return eig.numpy()


SPECTRA = TokenReducer("token_gram_spectra", lambda states, mask: token_gram_spectra(states, mask))
"""What entropy asks of the pass: each text's token-Gram spectrum per layer."""
