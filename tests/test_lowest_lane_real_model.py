"""The real encoder through ``lm_eval --model hf-mi`` on the lowest supported versions (.ci/run's second lane).

In the locked environment the main job (``tests/test_main_job.py``) already runs both real models
through the ``lm_eval`` command and holds their numbers against the core API's, so this test runs
only in the lowest-versions lane (``MI_TASKS_CI_LANE=lowest``), where nothing else does.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mi_tasks.metrics.result import rows_from_dict

from .conftest import REAL_DTYPE, shared_data_or_skip
from .test_main_job import _core_equals_lm_eval

pytestmark = [pytest.mark.integration, pytest.mark.lowest_lane]


@pytest.mark.skipif(os.environ.get("MI_TASKS_CI_LANE") != "lowest",
                    reason="the main job's lm_eval runs cover this in the locked environment")
def test_minilm_through_lm_eval_hf_mi(tmp_path: Path, real_model) -> None:
    shared_data_or_skip()
    lm_eval = shutil.which("lm_eval")
    assert lm_eval, "lm_eval is not on PATH"
    path, _, model, tok = real_model("minilm")
    md = {"train_corpus": "bbcnews:train", "eval_corpus": "bbcnews:test", "train_limit": 500, "eval_limit": 200,
          "text_metrics": False}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    r = subprocess.run([lm_eval, "--model", "hf-mi", "--model_args", f"pretrained={path},dtype={REAL_DTYPE}",
                        "--tasks", "mi_recoverability,mi_entropy", "--metadata", json.dumps(md), "--device", "cpu",
                        "--batch_size", "32", "--output_path", str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.loads(next(tmp_path.rglob("results_*.json")).read_text())
    _core_equals_lm_eval(data, model, tok)
    assert all(0 < r["dataset_entropy"] <= 1 for r in rows_from_dict(data["configs"]["mi_entropy"]["mi_results"], "mi_entropy"))
