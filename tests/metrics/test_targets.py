"""Word targets (one tokenization for every model), the prior as the penalty without bound, vacuous Fano bounds."""
import json
import math

import numpy as np
import pytest

from mi_tasks import HiddenStateExtractor, MiTasksError, RecoverabilityProbe
from mi_tasks.metrics.recoverability.decoders import PRIOR_ALPHA, RidgeTokenDecoder, recall_hits
from mi_tasks.settings import TaskSettings
from mi_tasks.metrics.recoverability.vocabulary import DecoderVocabulary
from mi_tasks.metrics.recoverability.words import text_words, word_targets

from ..conftest import WORDS, make_sentences


def _punctuated(n: int, seed: int) -> list[str]:
    """Sentences of the shared word list with capitals and punctuation the word tokenization must undo."""
    rng = np.random.default_rng(seed)
    out = []
    for s in make_sentences(n, seed=seed):
        words = s.split()
        j = int(rng.integers(len(words)))
        words[j] = words[j].capitalize() + rng.choice([",", ".", "!", ""])
        out.append(" ".join(words) + ".")
    return out


def _multi_hot(texts: list[str], vocab: dict[str, int]) -> np.ndarray:
    X = np.zeros((len(texts), len(vocab)), np.float32)
    for i, t in enumerate(texts):
        X[i, [vocab[w] for w in text_words(t)]] = 1.0
    return X


def test_embeddings_that_are_the_multi_hot_word_vector_recover_every_word():
    train, test = _punctuated(600, seed=1), _punctuated(150, seed=2)
    _, vocab = word_targets(train, test)
    assert set(vocab) == set(WORDS) & set(vocab) and len(vocab) <= len(WORDS)  # case and punctuation are gone
    probe = RecoverabilityProbe(seed=0, targets="words").fit_arrays(_multi_hot(train, vocab), train)
    res = probe.score_arrays(_multi_hot(test, vocab), test)
    row = res.layers[0]
    assert row["recall_at_k"] == pytest.approx(1.0)
    assert res.meta["targets"] == "words" and res.meta["vocab_size"] == len(vocab)
    assert row["fano_mi_bits"] == pytest.approx(math.log2(len(vocab)))  # P_e = 0: the bound is log2|V|
    assert row.caveat("fano_mi_bits") == "" and row["ba_mi_bits"] > 1.0


def test_two_tokenizers_get_the_same_word_targets(tiny, sentences):
    train, test = sentences * 3, make_sentences(12, seed=9)
    results = {}
    for kind in ("bert", "llama"):
        model, tok = tiny[kind]
        ex = HiddenStateExtractor(model, tok, layers=[0, -1], batch_size=8, progress=False)
        results[kind] = RecoverabilityProbe(seed=0, targets="words").fit(ex.stream(train)).score(ex.stream(test))
        assert results[kind].meta["tokenizer"]["vocab_size"] == len(tok)
    a, b = results["bert"].meta, results["llama"].meta
    assert a["targets"] == b["targets"] == "words"
    assert a["vocab_size"] == b["vocab_size"] == len(word_targets(train, test)[1])
    assert a["decoder_vocab_size"] == b["decoder_vocab_size"]
    same = json.dumps(results["bert"].prior.to_dict(), sort_keys=True) == json.dumps(results["llama"].prior.to_dict(), sort_keys=True)
    assert same  # the prior ignores the model: same words, same numbers
    assert a["tokenizer"]["sha256"] != b["tokenizer"]["sha256"]


def test_word_targets_need_texts_and_a_known_choice():
    with pytest.raises(MiTasksError, match="unknown targets 'letters'"):
        RecoverabilityProbe(targets="letters")
    with pytest.raises(MiTasksError, match="takes the texts"):
        RecoverabilityProbe(targets="words").fit_arrays(np.zeros((3, 2)), [np.array([1]), np.array([2]), np.array([1])])
    probe = RecoverabilityProbe(targets="words", seed=0).fit_arrays(np.eye(4, dtype=np.float32), ["a b", "b c", "c d", "a d"])
    batches = probe  # scoring a stream without the texts cannot know the words
    with pytest.raises(MiTasksError, match="pass texts="):
        batches.score_stream(iter([]), 2)
    with pytest.raises(MiTasksError, match="vocab_size"):
        RecoverabilityProbe().fit_arrays(np.zeros((2, 2)), [np.array([1]), np.array([0])])
    with pytest.raises(MiTasksError, match="unknown targets 'word'"):
        TaskSettings.from_metadata({"targets": "word"}, "mi_recoverability")
    assert TaskSettings.from_metadata({"targets": "words"}, "t").targets == "words"
    assert TaskSettings().targets == "tokens"
    assert TaskSettings(targets="words").family("recoverability").key() != TaskSettings().family("recoverability").key()


