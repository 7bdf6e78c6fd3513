"""A metric family is spelled in one place: its own folder and the registry.

Every quoted family name, setting name and metric name of a built-in family is looked
for in the package's source outside the family's folder and ``metrics/registry.py``. What remains is
listed below with the reason it is still there, so a new spelling anywhere else fails this test.
"""
from __future__ import annotations

import re
from pathlib import Path

from mi_tasks.metrics.registry import builtin_families

PACKAGE = Path(__file__).resolve().parents[2] / "mi_tasks"

# (file under mi_tasks/, word): why the word is spelled there
REMAINING = {
    ("__init__.py", "fano_mi_bits"): "a public function of that name, exported lazily (not the metric)",
    ("mteb/encoder.py", "cosine"): "MTEB's similarity function name (not the metric)",
    ("training/enhance.py", "recall_at_k"): "enhancement trains recoverability decoders and records their recall",
    ("cli/enhance.py", "recall_at_k"): "prints enhancement's recall curve",
}


def _words(fam) -> set[str]:
    """Its name, metrics and settings (what identifies it; a setting's choices are plain words: task, ridge)."""
    return {fam.name, *fam.metrics(), *(fam.settings.specs() if fam.settings else ())}


def _owned(fam) -> set[str]:
    """What its folder may spell: its words and its settings' choices (emergence's estimator ``infonce``)."""
    choices = {c for _, spec in (fam.settings.specs().values() if fam.settings else ()) for c in spec.choices}
    return _words(fam) | choices


def _folder(fam) -> Path:
    return PACKAGE.joinpath(*fam.__module__.split(".")[1:-1])


def test_no_family_is_spelled_outside_its_folder_and_the_registry():
    families = builtin_families()
    owned: dict[Path, set[str]] = {}
    for fam in families:
        owned.setdefault(_folder(fam), set()).update(_owned(fam))
    found: dict[tuple[str, str], str] = {}
    for py in sorted(PACKAGE.rglob("*.py")):
        rel = py.relative_to(PACKAGE).as_posix()
        if rel == "metrics/registry.py":
            continue
        mine = set().union(*(w for folder, w in owned.items() if py.is_relative_to(folder)))
        text = py.read_text()
        for fam in families:
            for word in _words(fam) - mine:
                if re.search(r"[\"']" + re.escape(word) + r"[\"']", text):
                    found[(rel, word)] = fam.name
    unlisted = sorted(set(found) - set(REMAINING))
    assert not unlisted, f"family words spelled outside their folder: {unlisted}"
    gone = sorted(set(REMAINING) - set(found))
    assert not gone, f"no longer spelled there; drop them from REMAINING: {gone}"
