"""Information-theoretic bounds in bits: Fano's lower bound on token-level MI and its pieces."""
from __future__ import annotations

import numpy as np

from ...errors import MiTasksError


def binary_entropy(p: float) -> float:
    """H_b(p) in bits; 0 at p in {0, 1}."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return float(-p * np.log2(p) - (1 - p) * np.log2(1 - p))


def fano_mi_bits(error_rate: float, vocab_size: int, entropy_bits: float | None = None) -> float:
    """Fano lower bound I(t;E) >= H(t) - H_b(P_e) - P_e log2(|V|-1), clipped at 0 (MI is never negative).

    ``entropy_bits`` defaults to log2|V| (the paper's uniform-token assumption). With the mean error
    rate over texts the bound stays valid: H_b is concave, so averaging P_e first only loosens it.
    """
    if vocab_size < 2:
        raise MiTasksError(f"Fano's bound needs a vocabulary of at least 2 tokens, got {vocab_size}; score a corpus with more than one token type")
    if not 0.0 <= error_rate <= 1.0:
        raise MiTasksError(f"error rate must lie in [0, 1], got {error_rate}: pass 1 - recall@k")
    h = float(np.log2(vocab_size)) if entropy_bits is None else float(entropy_bits)
    return max(0.0, h - binary_entropy(error_rate) - error_rate * float(np.log2(vocab_size - 1)))


def fano_is_vacuous(error_rate: float, vocab_size: int, entropy_bits: float | None = None) -> bool:
    """Whether Fano's bound is at most 0 before the clamp: it then only restates I >= 0 and measures nothing."""
    h = float(np.log2(vocab_size)) if entropy_bits is None else float(entropy_bits)
    return h - binary_entropy(error_rate) - error_rate * float(np.log2(max(vocab_size - 1, 1))) <= 0.0


def entropy_bits(counts: np.ndarray) -> float:
    """Plug-in Shannon entropy (bits) of a count vector."""
    c = np.asarray(counts, dtype=np.float64)
    c = c[c > 0]
    if c.size == 0:
        return 0.0
    p = c / c.sum()
    return float(-(p * np.log2(p)).sum())


def unseen_mass(counts: np.ndarray) -> float:
    """Good-Turing estimate of the probability of a token type never seen in training (N1/N)."""
    c = np.asarray(counts)
    total = c.sum()
    if total <= 0:
        return 1.0
    return float(min(0.5, max((c == 1).sum() / total, 1.0 / (total + 1))))
