"""MI enhancement on tiny models: loss falls, the last block stays bit-for-bit frozen, checkpoints reload and resume,
and lm_eval scores the enhanced checkpoint with the same task as its base."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mi_tasks import MiTasksError
from mi_tasks.training.enhance import enhance
from mi_tasks.metrics.result import rows_from_dict

from ..conftest import make_sentences

FAST = dict(lr=3e-3, head_lr=1e-2, batch_size=16, max_text_length=32, seed=0, dtype="float32", progress=False,
            warmup_steps=1)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("enh_corpus")
    (d / "train.txt").write_text("\n".join(make_sentences(200, seed=21)))
    (d / "eval.txt").write_text("\n".join(make_sentences(40, seed=22)))
    return d


def _weights(folder) -> dict[str, torch.Tensor]:
    return load_file(os.path.join(folder, "model.safetensors"))


def _strip(name: str) -> str:
    for prefix in ("model.", "bert.", "transformer."):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


@pytest.mark.parametrize("kind,last_block", [("llama", "layers.2."), ("bert", "encoder.layer.2.")])
def test_loss_falls_last_block_frozen_and_checkpoint_reloads(tiny_dir, corpus, tmp_path, kind, last_block):
    out = tmp_path / "enhanced"
    res = enhance(tiny_dir[kind], out, str(corpus / "train.txt"), steps=24, eval_interval=12,
                  eval_corpus=str(corpus / "eval.txt"), **FAST)
    losses = [r["loss"] for r in res.losses]
    assert len(losses) == 24 and sum(losses[-4:]) / 4 < sum(losses[:4]) / 4
    assert [r["step"] for r in res.eval_recall] == [0, 12, 24]
    assert res.eval_recall[-1]["recall_at_k"] > res.eval_recall[0]["recall_at_k"]
    base = {_strip(k): v for k, v in _weights(tiny_dir[kind]).items()}
    new = {_strip(k): v for k, v in _weights(out).items()}
    frozen = [k for k in base if k.startswith(last_block)]
    assert frozen and all(torch.equal(base[k], new[k]) for k in frozen)  # bit for bit
    embeddings = [k for k in base if "embed" in k]
    assert embeddings and all(torch.equal(base[k], new[k]) for k in embeddings)
    trained = [k for k in base if k.startswith(last_block.replace("2.", "0."))]
    assert any(not torch.equal(base[k], new[k]) for k in trained)
    # a standard checkpoint: loads with the class lm-eval uses and with the MTEB encoder
    from transformers import AutoModelForCausalLM

    from mi_tasks.mteb import LayerEncoder

    reloaded = AutoModelForCausalLM.from_pretrained(out) if kind == "llama" else None
    if reloaded is not None:
        assert torch.equal(reloaded.model.layers[0].mlp.up_proj.weight, new["layers.0.mlp.up_proj.weight"])
    vecs = LayerEncoder(str(out), layer=-1, dtype="float32").embed(make_sentences(3, seed=1))
    assert vecs.shape == (3, 32)
    card = (out / "README.md").read_text()
    assert "frozen: the last block (3)" in card and "steps: 24" in card and "seed: 0" in card
    saved = json.loads((out / "enhance_result.json").read_text())
    assert saved["settings"]["frozen_block"] == 3 and len(saved["losses"]) == 24


def test_train_blocks_trains_only_the_blocks_below_the_last(tiny_dir, corpus, tmp_path):
    """train_blocks=1 on a 3-block model: block 2 (index 1) changes; block 1, the last block and embeddings do not."""
    out = tmp_path / "top1"
    res = enhance(tiny_dir["llama"], out, str(corpus / "train.txt"), steps=6, eval_interval=6, train_blocks=1,
                  eval_corpus=str(corpus / "eval.txt"), **FAST)
    assert res.settings["train_blocks"] == 1 and res.settings["trained_blocks"] == [2, 2]
    assert all(r["seconds"] > 0 for r in res.losses)  # per-step wall time is recorded
    base = {_strip(k): v for k, v in _weights(tiny_dir["llama"]).items()}
    new = {_strip(k): v for k, v in _weights(out).items()}
    for prefix, changed in (("layers.0.", False), ("layers.1.", True), ("layers.2.", False), ("embed", False)):
        keys = [k for k in base if k.startswith(prefix)]
        assert keys and any(not torch.equal(base[k], new[k]) for k in keys) == changed, prefix
    assert "trained: blocks 2..2" in (out / "README.md").read_text()
    with pytest.raises(MiTasksError, match="train_blocks must be an integer from 1 to 2"):
        enhance(tiny_dir["llama"], tmp_path / "x", str(corpus / "train.txt"), steps=1, train_blocks=3, **FAST)
    with pytest.raises(MiTasksError, match="below the first trained block"):
        enhance(tiny_dir["llama"], tmp_path / "x", str(corpus / "train.txt"), steps=1, train_blocks=1, layer=1, **FAST)


_KILLED_AFTER_STEP_4 = """
import os, sys
real_replace = os.replace
def replace(src, dst, *a, **k):  # the process dies right after checkpoint 4 is in place, as under kill -9
    real_replace(src, dst, *a, **k)
    if str(dst).endswith("step_0000004.pt"):
        os._exit(137)
