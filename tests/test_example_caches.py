"""examples/enhance_and_evaluate.py answers from its caches only what the same checkpoint and settings produced."""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time

from .readme_commands import REPO


def _example():
    """The example as a module; the environment defaults it sets on import are undone."""
    saved = dict(os.environ)
    spec = importlib.util.spec_from_file_location("enhance_and_evaluate", REPO / "examples" / "enhance_and_evaluate.py")
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return mod


def _args(**kw) -> argparse.Namespace:
    base = dict(eval_max_length=128, probe_fit=600, probe_test=300, sts_pairs=None, cls_texts=400, cluster_texts=400,
                lr=5e-5, batch_size=16, max_text_length=64, train_blocks=None, dtype="float32", eval_interval=20,
                recall_texts=100, steps=4)
    return argparse.Namespace(**{**base, **kw})


def test_eval_cache_key_changes_with_the_checkpoint_and_the_settings(tmp_path):
    ex = _example()
    ckpt = tmp_path / "seed0"
    ckpt.mkdir()
    (ckpt / "model.safetensors").write_bytes(b"4 steps")
    (ckpt / "enhance_result.json").write_text(json.dumps({"steps": 4, "settings": {"lr": 5e-5}}))
    key = ex.eval_key(_args(), str(ckpt), {})
    assert ex.eval_key(_args(), str(ckpt), {}) == key
    assert ex.eval_key(_args(probe_test=100), str(ckpt), {}) != key          # another evaluation setting
    (ckpt / "enhance_result.json").write_text(json.dumps({"steps": 6, "settings": {"lr": 5e-5}}))
    (ckpt / "model.safetensors").write_bytes(b"6 steps, retrained")
    later = time.time() + 5
    os.utime(ckpt / "model.safetensors", (later, later))
    assert ex.eval_key(_args(), str(ckpt), {}) != key                         # the checkpoint was retrained


def test_train_is_redone_when_its_options_change():
    ex = _example()
    assert ex.train_args(_args()) == ex.train_args(_args(steps=6))            # steps are compared on their own
    assert ex.train_args(_args(lr=1e-4)) != ex.train_args(_args())
