"""lm-evaluation-harness integration, through the real ``lm_eval`` command line and in-process."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ..conftest import make_sentences
from mi_tasks.harness.lm_eval_compat import load_tasks
from mi_tasks.metrics.result import rows_from_dict

LM_EVAL = shutil.which("lm_eval")
pytestmark = pytest.mark.skipif(LM_EVAL is None, reason="lm_eval is not installed (pip install '.[test]')")


def _env(env: dict | None) -> dict:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})}


def run_cli(*args: str, env: dict | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([LM_EVAL, *args], capture_output=True, text=True, env=_env(env), cwd=cwd, timeout=900)


def start_cli(*args: str) -> subprocess.Popen:
    """An ``lm_eval`` run started in the background (to run beside another)."""
    return subprocess.Popen([LM_EVAL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(None))


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpora")
    (d / "train.txt").write_text("\n".join(make_sentences(300, seed=5)))
    (d / "eval.jsonl").write_text("\n".join(json.dumps({"body": t}) for t in make_sentences(40, seed=6)))
    return d


def _metadata(corpus_files, **extra) -> str:
    md = {"train_corpus": str(corpus_files / "train.txt"), "eval_corpus": str(corpus_files / "eval.jsonl"),
          "eval_text_field": "body", **extra}
    return json.dumps(md)


def _results(out: Path) -> dict:
    files = sorted(out.rglob("results_*.json"))
    assert files, f"no results JSON under {out}"
    return json.loads(files[-1].read_text())


def _has_subcommands() -> bool:
    import importlib.util
    return importlib.util.find_spec("lm_eval._cli") is not None  # `lm_eval ls` / `validate`: 0.4.10 on


def test_discovery_listing_and_opt_out(tmp_path):
    full = {"MI_TASKS_LMEVAL_ONLY": "0"}  # lm-eval's whole index, as a user's plain `lm_eval` has it
    listed = run_cli("ls", "tasks", env=full) if _has_subcommands() else run_cli("--tasks", "list", env=full)
    assert listed.returncode == 0, listed.stderr[-2000:]
    for name in ("mi_recoverability", "mi_fano", "mi_suite", "mi_recoverability_imdb", "hellaswag"):
        assert name in listed.stdout
    ours = run_cli("ls", "tasks", env={"MI_TASKS_LMEVAL_ONLY": "1"}) if _has_subcommands() else \
        run_cli("--tasks", "list", env={"MI_TASKS_LMEVAL_ONLY": "1"})
    assert ours.returncode == 0 and "mi_suite" in ours.stdout and "hellaswag" not in ours.stdout
    # The hook adds mi-tasks' folder to every TaskManager; include_defaults=False skips indexing lm-eval's own
    # thousands of YAMLs (6 s a process), which `ls tasks` above already did with them.
    probe = "from lm_eval.tasks import TaskManager; print('mi_recoverability' in TaskManager(include_defaults=False).all_tasks)"
    off = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "MI_TASKS_LMEVAL_AUTOLOAD": "0"})
    on = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=_env(full))
    assert on.stdout.strip() == "True" and off.stdout.strip() == "False", (on.stderr[-500:], off.stderr[-500:])
    # Start-up cost: without lm_eval, the hook imports nothing heavy (only mi_tasks' lazy package and the watcher).
    heavy = "('torch', 'lm_eval', 'transformers', 'numpy', 'mi_tasks.states.extraction')"
    bare = subprocess.run([sys.executable, "-c", f"import sys; print(sorted(m for m in {heavy} if m in sys.modules))"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert bare.stdout.strip() == "[]"


@pytest.mark.skipif(not _has_subcommands(), reason="`lm_eval validate` arrived after lm-eval 0.4.9")
def test_validate_passes():
    r = run_cli("validate", "--tasks", "mi_recoverability,mi_fano")
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-1500:]


def test_run_tiny_model_results_overrides_samples_and_determinism(tiny_dir, corpus_files, tmp_path):
    common = ["--model", "hf", "--model_args", f"pretrained={tiny_dir['llama']}", "--tasks", "mi_suite",
              "--device", "cpu", "--batch_size", "8", "--log_samples",
              "--metadata", _metadata(corpus_files, layers="0:1:0.5", headline_layer="best", seed=3,
                                             n_windows=24, mi_steps=30)]
    b = start_cli(*common, "--output_path", str(tmp_path / "b"))  # an identical run at the same time
    a = run_cli(*common, "--output_path", str(tmp_path / "a"))
    assert a.returncode == 0, a.stderr[-3000:]
    assert "recall_at_k" in a.stdout and "fano_mi_bits" in a.stdout and "ba_mi_bits" in a.stdout
    res = _results(tmp_path / "a")
    cfg = res["configs"]["mi_recoverability"]
    mi = cfg["mi_results"]
    rec_rows = rows_from_dict(mi, "mi_recoverability")
    assert [r.layer for r in rec_rows] == [0, 2, 3]  # 0:1:0.5 of 3 layers rounds to 0, 2 (1.5 -> 2), 3
    assert rec_rows[1].depth == 2 / 3 and rec_rows[1].measurement("fano_mi_bits").stderr_method == "seeded bootstrap over texts"
    assert cfg["mi_settings"]["seed"] == 3 and cfg["mi_settings"]["eval_text_field"] == "body"
    meta = mi["meta"]
    assert meta["train_corpus"]["rows"] == 300 and len(meta["train_corpus"]["sha256"]) == 64
    assert meta["eval_corpus"]["rows"] == 40 and meta["mi_tasks_version"]
    best = max(rec_rows, key=lambda r: r["recall_at_k"])
    assert mi["headline_layer"] == best.layer
    assert res["results"]["mi_recoverability"]["recall_at_k,none"] == pytest.approx(best["recall_at_k"])
    assert res["results"]["mi_fano"]["fano_mi_bits,none"] == pytest.approx(best["fano_mi_bits"])
    # both tasks of the suite saw the same extraction (same numbers)
    assert res["configs"]["mi_fano"]["mi_results"]["layers"] == mi["layers"]
    ent = res["configs"]["mi_entropy"]["mi_results"]
    ent_rows = rows_from_dict(ent, "mi_entropy")
    assert {"prompt_entropy", "dataset_entropy", "prompt_effective_rank", "diff_erank"} <= set(ent_rows[0])
    assert [r.layer for r in ent_rows] == [0, 2, 3] and ent["meta"]["random_texts"] == 40
    top = min(ent_rows, key=lambda r: r["prompt_entropy"])  # headline_layer: best, in the family's direction (lower)
    assert res["results"]["mi_entropy"]["prompt_entropy,none"] == pytest.approx(top["prompt_entropy"])
    assert all(0 < r["prompt_entropy"] <= 1 and 0 < r["dataset_entropy"] <= 1 for r in ent_rows)
    ie = res["configs"]["mi_emergence"]["mi_results"]
    ie_rows = rows_from_dict(ie, "mi_emergence")
    assert [r.layer for r in ie_rows] == [0, 2] and ie["meta"]["n_windows"] == 24  # IE(l) for selected l < L
    best_ie = max(ie_rows, key=lambda r: r["ie_bits"])
    assert res["results"]["mi_emergence"]["ie_bits,none"] == pytest.approx(best_ie["ie_bits"])
    assert ie_rows[1].depth == pytest.approx(2 / 3)
    samples = sorted((tmp_path / "a").rglob("samples_mi_recoverability_*.jsonl"))
    assert samples
    line = json.loads(samples[0].read_text().splitlines()[0])
    assert len(json.dumps(line)) < 2000 and "recall" in line["resps"][0][0]  # a few floats, no arrays
    assert 0 <= line["fano_mi_bits"] <= np.log2(165) and 0 <= line["recall_at_k"] <= 1
    # standard errors: lm-eval's own formula for per-text means (sd/sqrt(n) of the logged values),
    # mi-tasks' seeded bootstrap for Fano's corpus-level bound; IE has none (N/A)
    rows = [json.loads(x) for x in samples[0].read_text().splitlines()]
    recalls = np.array([r["recall_at_k"] for r in rows])
    got = res["results"]["mi_recoverability"]
    assert len(rows) == 40 and got["recall_at_k_stderr,none"] == pytest.approx(recalls.std(ddof=1) / np.sqrt(40))
    assert got["recall_at_k_stderr,none"] == pytest.approx(best.stderr("recall_at_k"))
    assert got["ba_mi_bits_stderr,none"] == pytest.approx(best.stderr("ba_mi_bits"))
    assert got["fano_mi_bits_stderr,none"] == best.stderr("fano_mi_bits") > 0
    assert res["results"]["mi_entropy"]["prompt_entropy_stderr,none"] > 0
    assert res["results"]["mi_emergence"]["ie_bits_stderr,none"] == "N/A"
    table = next(x for x in a.stdout.splitlines() if "|recall_at_k" in x.replace(" ", ""))
    assert "N/A" not in table and f"{got['recall_at_k_stderr,none']:.4f}" in table, table
    _, b_err = b.communicate(timeout=900)
    assert b.returncode == 0, b_err[-2000:]
    # Two runs at once, same seed, same numbers; float32 spectra may differ in the 7th digit between processes (BLAS
    # reduction order), as seen on lm-eval 0.4.9 / transformers 4.57 for dataset_effective_rank.
    again = _results(tmp_path / "b")["results"]
    assert again.keys() == res["results"].keys()
    for task, values in res["results"].items():
        for key, value in values.items():
            want = pytest.approx(value, rel=1e-6, nan_ok=True) if isinstance(value, float) else value
            assert again[task][key] == want, (task, key)


def test_bad_settings(tiny_dir, corpus_files, tmp_path):
    """A typo through the command line (the message a user sees), a missing corpus in-process.

    ``--limit`` with ``--batch_size auto`` is checked on the lm_eval runs of test_enhance.
    """
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from mi_tasks.errors import MiTasksError

    base = ["--model", "hf", "--model_args", f"pretrained={tiny_dir['gpt2']}", "--tasks", "mi_recoverability",
            "--device", "cpu", "--batch_size", "auto"]
    typo = run_cli(*base, "--metadata", _metadata(corpus_files, layrs="all"))
    assert typo.returncode != 0 and "unknown setting 'layrs' (did you mean 'layers'?)" in typo.stderr
    md = {"eval_corpus": str(tmp_path / "nope.tsv")}
    lm = HFLM(pretrained=tiny_dir["gpt2"], device="cpu", batch_size=8, dtype="float32")
    with pytest.raises(MiTasksError, match="does not exist"):
        lm_eval.simple_evaluate(model=lm, tasks=["mi_recoverability"], metadata=md,
                                task_manager=TaskManager(include_defaults=False, metadata=md))


def test_encoder_through_harness_gets_the_core_states(tiny_dir):
    """--model hf loads BERT through a causal-LM class; mi-tasks must still read bidirectional states."""
    import warnings

    from lm_eval.models.huggingface import HFLM

    from mi_tasks import HiddenStateExtractor, load_model
    from mi_tasks.harness.runner import _hf_parts

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lm = HFLM(pretrained=tiny_dir["bert"], device="cpu", batch_size=4, dtype="float32")
    model, tok = _hf_parts(lm)
    texts = make_sentences(10, seed=9)
    via_harness = HiddenStateExtractor(model.base_model, tok, progress=False).extract(texts)[0]
    core_model, core_tok = load_model(tiny_dir["bert"], dtype="float32")
    core = HiddenStateExtractor(core_model, core_tok, progress=False).extract(texts)[0]
    np.testing.assert_allclose(via_harness, core, atol=1e-5)


def test_suite_is_one_extraction_pass_and_unsupported_backend_errors(tiny_dir, corpus_files):
    import lm_eval
    from lm_eval.api.model import LM
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from mi_tasks.errors import MiTasksError
    from mi_tasks.harness.runner import handle_requests

    lm = HFLM(pretrained=tiny_dir["gpt2"], device="cpu", batch_size=16, dtype="float32")
    calls = []
    hook = lm.model.base_model.register_forward_hook(lambda *a: calls.append(1))
    md = json.loads(_metadata(corpus_files))
    tm = TaskManager(include_defaults=False, metadata=md)  # mi-tasks' YAMLs only: no 6 s index of lm-eval's own
    # mi_suite without mi_emergence (which runs its own windows through the model)
    out = lm_eval.simple_evaluate(model=lm, tasks=["mi_recoverability", "mi_fano", "mi_entropy", "mi_recoverability_agnews"],
                                  task_manager=tm, metadata=md)
    hook.remove()
    # 300 train texts + 40 eval texts in batches of 16, once for all four tasks (entropy's random copy is another model)
    assert len(calls) == int(np.ceil(300 / 16)) + int(np.ceil(40 / 16))
    assert out["results"]["mi_recoverability"]["recall_at_k,none"] == out["results"]["mi_recoverability_agnews"]["recall_at_k,none"]

    class ApiLike(LM):
        def loglikelihood(self, requests): ...
        def loglikelihood_rolling(self, requests): ...
        def generate_until(self, requests): ...

    tm2 = TaskManager(include_defaults=False, metadata=md)
    task = load_tasks(tm2, ["mi_fano"])["mi_fano"]
    task.build_all_requests(limit=2)
    with pytest.raises(MiTasksError, match="gives no hidden states.*--model hf"):
        handle_requests(ApiLike(), task.instances)


def test_variants_include_the_base_task():
    """Per-corpus variants and mi_fano ``include:`` mi_recoverability.yaml and differ from it only where they say."""
    import yaml
    from lm_eval.tasks import TaskManager

    from mi_tasks.settings import TaskSettings
    from mi_tasks.harness.lm_eval_compat import task_dir

    folder = Path(task_dir())
    base_md = yaml.safe_load((folder / "mi_recoverability.yaml").read_text().replace("!function", ""))["metadata"]
    # A variant's own metadata block replaces the base's (lm-eval merges top-level keys), so what it leaves
    # out comes from TaskSettings' defaults: they must be the base YAML's settings.
    defaults = TaskSettings()
    assert {k: v for k, v in base_md.items() if k != "version"} == {k: getattr(defaults, k) for k in base_md if k != "version"}
    variants = ["mi_recoverability_agnews", "mi_recoverability_imdb", "mi_recoverability_qnli", "mi_recoverability_sst2"]
    for name in variants:
        text = (folder / f"{name}.yaml").read_text()
        assert "include: mi_recoverability.yaml" in text and "train_limit" not in text
    tasks = load_tasks(TaskManager(include_defaults=False), ["mi_recoverability", "mi_fano", *variants])
    base = tasks["mi_recoverability"].settings
    assert tasks["mi_fano"].settings == base and tasks["mi_fano"].family.name == "recoverability"
    assert tasks["mi_fano"].METRICS == ("fano_mi_bits", "fano_mi_bits_norm", "fano_mi_bits_empirical", "ba_mi_bits")
    for name in variants:
        assert tasks[name].settings == TaskSettings.given(base, eval_corpus=name.rsplit("_", 1)[1]), name
        assert tasks[name].family.name == "recoverability" and tasks[name].METRICS == tasks["mi_recoverability"].METRICS


def test_headline_layer_index_out_of_range_is_an_error():
    from types import SimpleNamespace

    from lm_eval.tasks import TaskManager

    from mi_tasks.errors import MiTasksError

    result = SimpleNamespace(layers=[{"layer": i, "recall_at_k": 0.1 * i} for i in (0, 3, 6)], meta={"num_layers": 6})

    def slot(which):
        tm = TaskManager(include_defaults=False, metadata={"headline_layer": which})
        return load_tasks(tm, ["mi_recoverability"])["mi_recoverability"].headline_row(result)

    assert [slot(w) for w in ("last", "first", "best", "3", "-1", "-7")] == [2, 0, 2, 1, 2, 0]
    for bad in ("99", "7", "-8"):
        with pytest.raises(MiTasksError, match=r"out of range: this model has 7 states, so use an index from 0 to 6"):
            slot(bad)
    with pytest.raises(MiTasksError, match="not among the scored layers"):
        slot("2")


@pytest.mark.parametrize("task_name", ["mi_entropy", "mi_emergence"])
def test_headline_layer_out_of_range_fails_before_any_pass(tiny_dir, corpus_files, task_name):
    """99 and -99 on a 4-state tiny Llama: an error naming the range (emergence overrides headline_row), no forward pass."""
    from types import SimpleNamespace

    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from mi_tasks.errors import MiTasksError

    lm = HFLM(pretrained=tiny_dir["llama"], device="cpu", batch_size=8, dtype="float32")
    calls = []
    hook = lm.model.base_model.register_forward_hook(lambda *a: calls.append(1))
    for bad in (99, -99):
        md = {**json.loads(_metadata(corpus_files)), "headline_layer": bad, "random_baseline": False}
        with pytest.raises(MiTasksError, match=r"out of range: this model has 4 states, so use an index from 0 to 3 "
                                               r"\(or -4 to -1\)"):
            lm_eval.simple_evaluate(model=lm, tasks=[task_name], metadata=md, limit=4,
                                    task_manager=TaskManager(include_defaults=False, metadata=md))
        # the task's own headline_row, on a result it could have made, says the same
        task = load_tasks(TaskManager(include_defaults=False, metadata=md), [task_name])[task_name]
        result = SimpleNamespace(layers=[{"layer": i, task.family.best_key: 0.0} for i in (1, 2)], meta={"num_layers": 3})
        with pytest.raises(MiTasksError, match="out of range"):
            task.headline_row(result)
    hook.remove()
    assert not calls


def test_entropy_include_special_is_keyed_and_recorded(tiny_dir, corpus_files):
    """include_special ("true" as --metadata key=value gives it) reaches the extractor and the results JSON."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from mi_tasks.errors import MiTasksError
    from mi_tasks.settings import TaskSettings

    lm = HFLM(pretrained=tiny_dir["llama"], device="cpu", batch_size=8, dtype="float32")  # its tokenizer adds BOS
    runs = {}
    for flag in ("false", "true"):  # the same lm: its cache must not hand the second run the first one's pass
        md = {**json.loads(_metadata(corpus_files)), "include_special": flag, "random_baseline": False}
        out = lm_eval.simple_evaluate(model=lm, tasks=["mi_entropy"], metadata=md, limit=10,
                                      task_manager=TaskManager(include_defaults=False, metadata=md))
        runs[flag] = out["configs"]["mi_entropy"]
    for flag, want in (("false", False), ("true", True)):
        assert runs[flag]["mi_settings"]["include_special"] is want
        assert runs[flag]["mi_results"]["meta"]["include_special"] is want
    assert runs["true"]["mi_results"]["meta"]["mean_tokens"] == pytest.approx(runs["false"]["mi_results"]["meta"]["mean_tokens"] + 1)
    assert TaskSettings(include_special=True).pass_settings.key() != TaskSettings().pass_settings.key()
    with pytest.raises(MiTasksError, match="include_special must be true or false"):
        TaskSettings.from_metadata({"include_special": "maybe"}, "mi_entropy")


