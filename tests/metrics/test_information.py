import math

import numpy as np
import pytest

from mi_tasks.metrics.recoverability.bounds import binary_entropy, entropy_bits, fano_mi_bits, unseen_mass


def test_fano_matches_hand_computation():
    # |V| = 1024, P_e = 0.25: 10 - H_b(0.25) - 0.25*log2(1023)
    hb = -(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75))
    assert hb == pytest.approx(0.8112781245)
    expected = 10 - 0.8112781245 - 0.25 * 9.9985904297
    assert fano_mi_bits(0.25, 1024) == pytest.approx(expected, abs=1e-8)
    assert fano_mi_bits(0.25, 1024) == pytest.approx(6.6890742681, abs=1e-8)


def test_fano_edges_and_empirical_entropy():
    assert fano_mi_bits(0.0, 1024) == pytest.approx(10.0)  # perfect recovery: all of H(t)
    assert fano_mi_bits(1.0, 1024) == pytest.approx(10 - math.log2(1023))  # every token wrong
    assert fano_mi_bits(0.9, 1024, entropy_bits=5.0) == 0.0  # negative bound clipped at 0
    assert fano_mi_bits(0.0, 1024, entropy_bits=7.5) == pytest.approx(7.5)
    assert fano_mi_bits(0.5, 1024, entropy_bits=2.0) == 0.0
    with pytest.raises(ValueError):
        fano_mi_bits(1.5, 10)


def test_entropy_helpers():
    assert binary_entropy(0.5) == pytest.approx(1.0)
    assert binary_entropy(0.0) == 0.0
    assert entropy_bits(np.array([1, 1, 1, 1])) == pytest.approx(2.0)
    assert entropy_bits(np.array([5, 0, 0])) == 0.0
    assert unseen_mass(np.array([1, 1, 2, 4])) == pytest.approx(2 / 8)
