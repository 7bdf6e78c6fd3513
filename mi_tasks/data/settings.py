"""Which corpus a task reads, as a train or an eval corpus: the settings ``train_*`` and ``eval_*``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import Settings, setting


@dataclass(frozen=True)
class CorpusSettings(Settings):
    """A corpus (registered name or file path), its seeded sample size and how rows become texts."""

    corpus: str = setting("agnews", str, "registered name (name:split) or file path")
    limit: int | None = setting(None, int, "texts; null for the whole corpus", low=1, nullable=True)
    text_field: str | None = setting(None, str, "text field of a .jsonl/.csv/.tsv file (null: text)", nullable=True)
    template: str | None = setting(None, str, "format string joining fields, e.g. '{title}. {content}'", nullable=True)
    header: bool | None = setting(None, bool, "whether a .csv/.tsv file has a header row (null: yes unless columns are given)", nullable=True)
    columns: tuple[str, ...] | None = setting(None, tuple, "column names of a header-less .csv/.tsv", nullable=True)
    quoting: bool | None = setting(None, bool, "whether quotes are special in a .csv/.tsv file (null: yes in .csv; "
                                   "a .tsv is read the one way all its rows fit)", nullable=True)

    def check(self, where: str = "") -> None:
        """A template must be a format string of named fields before any corpus is read."""
        from .files import check_template

        check_template(self.template, f"{self.PREFIX}template{where}")

    @property
    def role(self) -> str:
        return self.PREFIX.rstrip("_")

    def load_kwargs(self, seed: int) -> dict[str, Any]:
        """Keywords of :func:`~mi_tasks.data.corpora.load_corpus` (the source is ``corpus``)."""
        return {"text_field": self.text_field, "template": self.template, "limit": self.limit, "seed": seed,
                "header": self.header, "columns": self.columns, "quoting": self.quoting,
                "limit_name": f"{self.role}_limit"}


@dataclass(frozen=True)
class TrainCorpusSettings(CorpusSettings):
    """The corpus recoverability's decoders are fitted on."""

    PREFIX = "train_"
    corpus: str = setting("dbpedia14", str, "registered name (name:split) or file path")
    limit: int | None = setting(5000, int, "train texts; null for the whole corpus", low=1, nullable=True)


@dataclass(frozen=True)
class EvalCorpusSettings(CorpusSettings):
    """The corpus every metric is scored on (a task's documents)."""

    PREFIX = "eval_"
    corpus: str = setting("agnews", str, "registered name (name:split) or file path")
    limit: int | None = setting(1000, int, "eval texts; null for the whole corpus", low=1, nullable=True)
