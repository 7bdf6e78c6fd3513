"""mi_tasks.mteb on tiny models: mteb's encoder protocol, variants stored apart, layer sweeps, local tasks, errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

mteb = pytest.importorskip("mteb")

from mi_tasks import HiddenStateExtractor, MiTasksError  # noqa: E402
from mi_tasks.mteb import (LayerEncoder, classification_task, clustering_task, default_data_dir,  # noqa: E402
                           layer_sweep, read_stsb, sts_task)

from ..conftest import make_sentences  # noqa: E402


@pytest.fixture(scope="module")
def tiny_tasks():
    a, b = make_sentences(24, seed=11), make_sentences(24, seed=12)
    rng = np.random.default_rng(0)
    sts = sts_task("TinySTS", a, b, rng.uniform(0, 5, size=24).round(2).tolist())
    texts = make_sentences(40, seed=13)
    labels = ["animal" if any(w in t for w in ("cat", "dog", "bird", "fish")) else "other" for t in texts]
    clf = classification_task("TinyClassification", texts[:28], labels[:28], texts[28:], labels[28:],
                              samples_per_label=4, n_experiments=2)
    clu = clustering_task("TinyClustering", texts, labels, n_clusters=2)
    return sts, clf, clu


def _evaluate(enc, tasks, cache=None):
    return mteb.evaluate(enc, tasks, cache=cache, show_progress_bar=False, overwrite_strategy="always",
                         encode_kwargs={"batch_size": 8})


def test_encoder_embeds_the_extractors_states(tiny_dir, tiny):
    texts = make_sentences(10, seed=4)
    for kind, pooling in (("bert", "mean"), ("llama", "last")):
        enc = LayerEncoder(tiny_dir[kind], layer=2, pooling=pooling, dtype="float32")
        model, tok = tiny[kind]
        ref, _ = HiddenStateExtractor(model, tok, layers=[2], pooling=pooling, progress=False).extract(texts)
        ref = ref[0] / np.linalg.norm(ref[0], axis=1, keepdims=True)
        got = enc.encode([{"text": texts[:6]}, {"text": texts[6:]}])
        assert got.shape == (10, 32) and np.allclose(got, ref, atol=1e-5)
        assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
        raw = LayerEncoder(tiny_dir[kind], layer=-2, pooling=pooling, normalize=False, dtype="float32")
        assert raw.layer == 2 and np.allclose(raw.embed(texts) / np.linalg.norm(raw.embed(texts), axis=1, keepdims=True), ref, atol=1e-5)


def test_encoder_given_a_tasks_settings_reads_that_tasks_states(tiny_dir, tiny):
    """The settings mi_entropy's YAML uses, with a length that truncates: the encoder's states are the pass's."""
    from mi_tasks.settings import TaskSettings

    from ..config.test_settings import yaml_metadata

    s = TaskSettings.from_metadata({**yaml_metadata("mi_entropy"), "max_text_length": 6, "pooling": "last",
                                    "include_special": True}, "mi_entropy")
    texts = make_sentences(10, seed=4)
    model, tok = tiny["llama"]
    ref, _ = HiddenStateExtractor(model, tok, layers=[3], pooling=s.pooling, max_text_length=s.max_text_length,
                                  include_special=s.include_special, progress=False).extract(texts)
    enc = LayerEncoder(tiny_dir["llama"], layer=3, settings=s, normalize=False, dtype="float32")
    assert (enc.pooling, enc.include_special, enc.cache.extractor.max_text_length) == ("last", True, 6)
    assert np.allclose(enc.embed(texts), ref[0], atol=1e-5)
    plain = LayerEncoder(tiny_dir["llama"], layer=3, normalize=False, dtype="float32")  # no ST config: a task's defaults
    assert plain.cache.extractor.max_text_length == TaskSettings().max_text_length
    with pytest.raises(MiTasksError, match="pass pooling= to layer_sweep itself"):
        layer_sweep(tiny_dir["bert"], [sts_task("T", ["a b"], ["c d"], [1.0])], metrics=("entropy",),
                    metric_settings={"pooling": "last"})


def test_mteb_evaluate_runs_all_task_kinds(tiny_dir, tiny_tasks):
    enc = LayerEncoder(tiny_dir["bert"], layer=-1, dtype="float32")
    from mteb.models.models_protocols import EncoderProtocol

    assert isinstance(enc, EncoderProtocol)
    res = _evaluate(enc, list(tiny_tasks))
    scores = {tr.task_name: tr.get_score() for tr in res.task_results}
    assert set(scores) == {"TinySTS", "TinyClassification", "TinyClustering"}
    assert all(np.isfinite(v) for v in scores.values())
    assert -1 <= scores["TinySTS"] <= 1 and 0 <= scores["TinyClassification"] <= 1
    assert res.model_name == enc.mteb_model_meta.name and res.model_name.startswith("mi-tasks/")


