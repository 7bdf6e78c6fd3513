"""Issue 23's bad inputs, each through the entry point a person uses: one line naming the problem, exit 2.

``mi-tasks`` runs in-process (``main``); lm-eval in-process (``simple_evaluate``) where the check is
inside a task; the ``lm_eval`` command once, for the one-line output that lands with issue 19.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess

import pytest
import torch

from mi_tasks import MiTasksError, RecoverabilityProbe, load_corpus
from mi_tasks.cli import main
from mi_tasks.settings import TaskSettings
from mi_tasks.states.modeling import check_model_source

from ..conftest import make_sentences

NO_CUDA7 = pytest.mark.skipif(torch.cuda.device_count() >= 8, reason="this machine has a cuda:7")


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad_inputs")
    (d / "train.txt").write_text("\n".join(make_sentences(120, seed=5)))
    (d / "eval60.txt").write_text("\n".join(make_sentences(60, seed=6)))
    (d / "one.txt").write_text("the cat sees the dog in the old house\n")
    return d


def one_line_error(capsys, argv: list[str]) -> str:
    """Run ``mi-tasks ARGV``; it must fail with exit 2 and one ``mi-tasks: error:`` line, no traceback."""
    code = main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, err
    assert "Traceback" not in err and lines and lines[-1].startswith("mi-tasks: error: "), err
    assert sum(ln.startswith("mi-tasks: error: ") for ln in lines) == 1 and "\n" not in lines[-1]
    return lines[-1]


# ------------------------------------------------------------------ settings (YAML / --metadata)
@pytest.mark.parametrize("setting,value,message", [
    ("train_limit", 0, r"train_limit for task mi_recoverability must be a whole number >= 1 \(train texts; null for "
                       r"the whole corpus\), got 0"),
    ("eval_limit", -5, "eval_limit for task mi_recoverability must be a whole number >= 1"),
    ("eval_limit", "abc", "eval_limit for task mi_recoverability must be a whole number >= 1 .*got 'abc'"),
    ("seed", "abc", r"seed for task mi_recoverability must be a whole number >= 0 \(random seed\), got 'abc'"),
    ("seed", 1.5, "seed .* got 1.5"),
    ("n_windows", "many", "n_windows .* must be a whole number >= 1"),
    ("alpha", 0, r"alpha .* must be a number > 0 \(Renyi order\), got 0"),
    ("memory_budget_gb", -1, "memory_budget_gb .* >= 0"),
    ("text_metrics", "maybe", "text_metrics must be true or false"),
    ("decoder_device", "gpu0", "decoder_device 'gpu0' for task mi_recoverability is not a device name: use one of cpu"),
    pytest.param("decoder_device", "cuda:7", "decoder_device 'cuda:7' for task mi_recoverability: this machine has",
                 marks=NO_CUDA7),
])
def test_a_bad_setting_names_itself_its_value_and_the_range(setting, value, message):
    with pytest.raises(MiTasksError, match=message):
        TaskSettings.from_metadata({setting: value}, "mi_recoverability")


def test_valid_settings_still_pass():
    s = TaskSettings.from_metadata({"eval_limit": "500", "train_limit": None, "seed": "3", "text_metrics": "false",
                                    "memory_budget_gb": 0, "decoder_device": "cpu"}, "mi_recoverability")
    assert (s.eval_limit, s.train_limit, s.seed, s.text_metrics, s.memory_budget_gb) == (500, None, 3, False, 0.0)


# ------------------------------------------------------------------ the mi-tasks command
@pytest.mark.parametrize("argv,message", [
    (["--train-limit", "0"], "train_limit (mi-tasks recoverability --train-limit) must be a whole number >= 1 "
                             "(train texts; null for the whole corpus), got '0'"),
    (["--eval-limit", "-5"], "eval_limit (mi-tasks recoverability --eval-limit) must be a whole number >= 1"),
    (["--seed", "-1"], "seed (mi-tasks recoverability --seed) must be a whole number >= 0 (random seed), got '-1'"),
    (["--model", "/nope/model"], "model path '/nope/model' does not exist"),
    pytest.param(["--decoder-device", "cuda:7"], "decoder_device 'cuda:7' (mi-tasks recoverability --decoder-device): "
                 "this machine has", marks=NO_CUDA7),
    pytest.param(["--device", "cuda:7"], "--device 'cuda:7': this machine has", marks=NO_CUDA7),
])
def test_recoverability_command(capsys, tiny_dir, corpora, tmp_path, argv, message):
    base = ["recoverability", "--model", tiny_dir["gpt2"], "--train-corpus", str(corpora / "train.txt"),
            "--eval-corpus", str(corpora / "eval60.txt"), "--output", str(tmp_path), "--quiet"]
    assert message in one_line_error(capsys, base + argv)


def test_a_missing_gguf_file_is_named(capsys, tiny_dir, tmp_path):
    line = one_line_error(capsys, ["recoverability", "--model", tiny_dir["gpt2"], "--gguf-file", "nope.gguf",
                                   "--output", str(tmp_path)])
    assert f"GGUF file '{os.path.join(tiny_dir['gpt2'], 'nope.gguf')}' does not exist" in line
    assert "huggingface.co" not in line


def test_suite_with_a_missing_model_fails_before_lm_eval(capsys, tmp_path):
    line = one_line_error(capsys, ["suite", "--model", "/nope/model", "--out", str(tmp_path / "rep")])
    assert "model path '/nope/model' does not exist" in line
    assert not (tmp_path / "rep").exists()  # nothing ran, no empty log to point at


def test_model_sources(tiny_dir, tmp_path):
    check_model_source(tiny_dir["gpt2"])                 # a saved folder
    check_model_source("HuggingFaceTB/SmolLM2-135M")     # a hub id is left to the hub
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    with pytest.raises(MiTasksError, match="is a GGUF file: pass its folder and gguf_file='m.gguf'"):
        check_model_source(str(tmp_path / "m.gguf"))
    with pytest.raises(MiTasksError, match=r"has no config.json: pass gguf_file= for one of its GGUF files \(m.gguf\)"):
        check_model_source(str(tmp_path))
    with pytest.raises(MiTasksError, match=r"GGUF file '.*other.gguf' does not exist \(GGUF files there: m.gguf\)"):
        check_model_source(str(tmp_path), "other.gguf")
    with pytest.raises(MiTasksError, match="model path './nope' does not exist"):
        check_model_source("./nope")


@NO_CUDA7
def test_probe_device_is_checked():
    with pytest.raises(MiTasksError, match="decoder_device 'cuda:7' for RecoverabilityProbe: this machine has"):
        RecoverabilityProbe(decoder_device="cuda:7")


# ------------------------------------------------------------------ limits and small corpora
def test_a_limit_larger_than_the_corpus_is_said_and_recorded(corpora, caplog):
    with caplog.at_level(logging.WARNING, logger="mi_tasks"):
        c = load_corpus(str(corpora / "eval60.txt"), limit=500, limit_name="eval_limit")
    assert len(c) == 60 and c.describe()["rows"] == 60
    assert c.describe()["limit_note"] == "eval_limit 500 is more than the 60 texts of eval60: all 60 used"
    assert "eval_limit 500 is more than the 60 texts" in caplog.text
    with pytest.raises(MiTasksError, match=r"limit must be a whole number >= 1 \(texts to keep from corpus .*got 0"):
        load_corpus(str(corpora / "eval60.txt"), limit=0)


def _lm_eval_run(tiny_dir, md: dict, task: str = "mi_recoverability") -> dict:
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=tiny_dir["gpt2"], device="cpu", batch_size=16, dtype="float32")
    return lm_eval.simple_evaluate(model=lm, tasks=[task], metadata=md,
                                   task_manager=TaskManager(include_defaults=False, metadata=md))


def test_through_lm_eval_limits_and_one_text_corpora_are_recorded(tiny_dir, corpora, caplog):
    md = {"train_corpus": str(corpora / "train.txt"), "eval_corpus": str(corpora / "eval60.txt"), "eval_limit": 500,
          "layers": "0,-1", "text_metrics": False}
    with caplog.at_level(logging.WARNING, logger="mi_tasks"):
        out = _lm_eval_run(tiny_dir, md)
    ev = out["configs"]["mi_recoverability"]["mi_results"]["meta"]["eval_corpus"]
    assert (ev["rows"], ev["scored_rows"], ev["limit"]) == (60, 60, 500)
    assert ev["limit_note"] == "eval_limit 500 is more than the 60 texts of eval60: all 60 used"
    assert "eval_limit 500 is more than the 60 texts" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mi_tasks"):
        out = _lm_eval_run(tiny_dir, {**md, "eval_corpus": str(corpora / "one.txt")})
    ev = out["configs"]["mi_recoverability"]["mi_results"]["meta"]["eval_corpus"]
    assert ev["rows"] == 1 and "1 text, too few for a standard error (N/A); use at least 2" in ev["stderr_note"]
    assert "too few for a standard error" in caplog.text


def test_through_lm_eval_a_bad_setting_raises_its_message(tiny_dir, corpora):
    with pytest.raises(MiTasksError, match="seed for task mi_recoverability must be a whole number >= 0"):
        _lm_eval_run(tiny_dir, {"train_corpus": str(corpora / "train.txt"), "seed": "abc"})


def test_lm_eval_command_prints_one_line(tiny_dir, corpora):
    exe = shutil.which("lm_eval")
    if exe is None:
        pytest.skip("lm_eval is not installed")
    md = {"train_corpus": str(corpora / "train.txt"), "eval_corpus": str(corpora / "eval60.txt"), "seed": "abc"}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    r = subprocess.run([exe, "--model", "hf", "--model_args", f"pretrained={tiny_dir['gpt2']}", "--tasks",
                        "mi_recoverability", "--device", "cpu", "--metadata", json.dumps(md)],
                       capture_output=True, text=True, env=env, timeout=300)
    last = [ln for ln in r.stderr.splitlines() if ln.strip()][-1]
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert "seed for task mi_recoverability must be a whole number >= 0" in last
