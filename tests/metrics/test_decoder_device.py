"""The decoders run where the states are: checked on the data-less ``meta`` device here, on CUDA when present."""
import numpy as np
import pytest
import torch

from mi_tasks import HiddenStateExtractor, MiTasksError, RecoverabilityProbe
from mi_tasks.metrics.recoverability.decoders import RidgeTokenDecoder
from mi_tasks.settings import TaskSettings
from mi_tasks.metrics.recoverability.memory_plan import GIB, check_device_memory, plan_recoverability, same_device
from mi_tasks.metrics.recoverability.vocabulary import DecoderVocabulary


def test_statistics_solve_and_scores_stay_on_the_states_device():
    """States on the ``meta`` device (shapes without data; any op that mixes it with the CPU fails):
    statistics, solve and scores of the ridge decoder must all run there, never on the host."""
    rng = np.random.default_rng(0)
    vocab = DecoderVocabulary(range(40))
    targets = [rng.choice(40, 5, replace=False) for _ in range(64)]
    dec = RidgeTokenDecoder(vocab, alphas=(1.0,))
    for s in range(0, 64, 16):
        dec.partial_fit(torch.empty(16, 12, device="meta"), targets[s:s + 16])
    assert {t.device.type for t in (dec._sx, dec._sxx, dec._sxy, dec._sy)} == {"meta"}
    dec.select_alpha(None, None)
    assert dec.coef_.device.type == "meta" and dec.intercept_.device.type == "meta"
    assert dec.scores(torch.empty(7, 12, device="meta")).shape == (7, 40)
    assert vocab.multi_hot(targets[:7], device="meta").device.type == "meta"


def test_a_plan_larger_than_the_free_device_memory_is_refused_before_the_pass(monkeypatch):
    plan = plan_recoverability(33, 4096, 25_000, n_train=5000, budget_gb=None, device="cuda:0")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda dev=None: (20 * GIB, 80 * GIB))
    with pytest.raises(MiTasksError, match=r"need 30\.3 GiB on cuda:0 but 20\.0 GiB is free; set memory_budget_gb"):
        check_device_memory(plan)
    check_device_memory(plan_recoverability(33, 4096, 25_000, budget_gb=16, device="cuda:0"))  # 10.8 GiB fits
    assert "plan on cuda:0" in plan.describe() and plan.to_dict()["device"] == "cuda:0"


def test_device_settings():
    assert same_device("cpu", torch.device("cpu")) and not same_device("cpu", "meta")
    assert TaskSettings.from_metadata({"decoder_device": "cpu"}, "mi_recoverability").decoder_device == "cpu"
    with pytest.raises(MiTasksError, match="decoder_device 'gpu0' for task mi_recoverability is not a device name: use one of cpu"):
        TaskSettings.from_metadata({"decoder_device": "gpu0"}, "mi_recoverability")


def test_probe_records_where_its_decoders_ran(tiny, sentences):
    model, tok = tiny["llama"]
    ex = HiddenStateExtractor(model, tok, layers="0,-1", batch_size=8, progress=False)
    probe = RecoverabilityProbe(seed=1).fit(ex.stream(sentences[:24]))
    assert probe.device_ == ex.device and probe.meta["memory_plan"]["device"] == "cpu"
    assert all(d.coef_.device == ex.device for d in probe.fitted_.decoders)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_decoders_on_cuda_match_the_cpu(tiny, sentences):
    """Model and decoders on the GPU (states never leave it) against the CPU run: same scores."""
    model, tok = tiny["llama"]
    ex_cpu = HiddenStateExtractor(model, tok, layers="all", batch_size=8, progress=False)
    ref = RecoverabilityProbe(seed=2).fit(ex_cpu.stream(sentences[:30])).score(ex_cpu.stream(sentences[30:]))
    ex_gpu = HiddenStateExtractor(model.to("cuda"), tok, layers="all", batch_size=8, progress=False)
    probe = RecoverabilityProbe(seed=2).fit(ex_gpu.stream(sentences[:30]))
    assert all(d.coef_.device.type == "cuda" for d in probe.fitted_.decoders)
    got = probe.score(ex_gpu.stream(sentences[30:]))
    model.to("cpu")
    for a, b in zip(got.layers, ref.layers):
        assert a["recall_at_k"] == pytest.approx(b["recall_at_k"], abs=1e-4)