os.replace = replace
from mi_tasks.training.enhance import enhance
enhance(sys.argv[1], sys.argv[2], sys.argv[3], steps=8, eval_interval=4, **eval(sys.argv[4]))
"""


def test_a_run_killed_mid_way_resumes_to_the_same_weights(tiny_dir, corpus, tmp_path):
    kw = dict(eval_corpus=str(corpus / "eval.txt"), **FAST)
    whole = enhance(tiny_dir["gpt2"], tmp_path / "whole", str(corpus / "train.txt"), steps=8, eval_interval=4, **kw)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "TOKENIZERS_PARALLELISM": "false"}
    killed = subprocess.run([sys.executable, "-c", _KILLED_AFTER_STEP_4, tiny_dir["gpt2"], str(tmp_path / "part"),
                             str(corpus / "train.txt"), repr(kw)], capture_output=True, text=True, env=env, timeout=300)
    assert killed.returncode == 137, killed.stderr[-2000:]
    assert (tmp_path / "part" / "checkpoints" / "step_0000004.pt").is_file()
    assert not (tmp_path / "part" / "model.safetensors").exists()  # it died before the end
    rest = enhance(tiny_dir["gpt2"], tmp_path / "part", str(corpus / "train.txt"), steps=8, eval_interval=4, **kw)
    assert rest.resumed_from == 4
    assert [r["step"] for r in rest.losses] == list(range(1, 9))
    assert [r["loss"] for r in rest.losses] == pytest.approx([r["loss"] for r in whole.losses], rel=1e-5)
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "part")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # identical, not merely close
    assert sorted(p.name for p in (tmp_path / "part" / "checkpoints").iterdir()) == ["step_0000008.pt"]
    with pytest.raises(MiTasksError, match="other settings"):
        enhance(tiny_dir["gpt2"], tmp_path / "part", str(corpus / "train.txt"), steps=12, eval_interval=4,
                **{**kw, "lr": 1e-4})


def test_cli_and_errors(tiny_dir, corpus, tmp_path, capsys):
    from mi_tasks.cli import main

    rc = main(["enhance", tiny_dir["gpt2"], str(tmp_path / "cli"), "--train-corpus", str(corpus / "train.txt"),
               "--steps", "2", "--eval-interval", "2", "--batch-size", "8", "--max-text-length", "16", "--dtype", "float32",
               "--quiet"])
    assert rc == 0 and "saved" in capsys.readouterr().out
    assert (tmp_path / "cli" / "model.safetensors").is_file() and (tmp_path / "cli" / "tokenizer.json").is_file()
    with pytest.raises(MiTasksError, match=r"steps for enhance\(\) must be a whole number >= 1"):
        enhance(tiny_dir["gpt2"], tmp_path / "x", str(corpus / "train.txt"), steps=0)
    with pytest.raises(MiTasksError, match="embedding output"):
        enhance(tiny_dir["gpt2"], tmp_path / "x", str(corpus / "train.txt"), steps=1, layer=0, dtype="float32")
    with pytest.raises(MiTasksError, match=r"unknown keyword corpus_limit for enhance\(\): enhancement reads the task "
                                           r"settings train_corpus, .*train_limit"):
        enhance(tiny_dir["gpt2"], tmp_path / "x", str(corpus / "train.txt"), corpus_limit=10)
    capsys.readouterr()
    assert main(["enhance", tiny_dir["gpt2"], str(tmp_path / "z"), "--lr", "0"]) == 2
    assert "lr (mi-tasks enhance --lr) must be a number > 0" in capsys.readouterr().err
    assert main(["enhance", str(tmp_path / "nope" / "model"), str(tmp_path / "y"), "--steps", "1"]) == 2


LM_EVAL = shutil.which("lm_eval")


@pytest.mark.skipif(LM_EVAL is None, reason="lm_eval is not installed")
def test_lm_eval_scores_base_and_enhanced_alike(tiny_dir, corpus, tmp_path):
    """Both checkpoints through the ``lm_eval`` command, with ``--limit 10 --batch_size auto`` (checked here too)."""
    out = tmp_path / "enhanced"
    enhance(tiny_dir["llama"], out, str(corpus / "train.txt"), steps=6, eval_interval=6, **FAST)
    md = json.dumps({"train_corpus": str(corpus / "train.txt"), "eval_corpus": str(corpus / "eval.txt"),
                     "layers": "-2,-1", "text_metrics": False})
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))}
    recalls = {}
    for name, path in (("base", tiny_dir["llama"]), ("enhanced", str(out))):
        r = subprocess.run([LM_EVAL, "--model", "hf", "--model_args", f"pretrained={path}", "--tasks",
                            "mi_recoverability", "--device", "cpu", "--batch_size", "auto", "--limit", "10", "--metadata", md,
                            "--output_path", str(tmp_path / name)], capture_output=True, text=True, env=env, timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
        files = sorted((tmp_path / name).rglob("results_*.json"))
        mi = json.loads(files[-1].read_text())["configs"]["mi_recoverability"]["mi_results"]
        rows = rows_from_dict(mi, name)
        assert [row.layer for row in rows] == [2, 3]
        assert mi["meta"]["n_eval"] == 10  # --limit limits the eval texts
        recalls[name] = rows[-1]["recall_at_k"]
    assert all(0 <= v <= 1 for v in recalls.values()) and recalls["base"] != recalls["enhanced"]
