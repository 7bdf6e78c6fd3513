"""Bad input gets a clear MiTasksError (or warning) that names the fix.

The cases of issue 23 run the real entry points: the ``mi-tasks`` command (in-process ``main``,
exit code and the one line it prints), the Python API, and lm-eval in-process.
"""
import types

import numpy as np
import pytest
import torch

from mi_tasks import HiddenStateExtractor, MiTasksError, load_model


@pytest.mark.parametrize("texts,match", [
    ([], "empty"),
    (["fine", ""], "text 1 .* empty"),
    (["fine", "   "], "text 1 .* empty"),
    (["fine", 3], "text 1 .* int, not a string"),
    ("one string", "list of texts"),
])
def test_bad_corpora(tiny, texts, match):
    model, tok = tiny["gpt2"]
    ex = HiddenStateExtractor(model, tok, progress=False)
    with pytest.raises(MiTasksError, match=match):
        ex.encode(texts)


def test_unknown_layer_and_pooling(tiny):
    model, tok = tiny["gpt2"]
    with pytest.raises(MiTasksError, match="unknown layer 7.*0..3"):
        HiddenStateExtractor(model, tok, layers=[7])
    with pytest.raises(MiTasksError, match="unknown pooling 'max'.*mean, last, first"):
        HiddenStateExtractor(model, tok, pooling="max")
    with pytest.raises(MiTasksError, match="batch_size"):
        HiddenStateExtractor(model, tok, batch_size=0)


class _NoStates(torch.nn.Module):
    """A model whose forward returns logits only."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.config = inner, inner.config

    def forward(self, input_ids, attention_mask=None, output_hidden_states=False, **kw):
        return types.SimpleNamespace(logits=torch.zeros(input_ids.shape + (5,)), hidden_states=None)


def test_model_without_hidden_states(tiny):
    model, tok = tiny["gpt2"]
    ex = HiddenStateExtractor(_NoStates(model), tok, progress=False)
    with pytest.raises(MiTasksError, match="returned no hidden states"):
        ex.extract(["a dog"])


def test_nan_states_name_the_layer_and_the_fix(tiny):
    model, tok = tiny["llama"]
    h = model.layers[1].register_forward_hook(lambda m, i, o: (o[0] * float("nan"),) + tuple(o[1:]) if isinstance(o, tuple) else o * float("nan"))
    try:
        ex = HiddenStateExtractor(model, tok, progress=False)
        with pytest.raises(MiTasksError, match=r"NaN or inf at layers \[(2, )?3\]"):
            ex.extract(["the cat sees the dog"])
    finally:
        h.remove()


def test_over_long_texts_are_truncated_with_a_warning(tiny):
    model, tok = tiny["bert"]
    ex = HiddenStateExtractor(model, tok, max_text_length=6, progress=False)
    with pytest.warns(UserWarning, match="1 of 2 texts .* longer than max_text_length=6 .* raise max_text_length"):
        states, _ = ex.extract(["the cat sees the dog in the old house", "a dog"])
    assert np.isfinite(states).all()


def test_bad_model_path_and_dtype(tmp_path, tiny_dir):
    with pytest.raises(MiTasksError, match="model path .*nope/model' does not exist"):
        load_model(str(tmp_path / "nope" / "model"))
    with pytest.raises(MiTasksError, match="has no config.json"):
        load_model(str(tmp_path))
    with pytest.raises(MiTasksError, match=r"GGUF file '.*nope\.gguf' does not exist \(the folder holds no \.gguf file\)"):
        load_model(tiny_dir["gpt2"], gguf_file="nope.gguf")
    with pytest.raises(MiTasksError, match="device 'cuda:7' for load_model: this machine has"):
        load_model(tiny_dir["gpt2"], device="cuda:7") if torch.cuda.device_count() < 8 else None
    from mi_tasks.states.modeling import resolve_dtype
    with pytest.raises(MiTasksError, match="unknown dtype"):
        resolve_dtype("int8")
