import numpy as np
import pytest

from mi_tasks.metrics.recoverability.text_metrics import _ROUGE, as_words, bleu4, rouge_l


def test_rouge_shortcut_equals_rouge_score():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = rng.permutation(60)[: rng.integers(1, 40)]
        b = rng.permutation(60)[: rng.integers(1, 40)]
        ref = _ROUGE.score(as_words(b), as_words(a))["rougeL"].fmeasure
        assert rouge_l(a, b) == pytest.approx(ref, abs=1e-12)
    # repeated tokens fall back to rouge-score itself
    assert rouge_l([1, 1, 2], [1, 2, 2]) == pytest.approx(_ROUGE.score("t1 t2 t2", "t1 t1 t2")["rougeL"].fmeasure)


def test_bleu_bounds():
    assert bleu4([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == pytest.approx(1.0)
    assert bleu4([7, 8, 9], [1, 2, 3]) == 0.0
    assert 0.0 < bleu4([1, 2, 3, 9, 5], [1, 2, 3, 4, 5]) < 1.0
    assert bleu4([], [1]) == 0.0