def test_word_targets_through_the_harness_are_the_same_for_two_tokenizers(tiny_dir, corpus_files, tmp_path):
    """targets=words: one decoder vocabulary for a BERT and a Llama tokenizer, recorded, cached apart from tokens."""
    import warnings

    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from mi_tasks.reporting import load_results
    from mi_tasks.reporting.comparability import find_clashes

    got: dict[tuple[str, str], dict] = {}
    for kind in ("bert", "llama"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lm = HFLM(pretrained=tiny_dir[kind], device="cpu", batch_size=16, dtype="float32")
        for targets in ("words", "tokens") if kind == "llama" else ("words",):  # the same lm: fits keyed by targets
            md = {**json.loads(_metadata(corpus_files)), "targets": targets, "text_metrics": False}
            out = lm_eval.simple_evaluate(model=lm, tasks=["mi_recoverability"], metadata=md, limit=12,
                                          task_manager=TaskManager(include_defaults=False, metadata=md))
            got[(kind, targets)] = out
            folder = tmp_path / targets / kind
            folder.mkdir(parents=True)
            (folder / "results_x.json").write_text(json.dumps(out, default=str))
    meta = {k: v["configs"]["mi_recoverability"]["mi_results"]["meta"] for k, v in got.items()}
    assert meta[("bert", "words")]["targets"] == meta[("llama", "words")]["targets"] == "words"
    assert got[("bert", "words")]["configs"]["mi_recoverability"]["mi_settings"]["targets"] == "words"
    assert meta[("bert", "words")]["decoder_vocab_size"] == meta[("llama", "words")]["decoder_vocab_size"]
    assert meta[("bert", "words")]["vocab_size"] == meta[("llama", "words")]["vocab_size"]
    assert meta[("llama", "tokens")]["targets"] == "tokens"
    assert meta[("llama", "tokens")]["vocab_size"] != meta[("llama", "words")]["vocab_size"]  # not the words' fit
    assert not find_clashes(load_results(tmp_path / "words"))  # token targets of two tokenizers: test_reporting
    mixed = find_clashes(load_results([tmp_path / "words" / "bert", tmp_path / "tokens" / "llama"]))
    assert len(mixed) == 1 and "bert (word targets), llama (token targets of " in mixed[0].message
