"""The package's shape, checked from its source: the tree shows the flow, the model runs in one place,
no module imports another that imports it back, no function grows past 80 lines, and every import
path that README, docs and examples show works."""
from __future__ import annotations

import ast
import importlib
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "mi_tasks"
SOURCES = sorted(PKG.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in SOURCES}


def test_top_level_shows_the_flow():
    subpackages = sorted(p.name for p in PKG.iterdir() if (p / "__init__.py").is_file())
    plain = sorted(p.name for p in PKG.glob("*.py") if p.name != "__init__.py")
    assert len(subpackages) >= 6, subpackages
    assert len(plain) <= 5, plain
    for stage in ("data", "states", "metrics", "training", "harness", "mteb", "reporting", "cli"):
        assert stage in subpackages


def _calls_with_hidden_states(tree: ast.AST) -> list[int]:
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call)
            and any(k.arg == "output_hidden_states" for k in n.keywords)]


def test_the_model_runs_with_hidden_states_in_one_place():
    found = {_module_name(p): lines for p in SOURCES if (lines := _calls_with_hidden_states(ast.parse(p.read_text())))}
    assert list(found) == ["mi_tasks.states.backbone"], found
    assert len(found["mi_tasks.states.backbone"]) == 1


def test_no_function_over_80_lines():
    long = [f"{_module_name(p)}.{n.name}: {n.end_lineno - n.lineno + 1}" for p in SOURCES
            for n in ast.walk(ast.parse(p.read_text()))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 80]
    assert not long, long


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path) -> set[str]:
    """mi_tasks modules a file imports at run time (anywhere in it; ``if TYPE_CHECKING:`` blocks excluded)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.startswith("mi_tasks"):
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    out.add(sub if sub in MODULES else base)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("mi_tasks"))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return {m for m in out if m in MODULES and m != name}


def test_imports_point_down_the_flow():
    """The pass knows no metric and no adapter; metrics know no runner (lm-eval, MTEB, CLI, reports)."""
    below = {"mi_tasks.states": ("mi_tasks.metrics", "mi_tasks.harness", "mi_tasks.mteb", "mi_tasks.reporting",
                                 "mi_tasks.cli", "mi_tasks.settings", "mi_tasks.evaluation"),
             "mi_tasks.metrics": ("mi_tasks.harness", "mi_tasks.mteb", "mi_tasks.reporting", "mi_tasks.cli",
                                  "mi_tasks.settings", "mi_tasks.evaluation")}
    wrong = [f"{name} imports {dep}" for name, path in MODULES.items() for layer, banned in below.items()
             if name.startswith(layer + ".") or name == layer
             for dep in _imports(path) if dep.startswith(banned)]
    assert not wrong, wrong


def test_no_module_imports_one_that_imports_it_back():
    graph = {name: _imports(path) for name, path in MODULES.items()}
    # a package's __init__ re-exporting its own modules is the package's face, not a dependency loop
    def edge(a: str, b: str) -> bool:
        return not (a.startswith(b + ".") and MODULES[b].name == "__init__.py")

    cycles, state = [], {}

    def walk(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if not edge(node, nxt):
                continue
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [node, nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                walk(nxt, stack + [node])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            walk(name, [])
    assert not cycles, cycles


# ---- import paths shown to users -------------------------------------------------------------------------------

_FROM = re.compile(r"^[ \t]*from (mi_tasks[\w.]*) import (\([^)]*\)|[^\n#]+)", re.M)
_DOTTED = re.compile(r"`(mi_tasks(?:\.\w+)+)`")


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "examples").glob("*.py")),
            *sorted((ROOT / "benchmarks").glob("*.py"))]


def _shown_imports() -> list[tuple[str, str, str]]:
    out = []
    for doc in _documents():
        text = doc.read_text()
        for m in _FROM.finditer(text):
            group = re.sub(r"#[^\n]*", "", m.group(2))
            names = [n.strip().split(" as ")[0] for n in group.strip("() \n").replace("\n", " ").split(",")]
            out += [(doc.name, m.group(1), n) for n in names if n and n != "*"]
    return out


@pytest.mark.parametrize("doc,module,name", sorted(set(_shown_imports())))
def test_shown_import_paths_work(doc, module, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mod = importlib.import_module(module)
    assert hasattr(mod, name) or importlib.util.find_spec(f"{module}.{name}") is not None, f"{doc}: from {module} import {name}"


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for attr in parts[k:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_dotted_names_in_docs_resolve():
    shown = sorted({m.group(1) for doc in _documents() if doc.suffix == ".md" for m in _DOTTED.finditer(doc.read_text())})
    broken = []
    for dotted in shown:
        if dotted.endswith((".py", ".yaml")):
            continue
        try:
            _resolve(dotted)
        except (ImportError, AttributeError) as e:
            broken.append(f"{dotted}: {e}")
    assert not broken, broken
