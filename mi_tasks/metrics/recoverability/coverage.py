"""Whether recoverability scores can mean anything: eval texts need targets, and the decoder must know them.

A decoder predicts only what its train corpus held. Where the eval texts hold no target at all
(punctuation only, or every text truncated to nothing) recall, lift and the bounds would be 0 by
construction: refused. Where few eval targets occur in the train corpus (Japanese eval text,
English train corpus) recall measures the vocabulary overlap more than the states: the share
covered is recorded, and below :data:`COVERAGE_THRESHOLD` the result carries a flag that the log,
the printed tables and the cards repeat.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ...errors import MiTasksError

log = logging.getLogger(__name__)

COVERAGE_THRESHOLD = 0.5
"""Least share of eval target occurrences that the train corpus holds before a result is flagged.

Below half, most of what the decoder is asked to recover it has never seen, so recall is capped
by the overlap of the two corpora rather than by what the hidden states keep."""

FLAGS_KEY = "flags"
"""Key of the result meta listing why its numbers need a caveat (one sentence each)."""


def assess_targets(counts: np.ndarray, in_vocab: np.ndarray, n_texts: int, n_without: int, targets: str) -> dict[str, Any]:
    """Meta entries on target coverage (and flags), or a refusal where no eval text has a target.

    ``counts``: per target id, eval texts holding it; ``in_vocab``: ids the decoder vocabulary (the
    train corpus) holds; ``n_without``: eval texts with no target.
    """
    total = int(counts.sum())
    what = "word" if targets == "words" else "non-special token"
    if total == 0:
        raise MiTasksError(f"none of the {n_texts} eval texts holds a {what}, so recall, lift and the bounds would be "
                           "0 by construction; use eval texts with words (or a larger max_text_length)")
    covered = float(counts[in_vocab].sum() / total)
    flags = []
    if covered < COVERAGE_THRESHOLD:
        flags.append(f"only {covered:.1%} of the eval {what}s occur in the train corpus (threshold "
                     f"{COVERAGE_THRESHOLD:.0%}): the decoder cannot predict the rest, so recall mostly measures "
                     "the corpora's overlap; train on text of the eval corpus' language and domain")
    if n_without:
        flags.append(f"{n_without} of {n_texts} eval texts hold no {what} and score 0")
    for flag in flags:
        log.warning("recoverability: %s", flag)
    return {"target_coverage": covered, "eval_texts_without_targets": int(n_without),
            "coverage_threshold": COVERAGE_THRESHOLD, FLAGS_KEY: flags}
