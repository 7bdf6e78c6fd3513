"""Word recoverability from one embedding per text (no layers): the decoder fitted on train embeddings.

Targets do not depend on the model: every encoder is scored on recovering the same words, from one
fixed tokenization (:data:`~.words.WORD_TOKENIZATION`), so models with different tokenizers, or none,
compare on one scale. These numbers are therefore not ``mi_recoverability``'s with token targets.
"""
from __future__ import annotations

import numpy as np

from ...errors import MiTasksError
from ..embedding import EmbeddingScorer, EmbeddingScores
from ..result import Scores
from .probe import RecoverabilityProbe
from .words import WORD_TOKENIZATION, word_targets


class WordRecoverabilityScorer(EmbeddingScorer):
    """A ridge decoder from train embeddings to each text's set of words, scored on the test texts: recall@k
    (k = the text's number of distinct words; main score), its lift over the frequency prior, Fano's bound with
    |V| = the word types of the task's texts, and the Barber-Agakov bound, each with a standard error."""

    task_name = "MIRecoverability"
    description = ("Token recoverability of a text's words from its embedding (mi-tasks): a ridge decoder fitted on "
                   "train embeddings predicts each test text's set of words; recall@k with k = its number of distinct "
                   "words, lift over the frequency prior, Fano's lower bound on I(words; embedding) in bits (|V| = word "
                   f"types of the task's texts) and the Barber-Agakov bound. Targets: {WORD_TOKENIZATION}.")
    headline = ("recall_at_k", "lift_recall_at_k", "fano_mi_bits", "ba_mi_bits")
    needs_train = True
    scored = ("recall_at_k", "lift_recall_at_k", "fano_mi_bits", "fano_mi_bits_norm", "fano_mi_bits_empirical",
              "ba_mi_bits", "ba_mi_bits_norm", "cosine", "cross_entropy_bits")

    def check(self) -> None:
        (train_targets, _), self.word_vocab = word_targets(self.train_texts, self.test_texts)
        if len(self.word_vocab) < 2:
            raise MiTasksError(f"{self.name}: the texts hold {len(self.word_vocab)} distinct words; "
                               "recoverability needs at least 2")
        if not any(len(t) for t in train_targets):
            raise MiTasksError(f"{self.name}: no train text holds a word ({WORD_TOKENIZATION})")

    def score(self, train: np.ndarray | None, test: np.ndarray) -> EmbeddingScores:
        # word targets from the core probe: the same ids as word_targets(train, test), so |V| = the task's word types
        probe = RecoverabilityProbe(fit="ridge", seed=self.seed, text_metrics=False, targets="words")
        res = probe.fit_arrays(train, self.train_texts).score_arrays(test, self.test_texts)
        row, prior, meta = res.layers[0], res.prior, res.meta
        extras = {f"prior_{k}": float(prior[k]) for k in ("recall_at_k", "fano_mi_bits", "cross_entropy_bits")}
        extras.update({"word_vocab_size": len(self.word_vocab), "decoder_vocab_size": int(meta["decoder_vocab_size"]),
                       "unigram_entropy_bits": float(meta["unigram_entropy_bits"]),
                       "ridge_alpha": float(row["ridge_alpha"]), "coverage_tokens": float(meta["coverage_tokens"])})
        return EmbeddingScores(Scores({k: row.measurement(k) for k in self.scored}, flags=row.flags), extras)
