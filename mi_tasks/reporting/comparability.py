"""Which recoverability results may be compared across models, and what to say where they may not.

Token targets are each model's own tokens: two models with different tokenizers then answer
different questions (30,522 WordPiece types against 49,152 BPE types), so ranking them by recall,
Fano or Barber-Agakov bits compares tokenizers as much as hidden states. Word targets are the same
for every model. Reports, figures and leaderboard rows flag a task whose token-target results mix
tokenizers, and say how to get comparable ones.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..errors import MiTasksError
from .results import Results, TaskCurves

log = logging.getLogger(__name__)

HOW_TO_COMPARE = ("for numbers that compare models, re-run with word targets: lm_eval ... --metadata "
                  "'{\"targets\": \"words\"}', or mi-tasks suite --targets words")


def is_recoverability(t: TaskCurves) -> bool:
    """A task scored by recoverability decoders (it records its decoder vocabulary)."""
    return "decoder_vocab_size" in t.meta or "word_vocab_size" in t.meta


def targets_of(t: TaskCurves) -> str | None:
    """``tokens`` or ``words`` for a recoverability task (older results: tokens; MTEB MI tasks: words), else None."""
    if not is_recoverability(t):
        return None
    if "word_vocab_size" in t.meta:
        return "words"
    return str(t.meta.get("targets") or t.settings.get("targets") or "tokens")


def tokenizer_of(t: TaskCurves) -> str:
    """The tokenizer's identity: its vocabulary hash where recorded, else its size."""
    tok = t.meta.get("tokenizer")
    if isinstance(tok, dict) and tok.get("sha256"):
        return str(tok["sha256"])
    return f"|V|={t.meta.get('vocab_size')}"


def _tokenizer_label(t: TaskCurves) -> str:
    tok = t.meta.get("tokenizer")
    size = tok.get("vocab_size") if isinstance(tok, dict) else t.meta.get("vocab_size")
    cls = f"{tok['class']}, " if isinstance(tok, dict) and tok.get("class") else ""
    return f"{t.run.label} ({cls}{size:,} tokens)" if isinstance(size, int) else t.run.label


@dataclass
class Clash:
    """A task whose token-target results come from different tokenizers."""

    task: str
    runs: list[str]
    message: str


def token_target_clashes(results: Results) -> list[Clash]:
    """Tasks whose token-target results mix tokenizers: recall, Fano and BA do not compare across them."""
    out = []
    for task in results.task_names():
        every = [t for t in results.tasks if t.task == task and targets_of(t) is not None]
        if len({targets_of(t) for t in every}) > 1:
            kinds = ", ".join(f"{t.run.label} ({targets_of(t)})" for t in every)
            out.append(Clash(task=task, runs=[t.run.label for t in every],
                             message=f"{task}: runs with word and with token targets ({kinds}) answer different "
                                     f"questions; {HOW_TO_COMPARE}"))
            continue
        tasks = [t for t in every if targets_of(t) == "tokens"]
        if len({tokenizer_of(t) for t in tasks}) < 2:
            continue
        labels = [_tokenizer_label(t) for t in tasks]
        msg = (f"{task}: token targets of {', '.join(labels)} are each model's own tokens, so recall@k, Fano and "
               f"Barber-Agakov bits compare tokenizers as much as hidden states; {HOW_TO_COMPARE}")
        out.append(Clash(task=task, runs=[t.run.label for t in tasks], message=msg))
    return out


def comparable(results: Results, t: TaskCurves, clashes: list[Clash] | None = None) -> bool | None:
    """Whether ``t``'s numbers compare with the other runs of its task (None: not a recoverability task)."""
    if not is_recoverability(t):
        return None
    clashes = token_target_clashes(results) if clashes is None else clashes
    return not any(c.task == t.task and t.run.label in c.runs for c in clashes)


def check_comparable(results: Results, strict: bool = False) -> list[Clash]:
    """Log each clash once; with ``strict`` refuse them (one-line error naming the fix)."""
    clashes = token_target_clashes(results)
    if strict and clashes:
        raise MiTasksError(f"results not comparable across models: {clashes[0].message}")
    for c in clashes:
        log.warning("%s", c.message)
    return clashes


def vacuous_at(t: TaskCurves, metric: str, layer: int | None) -> bool:
    """Whether ``metric``'s value at ``layer`` is vacuous (a Fano bound at most 0: 0 by the clamp, not measured)."""
    return t.caveat_at(metric, layer) == "vacuous"


def describe_targets(t: TaskCurves) -> dict[str, Any]:
    """Targets and tokenizer columns for leaderboard rows and card args."""
    kind = targets_of(t)
    if kind is None:
        return {}
    tok = t.meta.get("tokenizer") if isinstance(t.meta.get("tokenizer"), dict) else {}
    out: dict[str, Any] = {"targets": kind}
    if kind == "tokens":
        out.update({"tokenizer": tok.get("name"), "tokenizer_vocab_size": tok.get("vocab_size", t.meta.get("vocab_size")),
                    "tokenizer_sha256": tok.get("sha256")})
    return {k: v for k, v in out.items() if v is not None}
