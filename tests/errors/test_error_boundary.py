"""Issue 30's bad inputs through the commands a user types, and the error boundary they rely on.

Each input ends as one ``mi-tasks: error:`` line with exit code 2, or as a result carrying its
flag. The ``lm_eval`` cases run as subprocesses at once (each pays lm-eval's import time once).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess

import pytest

from mi_tasks import MiTasksError, load_corpus
from mi_tasks.cli import main
from mi_tasks.errors import one_line, translate_errors

from ..conftest import make_sentences
from .test_bad_inputs import one_line_error

JAPANESE = ["猫が古い家で犬を見る。", "青い空に鳥が飛んでいる。", "小さな川の近くに木がある。", "赤い車が道を走る。"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("boundary")
    (d / "train.txt").write_text("\n".join(make_sentences(120, seed=5)))
    (d / "eval.txt").write_text("\n".join(make_sentences(20, seed=6)))
    (d / "punct.txt").write_text("!!! ...\n?? -- ;;\n(( )) ,,\n")
    (d / "ja.txt").write_text("\n".join(JAPANESE))
    rows = [{"text": t} for t in make_sentences(6, seed=7)]
    (d / "number.jsonl").write_text("\n".join(json.dumps(r) for r in rows + [{"text": 42}]))
    (d / "list.jsonl").write_text("\n".join(json.dumps(r) for r in [rows[0], {"text": ["a", "b"]}]))
    (d / "null.jsonl").write_text("\n".join(json.dumps(r) for r in rows + [{"text": None}]))
    return d


# ------------------------------------------------------------------ the boundary itself
def _raise_in(module: str, exc: BaseException) -> None:
    """Raises ``exc`` from a frame of ``module`` (a library's, as transformers or torch would, or mi-tasks')."""
    namespace = {"__name__": module}
    exec("def load(e):\n    raise e\n", namespace)
    namespace["load"](exc)


@pytest.mark.parametrize("exc", [OSError("no file named\nmodel.safetensors"), AttributeError("module 'torch' has no "
                                 "attribute 'float13'"), RuntimeError("Found no NVIDIA driver"), KeyError("x")])
def test_library_errors_become_one_line_naming_the_input_and_the_fix(exc):
    with pytest.raises(MiTasksError) as info:
        with translate_errors("cannot load model '/m'", "pass a complete folder"):
            _raise_in("somelib.loader", exc)
    text = str(info.value)
    assert text.startswith(f"cannot load model '/m': {type(exc).__name__}: ") and text.endswith("pass a complete folder")
    assert "\n" not in text and info.value.__cause__ is exc


def test_own_bugs_and_inner_messages_pass_unchanged():
    with pytest.raises(TypeError):  # a bug's type, raised by mi-tasks itself: stays a traceback
        with translate_errors("x", "y"):
            _raise_in("mi_tasks.states.extraction", TypeError("unsupported operand"))
    inner = MiTasksError("inner knows more")
    with pytest.raises(MiTasksError) as info:
        with translate_errors("outer", "y"):
            raise inner
    assert info.value is inner
    cut = one_line("a\n  b" + "c" * 400, 20)
    assert cut.startswith("a bccc") and cut.endswith("...") and len(cut) == 20


# ------------------------------------------------------------------ lm_eval --model hf-mi (subprocesses)
def test_lm_eval_bad_models_and_dtype_end_in_one_line(tiny_dir, files, tmp_path):
    exe = shutil.which("lm_eval")
    if exe is None:
        pytest.skip("lm_eval is not installed")
    src = tiny_dir["gpt2"]
    no_weights = tmp_path / "config_only"
    no_weights.mkdir()
    shutil.copy(os.path.join(src, "config.json"), no_weights)
    truncated = tmp_path / "truncated"
    shutil.copytree(src, truncated)
    (truncated / "model.safetensors").write_bytes((truncated / "model.safetensors").read_bytes()[:40])
    cases = {"config_only": (f"pretrained={no_weights}", f"--model hf-mi cannot load '{no_weights}'"),
             "truncated": (f"pretrained={truncated}", f"--model hf-mi cannot load '{truncated}'"),
             "float13": (f"pretrained={src},dtype=float13", "--model_args dtype 'float13' is not a torch dtype")}
    md = json.dumps({"train_corpus": str(files / "train.txt"), "eval_corpus": str(files / "eval.txt")})
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    procs = {name: subprocess.Popen([exe, "--model", "hf-mi", "--model_args", args, "--tasks", "mi_recoverability",
                                     "--device", "cpu", "--metadata", md], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, env=env)
             for name, (args, _) in cases.items()}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert proc.returncode == 2 and "Traceback" not in err, f"{name}: {err[-3000:]}"
        assert lines[-1].startswith("mi-tasks: error: " + cases[name][1]), f"{name}: {lines[-1]}"


def test_hf_mi_without_cuda_runs_on_the_cpu_and_says_how_to_choose(tiny_dir, monkeypatch, caplog):
    import torch

    from mi_tasks.harness.lm_model import HiddenStateLM

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CUDA build of torch without a GPU
    with caplog.at_level(logging.WARNING, logger="mi_tasks"):
        lm = HiddenStateLM(pretrained=tiny_dir["gpt2"], batch_size=4, dtype="float32")  # lm-eval's default: cuda
    assert str(lm.device) == "cpu" and next(lm.model.parameters()).device.type == "cpu"
    lines = [r.getMessage() for r in caplog.records if "no CUDA device" in r.getMessage()]
    assert len(lines) == 1 and "--device" in lines[0]


# ------------------------------------------------------------------ the mi-tasks command
def _recoverability(tiny_dir, files, tmp_path, eval_file: str, *extra: str) -> list[str]:
    return ["recoverability", "--model", tiny_dir["gpt2"], "--train-corpus", str(files / "train.txt"),
            "--eval-corpus", str(files / eval_file), "--output", str(tmp_path), "--quiet", "--dtype", "float32",
            "--text-metrics", "false", "--layers", "0,-1", *extra]


@pytest.mark.parametrize("template,message", [("{text", "eval_template (mi-tasks recoverability --eval-template) '{text' "
                                                         "is not a format string"),
                                              ("{0}", "has a positional field {0}")])
def test_templates_are_refused_before_any_work(capsys, tiny_dir, files, tmp_path, template, message):
    line = one_line_error(capsys, _recoverability(tiny_dir, files, tmp_path, "number.jsonl", "--eval-template", template))
    assert message in line


def test_corpus_values_must_be_text(capsys, tiny_dir, files, tmp_path):
    line = one_line_error(capsys, _recoverability(tiny_dir, files, tmp_path, "number.jsonl"))
    assert "number.jsonl row 7: field 'text' holds a int (42), not text" in line
    line = one_line_error(capsys, _recoverability(tiny_dir, files, tmp_path, "list.jsonl"))
    assert "list.jsonl row 2: field 'text' holds a list" in line


def test_a_null_row_is_counted_in_the_log_and_the_corpus(files, caplog):
    with caplog.at_level(logging.WARNING, logger="mi_tasks"):
        c = load_corpus(str(files / "null.jsonl"))
    assert len(c) == 6 and c.describe()["dropped_empty"] == 1
    assert "1 of 7 rows are empty" in caplog.text


def test_eval_texts_without_words_are_refused(capsys, tiny_dir, files, tmp_path):
    line = one_line_error(capsys, _recoverability(tiny_dir, files, tmp_path, "punct.txt", "--targets", "words"))
    assert "none of the 3 eval texts holds a word" in line


def test_eval_words_the_train_corpus_lacks_are_flagged(capsys, tiny_dir, files, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="mi_tasks"):
        assert main(_recoverability(tiny_dir, files, tmp_path, "ja.txt", "--targets", "words")) == 0
    out = capsys.readouterr().out
    saved = json.loads(next(tmp_path.glob("recoverability_*.json")).read_text())
    meta = saved["meta"]
    assert meta["target_coverage"] == 0.0 and meta["coverage_threshold"] == 0.5
    assert meta["flags"] and "only 0.0% of the eval words occur in the train corpus" in meta["flags"][0]
    assert "caveat: only 0.0% of the eval words" in out and "only 0.0%" in caplog.text


def test_covered_eval_words_carry_no_flag(tiny_dir, files, tmp_path, capsys):
    assert main(_recoverability(tiny_dir, files, tmp_path, "eval.txt", "--targets", "words")) == 0
    meta = json.loads(next(tmp_path.glob("recoverability_*.json")).read_text())["meta"]
    assert meta["target_coverage"] > 0.9 and meta["flags"] == [] and meta["eval_texts_without_targets"] == 0


# ------------------------------------------------------------------ lm-eval's TaskManager and MTEB's metadata
def test_task_manager_with_only_its_own_paths_gets_no_mi_tasks(tmp_path):
    from lm_eval.tasks import TaskManager

    (tmp_path / "mine.yaml").write_text("task: my_only_task\ndataset_path: json\noutput_type: generate_until\n"
                                        "doc_to_text: '{{q}}'\ndoc_to_target: '{{a}}'\ntest_split: test\n")
    only = TaskManager(include_defaults=False, include_path=str(tmp_path))
    assert "my_only_task" in only.all_tasks and "mi_recoverability" not in only.all_tasks
    assert "mi_recoverability" in TaskManager(include_defaults=False).all_tasks  # no paths given: mi-tasks' own


def test_mteb_metadata_of_mi_tasks_is_filled():
    from mi_tasks.mteb.information_tasks import MIEntropy, MIRecoverability
    from mi_tasks.mteb.local_tasks import local_task_metadata

    for meta in (MIRecoverability.metadata, MIEntropy.metadata, local_task_metadata("x", "STS", "d", "r")):
        assert meta.is_filled(), [f for f in type(meta).model_fields if getattr(meta, f) is None]
