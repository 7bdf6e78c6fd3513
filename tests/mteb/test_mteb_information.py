"""MI metrics as MTEB tasks (tiny models and embeddings-only models), and LayerEncoder's sentence-transformers defaults."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

mteb = pytest.importorskip("mteb")

from mteb.models.abs_encoder import AbsEncoder  # noqa: E402
from mteb.models.model_meta import ModelMeta  # noqa: E402

from mi_tasks import MiTasksError, RecoverabilityProbe  # noqa: E402
from mi_tasks.metrics.entropy.probe import matrix_entropy  # noqa: E402
from mi_tasks.metrics.result import MEASUREMENTS_KEY, Scores  # noqa: E402
from mi_tasks.metrics.recoverability.words import text_words, word_targets  # noqa: E402
from mi_tasks.mteb import LayerEncoder, MIEntropy, MIRecoverability, sts_task  # noqa: E402

from ..conftest import make_sentences  # noqa: E402


class ArrayEncoder(AbsEncoder):
    """An embeddings-only model (no tokenizer, no hidden states): a function of the text."""

    def __init__(self, name: str, fn, dim: int) -> None:
        self.fn = fn
        self.mteb_model_meta = ModelMeta(
            loader=None, name=f"test/{name}", revision="1", release_date=None, languages=None, n_parameters=None,
            memory_usage_mb=None, max_tokens=None, embed_dim=dim, license=None, open_weights=True,
            public_training_code=None, public_training_data=None, framework=["NumPy"], reference=None,
            similarity_fn_name="cosine", use_instructions=False, training_datasets=None, citation=None, contacts=None)

    def encode(self, inputs, *, task_metadata=None, hf_split=None, hf_subset=None, prompt_type=None, **kwargs):
        return np.stack([self.fn(t) for batch in inputs for t in batch["text"]]).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    return make_sentences(300, seed=21), make_sentences(60, seed=22)


def _evaluate(model, tasks, cache=None):
    return mteb.evaluate(model, tasks, cache=cache, show_progress_bar=False, overwrite_strategy="always",
                         encode_kwargs={"batch_size": 16})


def _scores(res):
    return {tr.task_name: tr.scores["test"][0] for tr in res.task_results}


def test_word_targets_are_one_fixed_tokenization():
    assert text_words("Hello, world! HELLO U.S. it's 3.5% -- ok") == ["hello", "world", "u", "s", "it's", "3.5", "ok"]
    (a, b), vocab = word_targets(["a cat", "the cat"], ["a dog"])
    assert vocab == {"a": 0, "cat": 1, "the": 2, "dog": 3}
    assert [t.tolist() for t in a] == [[0, 1], [2, 1]] and b[0].tolist() == [0, 3]


def test_known_answers_on_embeddings_only_models(data):
    """Multi-hot word vectors carry every word: recall 1 and Fano = log2|V|; seeded noise carries none: lift ~ 0."""
    train, test = data
    rec = MIRecoverability(train=train, test=test, name="TinyMIRecoverability")
    vocab = rec.mi_scorer.word_vocab

    def multi_hot(t):
        v = np.zeros(len(vocab))
        v[[vocab[w] for w in text_words(t)]] = 1.0
        return v

    def noise(t):
        return np.random.default_rng(sum(map(ord, t))).normal(size=48)

    ent = MIEntropy(test=test, name="TinyMIEntropy")
    words = _scores(_evaluate(ArrayEncoder("multi-hot", multi_hot, len(vocab)), [rec, ent]))
    rand = _scores(_evaluate(ArrayEncoder("noise", noise, 48), [rec, ent]))
    r = words["TinyMIRecoverability"]
    assert r["main_score"] == r["recall_at_k"] == pytest.approx(1.0)
    assert r["fano_mi_bits"] == pytest.approx(np.log2(len(vocab))) and r["word_vocab_size"] == len(vocab)
    assert r["ba_mi_bits"] > 0.5
    q = rand["TinyMIRecoverability"]
    assert q["prior_recall_at_k"] == r["prior_recall_at_k"]  # the prior does not depend on the model
    assert abs(q["lift_recall_at_k"]) < 3 * _stderr(q, "lift_recall_at_k") + 0.01 and q["ba_mi_bits"] < 0.05
    # entropy equals the core's matrix entropy of the same embeddings
    emb = np.stack([multi_hot(t) for t in test])
    e = words["TinyMIEntropy"]
    assert e["dataset_entropy"] == pytest.approx(matrix_entropy(emb), abs=1e-9)
    assert 0 < _stderr(e, "dataset_entropy") < 0.2 and e["dataset_entropy"] < rand["TinyMIEntropy"]["dataset_entropy"]


def _stderr(scores: dict, metric: str) -> float:
    """A stored MI task score's standard error (kept whole beside MTEB's flat scores)."""
    return Scores.from_dict(scores[MEASUREMENTS_KEY], "scores").stderr(metric)


def test_mi_beside_sts_in_one_call_stored_reloaded_and_reported(tiny_dir, data, tmp_path):
    train, test = data
    a, b = make_sentences(24, seed=31), make_sentences(24, seed=32)
    sts = sts_task("TinySTS", a, b, np.random.default_rng(0).uniform(0, 5, 24).round(2).tolist())
    rec, ent = MIRecoverability(train=train, test=test, name="TinyMIRecoverability"), MIEntropy(test=test, name="TinyMIEntropy")
    enc = LayerEncoder(tiny_dir["bert"], layer=2, dtype="float32")
    cache = mteb.ResultCache(cache_path=tmp_path / "mteb")
    got = _scores(_evaluate(enc, [sts, rec, ent], cache=cache))
    assert set(got) == {"TinySTS", "TinyMIRecoverability", "TinyMIEntropy"}
    # the task equals the core probe on the encoder's own embeddings and the same word targets
    (tr_t, te_t), vocab = word_targets(train, test)
    core = RecoverabilityProbe(text_metrics=False).fit_arrays(enc.embed(train), tr_t, len(vocab)) \
                                                  .score_arrays(enc.embed(test), te_t)
    assert got["TinyMIRecoverability"]["recall_at_k"] == pytest.approx(core.layers[0]["recall_at_k"], abs=1e-9)
    # reloaded from mteb's cache as any task
    back = cache.load_results(models=[enc.mteb_model_meta], tasks=[sts, rec, ent])
    reloaded = {tr.task_name: tr.get_score() for mr in back.model_results for tr in mr.task_results}
    assert reloaded == pytest.approx({k: v["main_score"] for k, v in got.items()}, abs=1e-6)
    # reports and cards read the stored MI results: the encoder's layer and depth, headline scores, stderr bands
    from mi_tasks.reporting import load_results
    from mi_tasks.reporting.card import eval_results

    res = load_results(tmp_path / "mteb")
    by_task = {t.task: t for t in res.tasks}
    assert set(by_task) == {"mteb:TinyMIRecoverability", "mteb:TinyMIEntropy"}
    t = by_task["mteb:TinyMIRecoverability"]
    assert t.headline_layer == 2 and t.curves["recall_at_k"][0][1] == pytest.approx(2 / 3)
    assert t.headline["recall_at_k"] == pytest.approx(got["TinyMIRecoverability"]["recall_at_k"], abs=1e-6)
    assert t.stderr("recall_at_k") and set(t.headline) == {"recall_at_k", "lift_recall_at_k", "fano_mi_bits", "ba_mi_bits"}
    cards = eval_results([t])
    assert {e.metric_type for e in cards} == set(t.headline) and cards[0].dataset_revision == rec.metadata.dataset["revision"]


def test_bad_input_is_named(data, tmp_path):
    train, test = data
    with pytest.raises(MiTasksError, match="at least 2"):
        MIEntropy(test=["only one"], name="Tiny")
    with pytest.raises(MiTasksError, match="unknown corpus 'nosuch'"):
        MIRecoverability(train="nosuch", test=test, name="Tiny")
    with pytest.raises(MiTasksError, match="no train text holds a word"):
        MIRecoverability(train=["!!", "--"], test=test, name="Tiny")
    with pytest.raises(MiTasksError, match=r"^TinyE: half_splits must be a whole number >= 0 splits, got -1$"):
        MIEntropy(test=test, name="TinyE", half_splits=-1)
    with pytest.raises(MiTasksError, match=r"^Tiny: unknown option 'half_splits'; it takes no options$"):
        MIRecoverability(train=train, test=test, name="Tiny", half_splits=3)
    with pytest.raises(MiTasksError, match=r"^MIEntropy scores the test texts alone; drop train=$"):
        MIEntropy(train=train, test=test)
    nan = ArrayEncoder("nan", lambda t: np.full(8, np.nan), 8)
    with pytest.raises(MiTasksError, match="NaN or inf"):
        _evaluate(nan, [MIEntropy(test=test, name="TinyMIEntropy")])


def _st_folder(src: str, dst, pooling: dict, normalize: bool = True, max_seq_length: int = 40):
    shutil.copytree(src, dst)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    (dst / "modules.json").write_text(json.dumps(modules))
    (dst / "1_Pooling").mkdir()
    (dst / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32, **pooling}))
    (dst / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length}))
    return str(dst)


def test_layer_encoder_defaults_follow_a_sentence_transformers_folder(tiny_dir, tmp_path):
    mean = _st_folder(tiny_dir["bert"], tmp_path / "mean", {"pooling_mode_mean_tokens": True})
    enc = LayerEncoder(mean)
    d = enc.describe()
    assert (d["pooling"], d["include_special"], d["normalize"], d["max_length"], d["dtype"]) == \
        ("mean", True, True, 40, "float32")
    assert d["defaults_from"] == "sentence-transformers config"
    assert enc.mteb_model_meta.experiment_kwargs["dtype"] == "float32"
    asked = LayerEncoder(mean, pooling="last", include_special=False, normalize=False, dtype="bfloat16").describe()
    assert (asked["pooling"], asked["include_special"], asked["normalize"], asked["dtype"]) == \
        ("last", False, False, "bfloat16")
    cls = LayerEncoder(_st_folder(tiny_dir["bert"], tmp_path / "cls", {"pooling_mode_cls_token": True},
                                  normalize=False)).describe()
    assert (cls["pooling"], cls["normalize"]) == ("first", False)
    plain = LayerEncoder(tiny_dir["bert"]).describe()  # no sentence-transformers files: mi-tasks' defaults
    assert plain["defaults_from"] == "mi-tasks defaults" and not plain["include_special"]
    with pytest.raises(MiTasksError, match="'max'.*pass pooling="):
        LayerEncoder(_st_folder(tiny_dir["bert"], tmp_path / "max", {"pooling_mode_max_tokens": True}))


def test_a_plugin_familys_embedding_scorer_is_an_mteb_task(data, tmp_path, monkeypatch):
    """A family outside mi-tasks that scores embeddings gets its MTEB task like the built-ins: its class by name,
    stored and read back into reports with its headline metric, its error and the width it recorded."""
    import importlib
    import sys

    from mi_tasks import mteb as mi_mteb
    from mi_tasks.metrics import registry
    from mi_tasks.reporting import load_results

    from ..readme_commands import REPO

    monkeypatch.setattr(registry, "_REGISTERED", dict(registry._REGISTERED))
    monkeypatch.delitem(sys.modules, "state_norm", raising=False)
    sys.path.insert(0, str(REPO / "tests" / "metrics" / "plugin_family"))
    try:
        importlib.import_module("state_norm")
    finally:
        sys.path.pop(0)
    task_cls = mi_mteb.MIStateNorm
    assert task_cls is mi_mteb.information_task("state_norm") and "MIStateNorm" in mi_mteb.information_task_classes()
    assert task_cls.metadata.main_score == "mean_state_norm" and task_cls.metadata.type == "Clustering"
    _, test = data
    vecs = {t: np.random.default_rng(len(t)).normal(size=6) for t in test}
    cache = mteb.ResultCache(cache_path=tmp_path / "mteb")
    got = _scores(_evaluate(ArrayEncoder("norms", vecs.__getitem__, 6), [task_cls(test=test, norm_scale=2)], cache=cache))
    norms = 2 * np.linalg.norm(np.stack([vecs[t] for t in test]).astype(np.float32).astype(np.float64), axis=1)
    assert got["MIStateNorm"]["mean_state_norm"] == pytest.approx(norms.mean(), rel=1e-6)
    (t,) = load_results(tmp_path / "mteb").tasks
    assert t.task == "mteb:MIStateNorm" and t.headline == pytest.approx({"mean_state_norm": norms.mean()}, rel=1e-6)
    assert t.stderr("mean_state_norm")[0][2] == pytest.approx(norms.std(ddof=1) / np.sqrt(len(norms)), abs=1e-6)  # mteb keeps 6 decimals
    assert t.meta["state_width"] == 6
    with pytest.raises(MiTasksError, match=r"^family 'emergence' does not score embeddings alone, so it has no MTEB task"):
        mi_mteb.information_task("emergence")
