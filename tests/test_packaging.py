"""The wheel ships every package folder, including one added after the package list was written.

Packages are found by setup.py, not listed; this builds a real wheel from a copy of the source
tree with a new metric family folder in it and checks that the folder, every existing package,
the task YAMLs, the page assets and the lm-eval start-up hook are all inside.
"""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["mi_tasks", "task_configs", "pyproject.toml", "setup.py", "README.md", "mi_tasks_lmeval.pth",
           "mi_tasks_lmeval_hook.py"]


def test_a_new_family_folder_ships_in_the_wheel(tmp_path):
    src = tmp_path / "src"
    for name in SHIPPED:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(
            ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")} if (ROOT / name).is_dir() else {}))
    new = src / "mi_tasks" / "metrics" / "brand_new_family"
    new.mkdir()
    (new / "__init__.py").write_text("")
    (new / "family.py").write_text("VALUE = 1\n")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(src)],
                   check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("mi_tasks-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {p.parent.relative_to(src).as_posix() for p in (src / "mi_tasks").rglob("*.py")}
    missing = sorted(p for p in packages if f"{p}/__init__.py" not in names)
    assert not missing, f"package folders left out of the wheel: {missing}"
    assert "mi_tasks/metrics/brand_new_family/family.py" in names
    yamls = {f"mi_tasks/task_configs/{p.name}" for p in (ROOT / "task_configs").glob("*.yaml")}
    assert yamls and yamls <= names
    assets = {f"mi_tasks/reporting/leaderboard/assets/{p.name}" for p in (ROOT / "mi_tasks/reporting/leaderboard/assets").iterdir()}
    assert assets <= names
    assert {"mi_tasks_lmeval.pth", "mi_tasks_lmeval_hook.py"} <= names
