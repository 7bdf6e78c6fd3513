"""Seeded text augmenter: V noisy views of each text, for the view-based metrics (LiDAR, DiME, InfoNCE).

The study made its views with nlpaug's character, keyboard and word-split augmenters. nlpaug's last
release is from 2022 and it pulls in pandas, requests and gdown for these few string edits, so this
module does the same kinds of edits itself, from one numpy generator: the views depend only on the
seed, the text's position and the view number, never on the process or the order of calls.

Each word (whitespace-separated) is edited with probability ``word_p`` by one operation drawn
uniformly from: a keyboard typo (a letter replaced by a QWERTY neighbour), a random letter
substituted, two adjacent letters swapped, a letter deleted, a letter inserted, or the word split
in two at a random inner position. Words shorter than ``min_word_len`` are left alone, as nlpaug does.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import MiTasksError

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
OPERATIONS = ("keyboard", "substitute", "swap", "delete", "insert", "split")
"""The edits a view may apply to a word, each equally likely."""


def _neighbours() -> dict[str, str]:
    pos = {c: (r, i) for r, row in enumerate(_ROWS) for i, c in enumerate(row)}
    out = {}
    for c, (r, i) in pos.items():
        near = [o for o, (r2, i2) in pos.items() if o != c and abs(r2 - r) <= 1 and abs(i2 - i) <= 1]
        out[c] = "".join(near)
    return out


_KEYBOARD = _neighbours()


def _match_case(new: str, old: str) -> str:
    return new.upper() if old.isupper() else new


def _edit(word: str, op: str, rng: np.random.Generator) -> str:
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    if op == "split":
        return word[: (k := int(rng.integers(1, len(word))))] + " " + word[k:]
    if not letters:
        return word
    i = int(rng.choice(letters))
    c = word[i]
    if op == "keyboard":
        near = _KEYBOARD.get(c.lower(), "")
        return word if not near else word[:i] + _match_case(near[int(rng.integers(len(near)))], c) + word[i + 1:]
    if op == "substitute":
        return word[:i] + _match_case(_LETTERS[int(rng.integers(26))], c) + word[i + 1:]
    if op == "swap":
        j = i + 1 if i + 1 < len(word) else i - 1
        lo, hi = min(i, j), max(i, j)
        return word[:lo] + word[hi] + word[lo] + word[hi + 1:]
    if op == "delete":
        return word[:i] + word[i + 1:]
    return word[:i] + _LETTERS[int(rng.integers(26))] + word[i:]  # insert


def augment_text(text: str, rng: np.random.Generator, word_p: float = 0.15, min_word_len: int = 4) -> str:
    """One noisy view of ``text`` drawn with ``rng`` (see the module docstring for the edits)."""
    words = text.split(" ")
    for k, w in enumerate(words):
        if len(w) >= min_word_len and rng.random() < word_p:
            words[k] = _edit(w, OPERATIONS[int(rng.integers(len(OPERATIONS)))], rng)
    return " ".join(words)


def augment_texts(texts: Sequence[str], n_views: int, seed: int = 0, word_p: float = 0.15,
                  min_word_len: int = 4) -> list[list[str]]:
    """``n_views`` views of every text: out[i][v] is view v of texts[i], from generator (seed, i, v)."""
    if n_views < 1:
        raise MiTasksError(f"n_views must be >= 1, got {n_views}")
    if not 0.0 <= word_p <= 1.0:
        raise MiTasksError(f"word_p is a probability in [0, 1], got {word_p}")
    if min_word_len < 2:
        raise MiTasksError(f"min_word_len must be >= 2 (a word split needs two letters), got {min_word_len}")
    return [[augment_text(t, np.random.default_rng([seed, i, v]), word_p, min_word_len) for v in range(n_views)]
            for i, t in enumerate(texts)]
