"""A new metric family runs through lm_eval, layer_sweep and mi-tasks report with no edit to mi-tasks.

The family (mean pooled-state norm) and its YAML live in ``tests/plugin_family``: its own folder;
it registers itself, so not even the registration line in :mod:`mi_tasks.metrics.registry` is needed.
"""
from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest
import torch

from .conftest import make_sentences
from .readme_commands import REPO
from .test_lm_eval_harness import LM_EVAL, run_cli

PLUGIN = REPO / "tests" / "plugin_family"


def _norms(model, tok, texts):
    """The family's numbers computed directly: mean-pooled states (special tokens out), norms per layer."""
    from mi_tasks.states.extraction import HiddenStateExtractor

    states, _ = HiddenStateExtractor(model, tok, layers="all", pooling="mean", progress=False).extract(texts)
    return np.linalg.norm(states.astype(np.float64), axis=-1).mean(1)


@pytest.mark.skipif(LM_EVAL is None, reason="lm_eval is not installed")
def test_plugin_family_through_lm_eval_sweep_and_report(tiny, tiny_dir, tmp_path):
    texts = make_sentences(12, seed=21)
    (tmp_path / "eval.txt").write_text("\n".join(texts))
    md = json.dumps({"eval_corpus": str(tmp_path / "eval.txt")})
    r = run_cli("--model", "hf-mi", "--model_args", f"pretrained={tiny_dir['bert']},dtype=float32", "--tasks", "mi_state_norm",
                "--include_path", str(PLUGIN), "--metadata", md, "--output_path", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "mean_state_norm" in r.stdout
    res = json.loads(sorted((tmp_path / "out").rglob("results_*.json"))[-1].read_text())
    curve = res["configs"]["mi_state_norm"]["mi_results"]["curves"]["mean_state_norm"]
    model, tok = tiny["bert"]
    want = _norms(model, tok, texts)
    assert [c["value"] for c in curve] == pytest.approx(want, rel=1e-5)
    assert res["results"]["mi_state_norm"]["mean_state_norm,none"] == pytest.approx(want[-1], rel=1e-5)

    # the same family as layer_sweep columns, beside an MTEB task, read by `mi-tasks report`
    if importlib.util.find_spec("mteb") is None:
        pytest.skip("mteb is not installed")
    sys.path.insert(0, str(PLUGIN))
    try:
        importlib.import_module("state_norm")
    finally:
        sys.path.remove(str(PLUGIN))
    from mi_tasks.cli.main import main
    from mi_tasks.mteb import layer_sweep, sts_task

    rng = np.random.default_rng(0)
    a, b = make_sentences(16, seed=22), make_sentences(16, seed=23)
    sweep = layer_sweep(tiny_dir["bert"], [sts_task("TinySTS", a, b, rng.uniform(0, 5, 16).round(2).tolist())],
                        model=model, tokenizer=tok, pooling="mean", include_special=False, progress=False,
                        metrics=("state_norm",), metric_settings={"eval_corpus": str(tmp_path / "eval.txt")},
                        output=tmp_path / "sweep.json")
    got = [r["value"] for r in sweep.rows if r["task"] == "mi:state_norm.mean_state_norm"]
    assert got == pytest.approx(want, rel=1e-5)
    assert main(["report", str(sweep_path := tmp_path / "sweep.json"), str(tmp_path / "out"), "--out",
                 str(tmp_path / "rep"), "--no-figures"]) == 0
    assert "mean_state_norm" in (tmp_path / "rep" / "report.md").read_text() and sweep_path.is_file()
    torch.manual_seed(0)