def test_variants_are_stored_apart(tiny_dir, tiny_tasks, tmp_path):
    cache = mteb.ResultCache(cache_path=tmp_path)
    sts = tiny_tasks[0]
    variants = [LayerEncoder(tiny_dir["llama"], layer=1, dtype="float32"),
                LayerEncoder(tiny_dir["llama"], layer=3, dtype="float32"),
                LayerEncoder(tiny_dir["llama"], layer=3, pooling="last", dtype="float32")]
    paths, scores = [], []
    for enc in variants:
        res = _evaluate(enc, [sts], cache=cache)
        scores.append(res.task_results[0].get_score())
        p = cache.get_task_result_path(sts.metadata.name, enc.mteb_model_meta)
        assert p.is_file(), p
        paths.append(p)
    assert len(set(paths)) == 3 and len({v.mteb_model_meta.experiment_name for v in variants}) == 3
    assert "layer_1" in str(paths[0]) and "pooling_last" in str(paths[2])
    stored = [json.loads(p.read_text())["scores"]["test"][0]["main_score"] for p in paths]
    assert stored == pytest.approx(scores, abs=1e-5)  # mteb stores 6 decimals
    # another checkpoint with the same folder name gets another revision
    same_name = LayerEncoder(tiny_dir["bert"], layer=1, dtype="float32").mteb_model_meta
    assert same_name.revision != variants[0].mteb_model_meta.revision


def test_layer_sweep_one_pass_per_text(tiny_dir, tiny_tasks, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(tiny_dir["bert"])
    tok = AutoTokenizer.from_pretrained(tiny_dir["bert"])
    seen = []
    model.register_forward_hook(lambda mod, args, kwargs, out: seen.append(kwargs["input_ids"].shape[0]), with_kwargs=True)
    sts = tiny_tasks[0]
    res = layer_sweep(tiny_dir["bert"], [sts], layers="all", output=tmp_path / "sweep.json", model=model,
                      tokenizer=tok, progress=False)
    sts.load_data()
    n_unique = len(set(list(sts.dataset["test"]["sentence1"]) + list(sts.dataset["test"]["sentence2"])))
    assert sum(seen) == n_unique  # every text ran once, for all 4 layers
    assert [r["layer"] for r in res.rows] == [0, 1, 2, 3]
    assert [r["depth"] for r in res.rows] == pytest.approx([0, 1 / 3, 2 / 3, 1])
    d = json.loads((tmp_path / "sweep.json").read_text())
    assert d["kind"] == "mteb_layer_sweep" and d["num_layers"] == 3 and d["pooling"] == "mean" and d["normalize"]
    assert d["mteb_version"] == mteb.__version__ and d["mi_tasks_version"]
    assert {k for r in d["rows"] for k in r} == {"layer", "depth", "task", "metric", "value"}
    assert d["rows"][0]["metric"] == "cosine_spearman"
    # each layer's score equals a single-layer encoder's
    single = _evaluate(LayerEncoder(tiny_dir["bert"], layer=2, dtype="float32"), [sts]).task_results[0].get_score()
    assert res.scores("TinySTS")[2] == pytest.approx(single, abs=1e-6)
    table = res.table().splitlines()
    assert len(table) == 5 and "TinySTS (cosine_spearman)" in table[0]


def test_errors(tiny_dir, tmp_path, monkeypatch):
    with pytest.raises(MiTasksError, match="out of range"):
        LayerEncoder(tiny_dir["bert"], layer=7, dtype="float32")
    with pytest.raises(MiTasksError, match="one integer"):
        LayerEncoder(tiny_dir["bert"], layer=[1, 2], dtype="float32")
    with pytest.raises(MiTasksError, match="unknown pooling"):
        LayerEncoder(tiny_dir["bert"], pooling="max", dtype="float32")
    with pytest.raises(MiTasksError, match="does not exist"):
        LayerEncoder(str(tmp_path / "no" / "model"))
    enc = LayerEncoder(tiny_dir["bert"], dtype="float32")
    with pytest.raises(MiTasksError, match="text only"):
        enc.encode([{"image": [1]}])
    with pytest.raises(MiTasksError, match="differ in length"):
        sts_task("Bad", ["a", "b"], ["c"], [1.0, 2.0])
    with pytest.raises(MiTasksError, match="no tasks"):
        layer_sweep(tiny_dir["bert"], [])
    monkeypatch.setenv("MI_TASKS_DATA_DIR", str(tmp_path / "missing"))
    with pytest.raises(MiTasksError, match="MI_TASKS_DATA_DIR"):
        default_data_dir()


def test_read_stsb_keeps_seven_fields_without_quoting(tmp_path):
    f = tmp_path / "sts.csv"
    f.write_text('main-news\t2012\ttest\t0001\t4.2\tHe said "hi\tShe said hi\textra\tfields\n'
                 "main-forums\t2014\ttest\t0002\t0.5\tA cat.\tA dog.\n")
    s1, s2, sc = read_stsb(f)
    assert s1 == ['He said "hi', "A cat."] and s2 == ["She said hi", "A dog."] and sc == [4.2, 0.5]
    f.write_text("x\ty\tz\n")
    with pytest.raises(MiTasksError, match="at least 7"):
        read_stsb(f)