def _noise_case(n=300, D=120, V=60, seed=0):
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, V + 1) ** 1.1  # Zipf-like: the prior is a strong baseline
    targets = [np.unique(rng.choice(V, size=6, p=p / p.sum())) for _ in range(n)]
    return rng.normal(size=(n, D)).astype(np.float32), targets


def test_states_without_information_fall_back_to_the_prior_exactly():
    # A grid of small penalties only: on noise of high dimension every one overfits and loses to the prior.
    X, targets = _noise_case()
    probe = RecoverabilityProbe(seed=0, alphas=(1e-4, 1e-3), calibration_fraction=0.2, text_metrics=False)
    res = probe.fit_arrays(X[:250], targets[:250], 60).score_arrays(X[250:], targets[250:])
    row = res.layers[0]
    assert row.flags["prior_fallback"] and row["ridge_alpha"] == PRIOR_ALPHA
    for key in ("recall_at_k", "cosine", "fano_mi_bits"):
        assert row[f"lift_{key}"] == 0.0
    assert row["ba_mi_bits"] == 0.0 and row["cross_entropy_bits"] == res.prior["cross_entropy_bits"]
    # the same grid without the prior as a candidate is worse than the prior on the held-out slice
    vocab = DecoderVocabulary.from_targets(targets[:200])
    dec = RidgeTokenDecoder(vocab, (1e-4, 1e-3)).partial_fit(X[:200], targets[:200])
    dec.select_alpha(X[200:250], targets[200:250])
    y = vocab.multi_hot(targets[200:250])
    grid = recall_hits(dec.scores(X[200:250]), targets[200:250], vocab, y)[0].mean()
    prior = recall_hits(probe.fitted_.log_prior.expand(50, -1), targets[200:250], vocab, y)[0].mean()
    assert grid < prior


def test_the_default_grid_keeps_a_decoder_that_beats_the_prior():
    Y = np.zeros((400, 60), np.float32)
    _, targets = _noise_case(n=400)
    for i, t in enumerate(targets):
        Y[i, t] = 1.0
    res = RecoverabilityProbe(seed=0, text_metrics=False).fit_arrays(Y[:300], targets[:300], 60) \
        .score_arrays(Y[300:], targets[300:])
    assert not res.layers[0].flags["prior_fallback"] and res.layers[0]["lift_recall_at_k"] > 0.3


def test_a_vacuous_fano_bound_is_flagged_without_a_standard_error():
    rng = np.random.default_rng(0)  # noise states, uniform targets over 400 ids: recall at chance
    X = rng.normal(size=(600, 16)).astype(np.float32)
    targets = [np.unique(rng.choice(400, size=6)) for _ in range(600)]
    res = RecoverabilityProbe(seed=0, text_metrics=False).fit_arrays(X[:500], targets[:500], 400) \
        .score_arrays(X[500:], targets[500:])
    row = res.layers[0]
    assert row.caveat("fano_mi_bits_empirical") == "vacuous"  # H(t) < H_b(P_e) + P_e log2(|V|-1)
    assert row["fano_mi_bits_empirical"] == 0.0 and math.isnan(row.stderr("fano_mi_bits_empirical"))
    assert row.caveat("fano_mi_bits") == "" and row.stderr("fano_mi_bits") > 0.0  # log2|V| is larger: not vacuous
    assert "vacuous" in res.table()
    saved = res.to_dict()["layers"][0]["metrics"]["fano_mi_bits_empirical"]
    assert saved == {"value": 0.0, "caveat": "vacuous"}  # no error, no count: 0 is the clamp, not a measurement
