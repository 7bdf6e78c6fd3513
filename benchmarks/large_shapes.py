"""Recoverability at the widths of 7B-70B models, simulated on this CPU: statistics and solve vs the forward pass.

Parts (each measured against its baseline in the same run):
  pass   A randomly initialised Llama at D = 4,096 (Llama-3-8B's layer shapes, ``--model-layers`` of them),
         bf16, batches of ``--texts`` random token sequences of ``--seq`` tokens: per batch, the forward pass
         with pooling (the extractor's) against the ridge statistics of every state it yields
         (``partial_fit`` with Zipf targets over a ``--vocab`` decoder vocabulary) and the bare float64 Gram
         products those statistics need.
  solve  One layer's solve (eigendecomposition, projections, penalty chosen on a calibration slice) at
         D = 4,096, against the forward pass of the whole train corpus through that model.
  peak   Peak RSS of one group of layers at the default budget for 33 x 4,096 and 81 x 8,192 states (a grouped
         run holds one group at a time, so its peak is one group's) against the memory plan.
Usage: python benchmarks/large_shapes.py [--parts pass,solve,peak] [--model-layers 2] [--batches 4]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
import torch


def zipf_targets(rng: np.random.Generator, n: int, vocab: int, tokens: int = 60) -> list[np.ndarray]:
    return [np.unique(np.minimum(rng.zipf(1.15, size=tokens), vocab) - 1) for _ in range(n)]


def random_llama(layers: int, dim: int = 4096):
    from transformers import LlamaConfig, LlamaModel

    cfg = LlamaConfig(hidden_size=dim, intermediate_size=int(dim * 3.5), num_hidden_layers=layers,
                      num_attention_heads=dim // 128, num_key_value_heads=8, vocab_size=32_000,
                      max_position_embeddings=4096)
    torch.manual_seed(0)
    return LlamaModel(cfg).to(torch.bfloat16).eval()


class _Tok:
    """Just enough of a tokenizer for the extractor: random ids are already tokens."""

    padding_side = "right"

    def pad(self, feats, return_tensors="pt", padding_side="right", pad_to_multiple_of=8):
        ids = torch.tensor([f["input_ids"] for f in feats])
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids),
                "special_tokens_mask": torch.tensor([f["special_tokens_mask"] for f in feats])}


def part_pass_and_solve(a: argparse.Namespace, parts: set[str]) -> None:
    from mi_tasks.metrics.recoverability.decoders import RidgeTokenDecoder
    from mi_tasks.states.extraction import EncodedTexts, HiddenStateExtractor
    from mi_tasks.metrics.recoverability.vocabulary import DecoderVocabulary

    model = random_llama(a.model_layers)
    ex = HiddenStateExtractor.__new__(HiddenStateExtractor)  # the extractor's forward_batch without a tokenizer
    ex.__dict__.update(model=model, tokenizer=_Tok(), num_layers=a.model_layers, layers=list(range(a.model_layers + 1)),
                       pooling="mean", include_special=False, _encoder=False, _takes_position_ids=True)
    rng = np.random.default_rng(0)
    n = a.texts * (a.batches + 1)
    ids = rng.integers(0, 32_000, size=(n, a.seq)).tolist()
    enc = EncodedTexts(input_ids=ids, special_masks=[[0] * a.seq] * n, n_truncated=0)
    vocab = DecoderVocabulary(range(a.vocab))
    decs = [RidgeTokenDecoder(vocab) for _ in ex.layers]
    t = {"forward pass + pooling": 0.0, "statistics (all states)": 0.0, "float64 Gram products (all states)": 0.0}
    for b in range(a.batches + 1):  # batch 0 warms up kernels and allocates the statistics
        idx = np.arange(b * a.texts, (b + 1) * a.texts)
        tg = zipf_targets(rng, a.texts, a.vocab)
        s = time.perf_counter()
        states = ex.forward_batch(enc, idx, keep_on_device=True)[0]
        t_fwd = time.perf_counter() - s
        s = time.perf_counter()
        for j, dec in enumerate(decs):
            dec.partial_fit(states[j], tg)
        t_stats = time.perf_counter() - s
        s = time.perf_counter()
        for j in range(len(decs)):
            x = states[j].to(torch.float64)
            _ = x.T @ x
        t_gram = time.perf_counter() - s
        if b:
            t["forward pass + pooling"] += t_fwd
            t["statistics (all states)"] += t_stats
            t["float64 Gram products (all states)"] += t_gram
    L = len(decs)
    fwd = t["forward pass + pooling"] / a.batches
    print(f"random Llama, D=4096, {a.model_layers} layers ({L} states), bf16; {a.texts} texts x {a.seq} tokens per batch; "
          f"decoder vocabulary {a.vocab}; mean of {a.batches} batches")
    for name, sec in t.items():
        print(f"  {name:<36} {sec / a.batches * 1e3:9.1f} ms/batch = {sec / a.batches / fwd:6.3f}x the forward pass")
    per_state = t["statistics (all states)"] / a.batches / L
    per_layer_fwd = fwd / a.model_layers
    gram = t["float64 Gram products (all states)"] / a.batches / L
    print(f"  per state: statistics {per_state * 1e3:.1f} ms = {per_state / gram:.2f}x its Gram product "
          f"= {per_state / per_layer_fwd:.3f}x one layer's forward pass")
    if "solve" not in parts:
        return
    cal = rng.normal(size=(256, 4096)).astype(np.float32)
    dec = decs[-1]
    s = time.perf_counter()
    dec.select_alpha(torch.from_numpy(cal), zipf_targets(rng, 256, a.vocab))
    solve = time.perf_counter() - s
    corpus = a.train / a.texts * fwd
    print(f"  solve of one layer (D=4096, |vocab|={a.vocab}, 6 penalties on 256 calibration texts): {solve:.1f} s "
          f"= {solve / fwd:.1f} batches' forward passes; the {a.train}-text train pass ({corpus:.0f} s here) "
          f"= {corpus / a.model_layers:.0f} s per layer: solve/pass per layer = {solve / (corpus / a.model_layers):.2f}")


def _rss(field: str) -> int:
    """VmRSS / VmHWM (peak) of this process in bytes, from /proc (Linux)."""
    with open("/proc/self/status") as f:
        line = next(l for l in f if l.startswith(field + ":"))
    return int(line.split()[1]) * 1024


def one_group(layers: int, dim: int, vocab: int, train: int) -> dict:
    """Fit and score one group's layers with no budget: the peak a grouped run of that plan holds."""
    from mi_tasks import RecoverabilityProbe

    rng = np.random.default_rng(0)
    tg = [np.union1d(t, (np.arange(100) + 100 * i) % vocab) for i, t in enumerate(zipf_targets(rng, train, vocab))]
    X = rng.normal(size=(layers, train, dim)).astype(np.float32)
    ev = zipf_targets(rng, 64, vocab)
    Xe = rng.normal(size=(layers, 64, dim)).astype(np.float32)
    before = _rss("VmRSS")
    s = time.perf_counter()
    probe = RecoverabilityProbe(seed=0, text_metrics=False, memory_budget_gb=None, alphas=(1.0,))
    probe.fit_arrays(X, tg, vocab)
    fitted = _rss("VmHWM") - before
    probe.score_arrays(Xe, ev)
    return {"fit_peak": fitted, "seconds": time.perf_counter() - s, "rss_before": before,
            "peak_rss": _rss("VmHWM"),
            "decoder_vocab": len(probe.vocab_), "decoder_peak": probe.plan_.decoder_peak_bytes}


