"""One word tokenization shared by every model: the targets that compare models with different tokenizers.

A model's own tokens make recoverability a property of model and tokenizer together (30,522
WordPiece types against 49,152 BPE types answer different questions). Words do not depend on the
model: sacrebleu's 13a tokenizer (the WMT standard) on the lowercased text, tokens without a letter
or digit dropped, each word once per text. The MTEB MI tasks and the lm-eval tasks with
``targets: words`` both use this module.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

TARGETS = ("tokens", "words")
"""What a recoverability decoder predicts: the model's own ``tokens`` (the paper) or shared ``words``."""

WORD_TOKENIZATION = ("words: sacrebleu's 13a tokenizer on the lowercased text, tokens without a letter or digit "
                     "dropped, each word counted once per text")
_HAS_WORD_CHAR = re.compile(r"\w")


def text_words(text: str) -> list[str]:
    """The distinct words of ``text`` in first-seen order, as :data:`WORD_TOKENIZATION` defines them."""
    tokens = _tokenizer13a()(text.lower()).split()
    return list(dict.fromkeys(t for t in tokens if _HAS_WORD_CHAR.search(t)))


@functools.lru_cache(maxsize=1)
def _tokenizer13a() -> Any:
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    return Tokenizer13a()


class WordIndex:
    """Word ids by first appearance; ``copy`` before adding an eval corpus keeps the fitted index unchanged."""

    def __init__(self, words: dict[str, int] | None = None) -> None:
        self.ids: dict[str, int] = dict(words or {})

    def __len__(self) -> int:
        return len(self.ids)

    def copy(self) -> "WordIndex":
        return WordIndex(self.ids)

    def targets(self, texts: Iterable[str]) -> list[np.ndarray]:
        """Each text's word ids (new words get the next ids), in first-seen order within the text."""
        ids = self.ids
        return [np.array([ids.setdefault(w, len(ids)) for w in text_words(t)], dtype=np.int64) for t in texts]


def word_targets(*splits: Sequence[str]) -> tuple[list[list[np.ndarray]], dict[str, int]]:
    """Word-id targets per split and the word vocabulary (ids by first appearance across the splits, in order)."""
    index = WordIndex()
    out = [index.targets(texts) for texts in splits]
    return out, index.ids
