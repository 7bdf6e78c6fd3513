"""Every architecture family users bring, as a tiny random model: core API and ``lm_eval --model hf-mi``.

Per family: L+1 finite states; a text's pooled state is the same alone and in a padded batch
(either padding side); encoders (and T5's encoder) are bidirectional, decoders causal; and the
per-layer recall that ``lm_eval`` reports through ``hf-mi`` equals the core API's on the same texts.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from mi_tasks.metrics.result import rows_from_dict

from tests.architectures import FAMILIES, build
from tests.conftest import _tokenizer, make_sentences

# Encoders without a causal-LM class: `--model hf` cannot load them, hf-mi runs the whole suite.
NO_CAUSAL_HEAD = ("distilbert", "mpnet", "deberta-v2", "modernbert")


@pytest.fixture(scope="module")
def family_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    toks = {"bert": _tokenizer("bert"), "llama": _tokenizer("llama")}
    built: dict[str, str] = {}

    def get(model_type: str) -> str:
        if model_type not in built:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                built[model_type] = build(model_type, root, toks)
        return built[model_type]

    return get


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    d = tmp_path_factory.mktemp("family_corpora")
    (d / "train.txt").write_text("\n".join(make_sentences(60, seed=21)))
    (d / "eval.txt").write_text("\n".join(make_sentences(12, seed=22)))
    return {"train_corpus": str(d / "train.txt"), "eval_corpus": str(d / "eval.txt")}


def _pooled(ex, texts):
    return ex.extract(texts)[0]


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_core_states_batching_and_attention(family_dirs, model_type):
    from mi_tasks import HiddenStateExtractor, load_model

    kind = FAMILIES[model_type][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, tok = load_model(family_dirs(model_type), dtype="float32")
    texts = make_sentences(6, seed=31, lo=3, hi=14)
    pooling = "mean" if kind != "decoder" else "last"
    for side in ("left", "right"):
        tok.padding_side = side
        ex = HiddenStateExtractor(model, tok, layers="all", pooling=pooling, batch_size=6, progress=False)
        assert len(ex.layers) == ex.num_layers + 1
        batched = _pooled(ex, texts)
        assert np.isfinite(batched).all()
        alone = np.stack([_pooled(ex, [t])[:, 0] for t in texts], axis=1)
        np.testing.assert_allclose(batched, alone, atol=2e-4, rtol=1e-3, err_msg=f"{model_type}, {side} padding")
    # Attention direction: change the last word; the first token's last-layer state moves only if bidirectional.
    enc_a = tok(["the cat sees a dog"], return_tensors="pt", return_token_type_ids=False)
    enc_b = tok(["the cat sees a car"], return_tensors="pt", return_token_type_ids=False)
    assert enc_a["input_ids"].shape == enc_b["input_ids"].shape
    with torch.no_grad():
        first_a = model(**enc_a, output_hidden_states=True).hidden_states[-1][0, 0]
        first_b = model(**enc_b, output_hidden_states=True).hidden_states[-1][0, 0]
    moved = not torch.allclose(first_a, first_b, atol=1e-6)
    assert moved == (kind != "decoder"), f"{model_type}: first state {'moved' if moved else 'did not move'}"


@pytest.fixture(scope="module")
def task_manager(corpora):
    from lm_eval.tasks import TaskManager

    md = {**corpora, "text_metrics": False, "n_windows": 16, "random_limit": 8}
    return md, TaskManager(include_defaults=False, metadata=md)  # mi-tasks' YAMLs only, indexed once


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_lm_eval_hf_mi_equals_core(family_dirs, corpora, task_manager, model_type, monkeypatch):
    import lm_eval
    import lm_eval.evaluator

    from mi_tasks import HiddenStateExtractor, RecoverabilityProbe, load_corpus, load_model

    folder = family_dirs(model_type)
    tasks = ["mi_suite"] if model_type in NO_CAUSAL_HEAD else ["mi_recoverability"]
    md, tm = task_manager
    monkeypatch.setattr(lm_eval.evaluator, "add_env_info", lambda results: None)  # 0.5 s of `pip list` per run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = lm_eval.simple_evaluate(model="hf-mi", model_args=f"pretrained={folder},dtype=float32", tasks=tasks,
                                      batch_size=8, device="cpu", metadata=md, task_manager=tm)
    got = [{"layer": r.layer, "value": r["recall_at_k"]}
           for r in rows_from_dict(out["configs"]["mi_recoverability"]["mi_results"], "mi_recoverability")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, tok = load_model(folder, dtype="float32")
    ex = HiddenStateExtractor(model, tok, layers="all", pooling="mean", max_text_length=128, batch_size=8, progress=False)
    probe = RecoverabilityProbe(fit="ridge", seed=0, text_metrics=False).fit(ex.stream(load_corpus(corpora["train_corpus"])))
    want = probe.score(ex.stream(load_corpus(corpora["eval_corpus"]))).curve("recall_at_k")
    assert [r["layer"] for r in got] == [w[0] for w in want]
    np.testing.assert_allclose([r["value"] for r in got], [w[2] for w in want], atol=1e-6, err_msg=model_type)
    if model_type in NO_CAUSAL_HEAD:
        json.dumps(out["results"], default=str)  # the whole suite ran and its results serialise
        assert set(out["results"]) >= {"mi_recoverability", "mi_fano", "mi_entropy", "mi_emergence"}


def test_hf_on_an_encoder_without_causal_head_names_hf_mi(family_dirs, corpora):
    """`--model hf` cannot load DistilBERT; the run ends with one line naming hf-mi (exit 2, no traceback)."""
    import os
    import shutil
    import subprocess

    exe = shutil.which("lm_eval")
    if exe is None:
        pytest.skip("lm_eval is not installed")
    r = subprocess.run([exe, "--model", "hf", "--model_args", f"pretrained={family_dirs('distilbert')}", "--tasks",
                        "mi_recoverability", "--device", "cpu", "--metadata", json.dumps(corpora)],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    last = [ln for ln in r.stderr.splitlines() if ln.strip()][-1]
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert last.startswith("mi-tasks: error: distilbert has no causal-LM class") and "--model hf-mi" in last


def test_hf_mi_names_a_missing_model_folder(tmp_path):
    from mi_tasks import MiTasksError
    from mi_tasks.harness.lm_model import HiddenStateLM

    with pytest.raises(MiTasksError, match="does not exist"):
        HiddenStateLM(pretrained=str(tmp_path / "nope" / "model"), device="cpu")
