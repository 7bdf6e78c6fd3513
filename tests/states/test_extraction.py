import warnings

import numpy as np
import pytest
import torch
from transformers import AutoModel, BertConfig, BertLMHeadModel

from mi_tasks import HiddenStateExtractor, load_model
from mi_tasks.states.pooling import pool


def _single(model, tok, text, layer, method):
    """Reference: one text alone, no padding, pooled by hand."""
    enc = tok([text], return_tensors="pt", return_special_tokens_mask=True)
    with torch.no_grad():
        hs = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], output_hidden_states=True).hidden_states[layer][0]
    content = enc["special_tokens_mask"][0] == 0
    if method == "mean":
        return hs[content].mean(0)
    return hs[-1] if method == "last" else hs[0]


@pytest.mark.parametrize("kind", ["gpt2", "llama", "bert"])
@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("method", ["mean", "last", "first"])
def test_pooling_matches_unpadded_reference_under_both_padding_sides(tiny, sentences, kind, side, method):
    model, tok = tiny[kind]
    tok.padding_side = side
    try:
        ex = HiddenStateExtractor(model, tok, layers="all", pooling=method, batch_size=8, progress=False)
        states, _ = ex.extract(sentences[:12])
    finally:
        tok.padding_side = "right"
    for i in (0, 5, 11):
        for j, layer in enumerate(ex.layers):
            ref = _single(model, tok, sentences[i], layer, method)
            torch.testing.assert_close(torch.from_numpy(states[j, i]), ref, atol=2e-5, rtol=1e-4)


def test_mean_excludes_special_tokens_by_default(tiny, sentences):
    model, tok = tiny["bert"]
    a = HiddenStateExtractor(model, tok, pooling="mean", progress=False).extract(sentences[:4])[0]
    b = HiddenStateExtractor(model, tok, pooling="mean", include_special=True, progress=False).extract(sentences[:4])[0]
    assert not np.allclose(a, b)


def test_pool_fallback_when_only_special_tokens():
    states = torch.arange(12, dtype=torch.float32).reshape(1, 3, 4)
    out = pool(states, torch.tensor([[1, 1, 0]]), "mean", content_mask=torch.tensor([[False, False, False]]))
    torch.testing.assert_close(out[0], states[0, :2].mean(0))


def test_encoder_states_equal_automodel_and_are_bidirectional(tiny_dir, tiny, sentences):
    model, tok = tiny["bert"]
    ref = AutoModel.from_pretrained(tiny_dir["bert"], dtype=torch.float32).eval()
    ex = HiddenStateExtractor(model, tok, layers="all", pooling="mean", batch_size=16, progress=False)
    states, _ = ex.extract(sentences)
    enc = tok(sentences, padding=True, return_tensors="pt", return_special_tokens_mask=True)
    with torch.no_grad():
        hs = ref(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], output_hidden_states=True).hidden_states
    content = (enc["special_tokens_mask"] == 0) & enc["attention_mask"].bool()
    for j, layer in enumerate(ex.layers):
        w = content.unsqueeze(-1).float()
        expect = (hs[layer] * w).sum(1) / w.sum(1)
        torch.testing.assert_close(torch.from_numpy(states[j]), expect, atol=2e-5, rtol=1e-4)
    # Bidirectional: changing the LAST word changes the FIRST token's state (impossible under a causal mask).
    ex_first = HiddenStateExtractor(model, tok, layers=[-1], pooling="first", progress=False)
    a = ex_first.extract(["the cat sees the dog"])[0]
    b = ex_first.extract(["the cat sees the bird"])[0]
    assert not np.allclose(a, b)


def test_encoder_loaded_as_decoder_is_switched_back_to_bidirectional(tiny_dir, tiny, sentences):
    model, tok = tiny["bert"]
    cfg = BertConfig.from_pretrained(tiny_dir["bert"])
    cfg.is_decoder = True
    causal = BertLMHeadModel.from_pretrained(tiny_dir["bert"], config=cfg).eval()
    ex_ref = HiddenStateExtractor(model, tok, layers="all", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ex = HiddenStateExtractor(causal, tok, layers="all", progress=False)
    assert causal.config.is_decoder is False
    np.testing.assert_allclose(ex.extract(sentences[:8])[0], ex_ref.extract(sentences[:8])[0], atol=2e-5)


def test_one_forward_pass_per_batch_for_all_layers(tiny, sentences):
    model, tok = tiny["llama"]
    calls = []
    h = model.register_forward_hook(lambda *a: calls.append(1))
    try:
        ex = HiddenStateExtractor(model, tok, layers="all", batch_size=16, progress=False)
        states, targets = ex.extract(sentences)
    finally:
        h.remove()
    assert len(calls) == int(np.ceil(len(sentences) / 16))
    assert states.shape == (4, len(sentences), 32)
    assert all(t.size > 0 for t in targets)


def test_length_grouping_does_not_change_states(tiny, sentences):
    model, tok = tiny["gpt2"]
    a = HiddenStateExtractor(model, tok, group_by_length=True, batch_size=7, progress=False).extract(sentences)[0]
    b = HiddenStateExtractor(model, tok, group_by_length=False, batch_size=7, progress=False).extract(sentences)[0]
    np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-4)


def test_targets_are_unique_non_special_ids_in_first_occurrence_order(tiny):
    model, tok = tiny["bert"]
    ex = HiddenStateExtractor(model, tok, progress=False)
    enc = ex.encode(["dog cat dog bird"])
    ids = tok("dog cat dog bird", add_special_tokens=False)["input_ids"]
    expect = list(dict.fromkeys(ids))
    assert enc.content_ids(0).tolist() == expect
    assert tok.cls_token_id not in enc.content_ids(0)


def test_bf16_runs_and_stays_close_to_fp32(tiny_dir, sentences):
    m32, tok = load_model(tiny_dir["llama"], dtype="float32")
    m16, tok16 = load_model(tiny_dir["llama"], dtype="bfloat16")
    assert next(m16.parameters()).dtype == torch.bfloat16
    a = HiddenStateExtractor(m32, tok, progress=False).extract(sentences[:8])[0]
    b = HiddenStateExtractor(m16, tok16, progress=False).extract(sentences[:8])[0]
    assert b.dtype == np.float32
    cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    assert cos.min() > 0.98


def test_truncation_warns_with_count(tiny):
    model, tok = tiny["gpt2"]
    ex = HiddenStateExtractor(model, tok, max_text_length=8, progress=False)
    texts = ["the cat sees the dog and the bird and the fish in the sea", "a dog", "the red car on the long road to the old city"]
    with pytest.warns(UserWarning, match=r"2 of 3 texts .* truncated"):
        enc = ex.encode(texts)
    assert enc.n_truncated == 2 and max(len(r) for r in enc.input_ids) == 8


def test_max_length_capped_at_model_positions(tiny):
    model, tok = tiny["bert"]
    ex = HiddenStateExtractor(model, tok, max_text_length=10_000, progress=False)
    assert ex.max_text_length == 64
