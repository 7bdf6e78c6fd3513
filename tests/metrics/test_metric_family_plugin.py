"""A new metric family with settings of its own runs through every entry point with no edit to mi-tasks.

The family (mean pooled-state norm) and its YAML live in ``tests/metrics/plugin_family``: its own folder;
it registers itself on import, and an installed package declaring it as a ``mi_tasks.families``
entry point makes it known to the CLI's options too.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from mi_tasks.metrics.result import rows_from_dict

from ..conftest import make_sentences
from ..readme_commands import REPO
from ..harness.test_lm_eval_harness import LM_EVAL

PLUGIN = REPO / "tests" / "metrics" / "plugin_family"


def _norms(model, tok, texts, p=2):
    """The family's numbers computed directly: mean-pooled states (special tokens out), norms per layer."""
    from mi_tasks.states.extraction import HiddenStateExtractor

    states, _ = HiddenStateExtractor(model, tok, layers="all", pooling="mean", progress=False).extract(texts)
    return np.linalg.norm(states.astype(np.float64), ord=p, axis=-1).mean(1)


def _entry_point(folder):
    """An installed package's declaration of the family (what its pyproject.toml's entry point writes)."""
    info = folder / "state_norm_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: state-norm-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[mi_tasks.families]\nstate_norm = state_norm:StateNormFamily\n")


@pytest.mark.skipif(LM_EVAL is None, reason="lm_eval is not installed")
def test_plugin_family_with_settings_through_every_entry_point(tiny, tiny_dir, tmp_path, monkeypatch):
    """Its two settings (norm_order from the YAML, norm_scale as a CLI option that reaches lm_eval's
    --metadata), its direction (lower is better: the headline's best layer is the smallest norm) and its
    minimum, through `mi-tasks suite` -> lm_eval -> report, then evaluate(), layer_sweep and report."""
    texts = make_sentences(12, seed=21)
    (tmp_path / "eval.txt").write_text("\n".join(texts))
    _entry_point(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGIN), str(tmp_path), str(REPO)])}
    r = subprocess.run([sys.executable, "-m", "mi_tasks.cli", "suite", "--model", tiny_dir["bert"], "--dtype", "float32",
                        "--tasks", "mi_state_norm", "--include-path", str(PLUGIN), "--eval-corpus", str(tmp_path / "eval.txt"),
                        "--norm-scale", "3", "--headline-layer", "best", "--out", str(tmp_path / "suite"), "--quiet"],
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(sorted((tmp_path / "suite" / "lm_eval").rglob("results_*.json"))[-1].read_text())
    model, tok = tiny["bert"]
    want = 3 * _norms(model, tok, texts, p=1)  # l1 from the YAML, scale 3 from the command line
    rows = rows_from_dict(res["configs"]["mi_state_norm"]["mi_results"], "mi_state_norm")
    assert [r["mean_state_norm"] for r in rows] == pytest.approx(want, rel=1e-5)
    assert all(r.measurement("mean_state_norm").n == len(texts) and r.stderr("mean_state_norm") > 0 for r in rows)
    assert res["higher_is_better"]["mi_state_norm"]["mean_state_norm"] is False
    assert res["results"]["mi_state_norm"]["mean_state_norm,none"] == pytest.approx(want.min(), rel=1e-5)
    assert "mean_state_norm" in (tmp_path / "suite" / "report.md").read_text()

    # in this process: the module registers the family on import, as a user's script would (the registry
    # is restored afterwards, so no later test sees the family)
    from mi_tasks.metrics import registry

    monkeypatch.setattr(registry, "_REGISTERED", dict(registry._REGISTERED))
    monkeypatch.delitem(sys.modules, "state_norm", raising=False)
    sys.path.insert(0, str(PLUGIN))
    try:
        importlib.import_module("state_norm")
    finally:
        sys.path.remove(str(PLUGIN))
    from mi_tasks import MiTasksError, evaluate
    from mi_tasks.metrics.family import Skipped

    got = evaluate(model, tok, texts, families=("state_norm",), norm_scale=2, progress=False)["state_norm"]
    assert [row["mean_state_norm"] for row in got.layers] == pytest.approx(2 * _norms(model, tok, texts), rel=1e-5)
    with pytest.raises(MiTasksError, match=r"unknown norm_order 'l3' for evaluate\(\): use l2 or l1"):
        evaluate(model, tok, texts, families=("state_norm",), norm_order="l3")
    with pytest.raises(MiTasksError, match=r"norm_scale for evaluate\(\) must be a whole number >= 1"):
        evaluate(model, tok, texts, families=("state_norm",), norm_scale=0)
    few = evaluate(model, tok, texts[:2], families=("state_norm",), progress=False)["state_norm"]
    assert isinstance(few, Skipped) and "at least 3" in few.reason
    # its own command, as a built-in family has (the parser is built from the registry)
    from mi_tasks.cli.main import main

    assert main(["state_norm", "--model", tiny_dir["bert"], "--dtype", "float32", "--eval-corpus",
                 str(tmp_path / "eval.txt"), "--norm-scale", "2", "--output", str(tmp_path / "cli"), "--quiet"]) == 0
    saved = json.loads((tmp_path / "cli" / f"state_norm_{os.path.basename(tiny_dir['bert'])}.json").read_text())
    assert [r["mean_state_norm"] for r in rows_from_dict(saved, "cli")] == pytest.approx(2 * _norms(model, tok, texts),
                                                                                         rel=1e-5)

    if importlib.util.find_spec("mteb") is None:
        pytest.skip("mteb is not installed")
    from mi_tasks.mteb import layer_sweep, sts_task

    rng = np.random.default_rng(0)
    a, b = make_sentences(16, seed=22), make_sentences(16, seed=23)
    sweep = layer_sweep(tiny_dir["bert"], [sts_task("TinySTS", a, b, rng.uniform(0, 5, 16).round(2).tolist())],
                        model=model, tokenizer=tok, pooling="mean", include_special=False, progress=False,
                        metrics=("state_norm",), metric_settings={"eval_corpus": str(tmp_path / "eval.txt"),
                                                                 "norm_scale": 2},
                        output=tmp_path / "sweep.json")
    got = [r["value"] for r in sweep.rows if r["task"] == "mi:state_norm.mean_state_norm"]
    assert got == pytest.approx(2 * _norms(model, tok, texts), rel=1e-5)
    assert main(["report", str(sweep_path := tmp_path / "sweep.json"), str(tmp_path / "suite" / "lm_eval"), "--out",
                 str(tmp_path / "rep"), "--no-figures"]) == 0
    assert "mean_state_norm" in (tmp_path / "rep" / "report.md").read_text() and sweep_path.is_file()
    torch.manual_seed(0)
