"""One definition per registered corpus, applied the same way to hub rows and to local files.

A definition names the hub dataset (id, config, pinned revision), the default split, the fields a
text is made of and how they join, which rows count as texts, and a repair of known escapes. Local
files are described by the hub field names their columns hold, and by whether they hold the same
rows as the hub split (``same_as_hub``) or another sample of the dataset.

Revisions: a commit is pinned only where a real one was known (AG News: the commit MTEB's own
``AGNewsClassification`` pins; WikiText: a commit used in public code). The others are ``None``
(the hub's current ``main``) until someone with hub access pins them; ``MI_TASKS_REVISION_<NAME>``
overrides any of them (e.g. ``MI_TASKS_REVISION_DBPEDIA14=<sha>``).
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .files import is_text_line

_AG_ENTITY = re.compile(r" ?#39;")


def _repair_agnews(text: str) -> str:
    """AG News keeps ``#39;`` (an apostrophe whose ``&`` was lost) and ``\\`` line breaks; undo both."""
    return _AG_ENTITY.sub("'", text).replace("\\", " ")


@dataclass(frozen=True)
class LocalFile:
    """A file of the data folder holding rows of one split; ``columns`` are hub field names when there is no header."""

    path: str
    same_as_hub: bool
    note: str
    header: bool = True
    columns: tuple[str, ...] | None = None
    quoting: bool = True


@dataclass(frozen=True)
class CorpusSpec:
    """A registered corpus: where it lives on the hub, and how a row becomes a text."""

    hub_path: str
    hub_name: str | None
    revision: str | None
    split: str
    splits: tuple[str, ...]
    fields: tuple[str, ...]
    joiner: str = ". "
    label_field: str | None = None
    label_names: tuple[str, ...] = ()
    keep: Callable[[str], bool] = bool
    repair: Callable[[str], str] | None = None
    local: dict[str, LocalFile] = field(default_factory=dict)

    def pinned_revision(self, name: str) -> str | None:
        """The revision to ask the hub for: ``MI_TASKS_REVISION_<NAME>`` if set, else the pinned one."""
        return os.environ.get(f"MI_TASKS_REVISION_{name.upper()}") or self.revision

    def label(self, row: dict[str, Any]) -> str:
        """A row's label as a class name, whether it holds the hub's integer or the file's name/number."""
        v = row.get(self.label_field or "label")
        if isinstance(v, str) and v.strip().lstrip("-").isdigit():
            v = int(v)
        if isinstance(v, int) and self.label_names and 0 <= v < len(self.label_names):
            return self.label_names[v]
        return str(v)


_GLUE = "GLUE's own file of this split: the same rows as the hub"
REGISTRY: dict[str, CorpusSpec] = {
    "dbpedia14": CorpusSpec(
        "fancyzhx/dbpedia_14", None, None, "test", ("train", "test"), ("title", "content"), ". ",
        label_field="label", label_names=("Company", "EducationalInstitution", "Artist", "Athlete", "OfficeHolder",
                                          "MeanOfTransportation", "Building", "NaturalPlace", "Village", "Animal",
                                          "Plant", "Album", "Film", "WrittenWork"),
        local={"test": LocalFile("dbpedia/dbpedia14_sample.tsv", False,
                                 "a 14,904-row sample of DBpedia-14 from other releases (sources DHIM/test, DHIM/val, "
                                 "ptq_gendisc/valid), only 5,000 rows with a title; not the hub's test split")}),
    "agnews": CorpusSpec(
        "fancyzhx/ag_news", None, "eb185aade064a813bc0b7f42de02595523103ca4", "test", ("train", "test"), ("text",),
        label_field="label", label_names=("World", "Sports", "Business", "Sci/Tech"), repair=_repair_agnews,
        local={"test": LocalFile("agnews/dev.tsv", False,
                                 "10,001 descriptions without their titles, sampled from AG News' train split; "
                                 "the hub's text is title and description", header=False,
                                 columns=("text", "label"), quoting=False)}),
    "imdb": CorpusSpec(
        "stanfordnlp/imdb", None, None, "test", ("train", "test", "unsupervised"), ("text",),
        label_field="label", label_names=("neg", "pos"),
        local={"test": LocalFile("imdb/val.tsv", False,
                                 "5,000 balanced reviews sampled from IMDB's train split, not its test split")}),
    "qnli": CorpusSpec(
        "nyu-mll/glue", "qnli", None, "validation", ("train", "validation", "test"), ("question", "sentence"), " ",
        label_field="label", label_names=("entailment", "not_entailment"),
        local={"validation": LocalFile("qnli/dev.tsv", True, _GLUE, quoting=False)}),
    "sst2": CorpusSpec(
        "nyu-mll/glue", "sst2", None, "validation", ("train", "validation", "test"), ("sentence",),
        label_field="label", label_names=("negative", "positive"),
        local={"validation": LocalFile("sst2/dev.tsv", True, _GLUE, quoting=False),
               "train": LocalFile("sst2/train.tsv", True, _GLUE, quoting=False)}),
    "wikitext2": CorpusSpec(
        "Salesforce/wikitext", "wikitext-2-raw-v1", "b08601e04326c79dfdd32d625aee71d232d685c3", "test",
        ("train", "validation", "test"), ("text",), keep=is_text_line,
        local={"test": LocalFile("wikitext2/wiki.test.raw", True, "WikiText-2 raw test file: one hub row per line"),
               "validation": LocalFile("wikitext2/wiki.valid.raw", True,
                                       "WikiText-2 raw validation file: one hub row per line")}),
}
SPLIT_ALIASES = {"dev": "validation", "valid": "validation", "val": "validation"}


def hub_id(name: str) -> str | None:
    """The hub dataset id of a registered corpus name (``agnews`` -> ``fancyzhx/ag_news``), else None."""
    spec = REGISTRY.get(name.strip().lower().partition(":")[0])
    return spec.hub_path if spec else None