def part_peak(a: argparse.Namespace) -> None:
    from mi_tasks.metrics.recoverability.memory_plan import GIB, plan_recoverability

    print(f"\npeak memory at the default budget (16 GiB), decoder vocabulary {a.vocab}, {a.group_train} train texts:")
    for layers, dim in ((33, 4096), (81, 8192)):
        plan = plan_recoverability(layers, dim, a.vocab, n_train=5000, n_eval=1000)
        cmd = [sys.executable, __file__, "--child", json.dumps([plan.group_size, dim, a.vocab, a.group_train])]
        r = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        grown = (r["peak_rss"] - r["rss_before"]) / GIB
        print(f"  {layers} x {dim}: {plan.n_groups} groups of {plan.group_size}; plan {plan.decoder_peak_bytes / GIB:.2f} GiB "
              f"(all at once {plan.all_layers_bytes / GIB:.1f} GiB); one group measured: peak RSS - start {grown:.2f} GiB (fit {r['fit_peak'] / GIB:.2f}) "
              f"(decoder vocabulary {r['decoder_vocab']}), {r['seconds']:.0f} s for {plan.group_size} layers")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="pass,solve,peak")
    ap.add_argument("--model-layers", type=int, default=2)
    ap.add_argument("--texts", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=25_000)
    ap.add_argument("--train", type=int, default=5000, help="train corpus size the solve is compared with")
    ap.add_argument("--group-train", type=int, default=256, help="train texts in the peak-memory runs")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(one_group(*json.loads(a.child))))
        return
    torch.manual_seed(0)
    parts = set(a.parts.split(","))
    if parts & {"pass", "solve"}:
        part_pass_and_solve(a, parts)
    if "peak" in parts:
        part_peak(a)


if __name__ == "__main__":
    main()
