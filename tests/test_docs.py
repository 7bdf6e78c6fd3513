"""README and the docs pages hold to what they show: a short README with the sections tests and
readers rely on, commands the tools accept, Python that compiles, links and paths that exist.

Nothing here runs a model: the commands are parsed by the parsers that would run them (the
README's report and card commands are run as written in test_labels_and_readme.py, the main job in
test_main_job.py, and every import shown is imported in test_layout.py).
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
from pathlib import Path

import pytest

from mi_tasks.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]

README_SECTIONS = ("Set up (two commands, fresh machine, Python ≥ 3.10)", "Main job (offline, a few minutes on 2 CPU cores)",
                   "Reports and model cards", "Tests", "With lm-evaluation-harness", "With MTEB", "In Python",
                   "What is there", "Docs")


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def _commands(tool: str) -> list[tuple[str, list[str]]]:
    """Every ``tool`` command in the pages' bash blocks, continuation lines joined, as argv after the tool."""
    out = []
    for page in PAGES:
        for block in _blocks(page.read_text(encoding="utf-8"), "bash"):
            for line in block.replace("\\\n", " ").splitlines():
                words = shlex.split(line, comments=True)
                if tool in words:
                    argv = words[words.index(tool) + 1:]
                    out.append((page.name, argv[:argv.index(">")] if ">" in argv else argv))
    return out


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def test_readme_is_short_and_keeps_its_sections():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150, "README.md is over 150 lines: move detail to a docs page"
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert [h for h in headings if h in README_SECTIONS] == list(README_SECTIONS), headings
    tests = _blocks(text.split("## Tests\n", 1)[1], "bash")[0]
    assert 'python -m pytest -q -m "not integration"' in tests and re.search(r"^python -m pytest -q +(#|$)", tests, re.M)
    for shown in ("mi-tasks suite", "lm_eval --model", "--tasks mi_", "LayerEncoder(", "layer_sweep(", "evaluate("):
        assert shown in text, shown


def test_every_docs_page_is_linked_from_the_readme():
    text = README.read_text(encoding="utf-8")
    assert not [p.name for p in DOCS if f"(docs/{p.name})" not in text]


def test_links_and_anchors_resolve():
    broken = []
    for page in PAGES:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.is_relative_to(ROOT):  # ../shared: the data beside a checkout, not part of it
                continue
            if not dest.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, broken


_PATH = re.compile(r"`((?:examples|benchmarks|tests|mi_tasks|task_configs|requirements|docs|\.ci)/[\w/.\-]+?\.(?:py|md|txt|yaml|json|png))")


def test_files_named_in_the_docs_exist():
    missing = sorted({f"{p.name}: {m}" for p in PAGES for m in _PATH.findall(p.read_text(encoding="utf-8"))
                      if not (ROOT / m).exists()})
    assert not missing, missing


def _options_of(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The (sub)parser that takes the options of ``argv``, following nested subcommands (leaderboard add)."""
    while argv:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None or argv[0] not in sub.choices:
            break
        parser, argv = sub.choices[argv[0]], argv[1:]
    return parser


@pytest.mark.parametrize("page,argv", _commands("mi-tasks"), ids=lambda x: x if isinstance(x, str) else " ".join(x[:2]))
def test_mi_tasks_commands_parse(page, argv):
    parser = build_parser()
    try:
        parser.parse_args(argv)
    except SystemExit:
        pytest.fail(f"{page}: `mi-tasks {' '.join(argv)}` does not parse")
    known = {s for a in _options_of(parser, argv)._actions for s in a.option_strings}
    unknown = [w.split("=")[0] for w in argv if w.startswith("--") and w.split("=")[0] not in known]
    assert not unknown, f"{page}: `mi-tasks {argv[0]}` has no option {unknown} (abbreviations do not count)"


def _mi_task_names() -> set[str]:
    text = "\n".join(p.read_text() for p in (ROOT / "task_configs").glob("*.yaml"))
    return set(re.findall(r"^(?:task|group): (mi_\w+)", text, re.M))


def _setting_names() -> set[str]:
    return set(re.findall(r"^\| `(\w+)` \|", (ROOT / "docs" / "settings.md").read_text(), re.M))


@pytest.mark.parametrize("page,argv", _commands("lm_eval"), ids=lambda x: x if isinstance(x, str) else " ".join(x[:2]))
def test_lm_eval_commands_name_mi_tasks_models_tasks_and_settings(page, argv):
    opts = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}
    assert opts.get("--model") in {"hf", "hf-mi"}, f"{page}: {argv}"
    tasks = [t for t in opts["--tasks"].split(",") if t.startswith("mi_")]
    assert tasks and set(tasks) <= _mi_task_names(), f"{page}: unknown mi-tasks task in {opts['--tasks']}"
    if "--metadata" in opts:
        unknown = set(json.loads(opts["--metadata"])) - _setting_names()
        assert not unknown, f"{page}: --metadata names no setting {sorted(unknown)} (docs/settings.md)"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_blocks_compile(page):
    for i, block in enumerate(_blocks(page.read_text(encoding="utf-8"), "python")):
        compile(block, f"{page.name}, python block {i + 1}", "exec")
