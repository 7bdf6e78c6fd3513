"""README's command blocks, run as written (``mi-tasks`` is this checkout's, through ``python -m``)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_block(heading: str) -> str:
    """The first ```bash block under the README section ``heading``."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    m = re.search(r"```bash\n(.*?)```", section, re.S)
    assert m, f"README section {heading!r} has no bash block"
    return m.group(1)


def run_block(block: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``block`` in bash (stop at the first failing line), ``mi-tasks`` being this checkout's CLI."""
    script = f'set -e\nmi-tasks() {{ "{sys.executable}" -m mi_tasks.cli "$@"; }}\n{block}'
    e = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", **(env or {})}
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=e, capture_output=True, text=True, timeout=600)
