"""Every metric family at the widths of 7B-70B models on random states: seconds per layer against the forward pass.

Baseline (same run): the forward pass of a random Llama layer stack (``--dtype``), per text and per layer,
at D = 4,096 (Llama-3-8B's layer shapes, ``--model-layers`` layers, ``--fwd-texts`` texts of ``--seq``
tokens) and at D = 8,192 (one layer of a 70B's shapes, ``--fwd-texts-8192`` texts), as large_shapes.py.
Per family and width, one layer's work on random float32 states, in a child process (its peak RSS
growth against the family's per-layer memory estimate, ``MetricFamily.memory_bytes``):
  entropy   token-Gram spectra of every text (the pass's reducer, batches of 32 x --seq tokens)
            and the dataset spectrum of the --texts pooled vectors
  geometry  curvature (the pass's reducer, same batches), TwoNN and GRIDE of the pooled vectors, and
            its share of CKA (the L x L matrix over --cka-layers layers, divided by that many)
  views     LiDAR with its 10-group jackknife, DiME and InfoNCE on --view-texts x --views views; and,
            in the same child, the D x D float64 Gram product of the same n·V rows (LiDAR's bar: <= 3x)
The ratio to the forward pass divides by the forward pass of the texts that feed the family (texts x
tokens for entropy and geometry, n·V view texts for views). Recoverability's statistics and solve
at these widths are large_shapes.py's; emergence runs its own windows (emergence_cost.py): their
memory estimates are printed here. Run with OMP_WAIT_POLICY=PASSIVE (the figures in docs/lm-eval.md did).
Usage: python benchmarks/family_shapes.py [--dims 4096,8192] [--families entropy,geometry,views]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

GIB = 1024 ** 3


def _rss(field: str) -> int:
    with open("/proc/self/status") as f:
        return int(next(l for l in f if l.startswith(field + ":")).split()[1]) * 1024


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:  # VmHWM restarts from the current RSS (Linux)
        f.write("5")


def forward_per_text_layer(dim: int, layers: int, texts: int, seq: int, dtype: str) -> float:
    """Seconds of a random Llama's forward pass (pooled) per text per layer at width ``dim``."""
    from large_shapes import random_llama

    model = random_llama(layers, dim).to(getattr(torch, dtype))
    ids = torch.randint(0, 32_000, (texts, seq), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        model(input_ids=ids[:2])  # warm up kernels
        t = time.perf_counter()
        out = model(input_ids=ids, output_hidden_states=True)
        _ = torch.stack([h.float().mean(1) for h in out.hidden_states])
        sec = time.perf_counter() - t
    del model, out
    return sec / (texts * layers)


def _token_batches(work, n: int, d: int, seq: int, rng: np.random.Generator) -> float:
    """Seconds a pass reducer adds over ``n`` texts beyond the one batch of 32 random texts it is timed on."""
    states = torch.from_numpy(rng.standard_normal((32, seq, d), dtype=np.float32))
    mask = torch.ones(32, seq, dtype=torch.bool)
    t = time.perf_counter()
    work(states, mask)
    return (time.perf_counter() - t) * (n / 32 - 1)


def family_layer(family: str, d: int, a: dict) -> dict:
    """One layer's work of ``family`` at width ``d`` on random states (run in a child process)."""
    from mi_tasks.metrics.entropy.spectra import matrix_spectrum, token_gram_spectra
    from mi_tasks.metrics.geometry import cka_matrix, dime, gride, infonce, lidar, twonn
    from mi_tasks.metrics.geometry.reducers import batch_curvature

    rng = np.random.default_rng(0)
    n = a["texts"]
    out: dict = {}
    warm = rng.standard_normal((40, 8))
    twonn(warm), gride(warm)  # scikit-dimension's import and compilation are not per-layer work
    if family == "views":
        n, v = a["view_texts"], a["views"]
        text = rng.standard_normal((n, 1, d), dtype=np.float32)
        views = text + 0.5 * rng.standard_normal((n, v, d), dtype=np.float32)
        rows = torch.from_numpy(views.reshape(n * v, d)).to(torch.float64)
        t = time.perf_counter()
        _ = rows.T @ rows
        out["gram_seconds"] = time.perf_counter() - t
        del _, rows
        _reset_peak()
        before = _rss("VmRSS")
        t = time.perf_counter()
        est = lidar(torch.from_numpy(views))
        out["lidar_seconds"] = time.perf_counter() - t
        dime(views[:, 0], views[:, 1])
        infonce(views[:, 0], views[:, 1])
        out["feeding_texts"] = n * v
    else:
        pooled = rng.standard_normal((n, d), dtype=np.float32)
        layers = [pooled] + [pooled + rng.standard_normal((n, d), dtype=np.float32) for _ in range(a["cka_layers"] - 1)]
        _reset_peak()
        before = _rss("VmRSS")
        t = time.perf_counter()
        if family == "entropy":
            extra = _token_batches(token_gram_spectra, n, d, a["seq"], rng)
            matrix_spectrum(pooled)
        else:
            extra = _token_batches(batch_curvature, n, d, a["seq"], rng)
            twonn(pooled)
            gride(pooled)
            s = time.perf_counter()
            cka_matrix(layers)
            extra -= (time.perf_counter() - s) * (1 - 1 / a["cka_layers"])  # one layer's share of the L x L CKA
        out["feeding_texts"] = n
        est = None
    out["seconds"] = time.perf_counter() - t + (extra if family != "views" else 0.0)
    out["grown"] = _rss("VmHWM") - before
    out["lidar_stderr_finite"] = bool(est is not None and np.isfinite(est.stderr))
    return out


def _child(family: str, d: int, a: argparse.Namespace) -> dict:
    args = {k: getattr(a, k) for k in ("texts", "view_texts", "views", "cka_layers", "seq")}
    cmd = [sys.executable, __file__, "--child", json.dumps([family, d, args])]
    got = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ.copy())
    return json.loads(got.stdout.strip().splitlines()[-1])


def plan(family: str, d: int, layers: int, a: argparse.Namespace) -> dict[str, int]:
    from mi_tasks.metrics.family import RunShape
    from mi_tasks.metrics.registry import family_class
    from mi_tasks.settings import TaskSettings

    s = TaskSettings.given(None, "", n_views=a.views)
    n = a.view_texts if family == "views" else a.texts
    shape = RunShape(n_layers=layers, hidden=d, n_texts=n, max_tokens=a.seq, n_train=5000, vocab=25_000)
    return family_class(family)().memory_bytes(shape, s.family(family))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dims", default="4096,8192")
    ap.add_argument("--families", default="entropy,geometry,views")
    ap.add_argument("--texts", type=int, default=1000, help="eval texts of entropy and geometry (mi_suite's default)")
    ap.add_argument("--view-texts", type=int, default=300)
    ap.add_argument("--views", type=int, default=4)
    ap.add_argument("--cka-layers", type=int, default=4)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--model-layers", type=int, default=2)
    ap.add_argument("--fwd-texts", type=int, default=16)
    ap.add_argument("--fwd-texts-8192", type=int, default=4)
    ap.add_argument("--dtype", default="float32", help="forward pass dtype: bfloat16 on CPUs with bf16 units (AMX, "
                    "AVX512-BF16) or GPUs; float32 where bf16 matmuls are emulated (100x slower)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        family, d, args = json.loads(a.child)
        print(json.dumps(family_layer(family, d, args)))
        return
    print(f"threads={torch.get_num_threads()} OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    dims = [int(x) for x in a.dims.split(",")]
    fwd = {}
    for d in dims:
        layers, texts = (a.model_layers, a.fwd_texts) if d <= 4096 else (1, a.fwd_texts_8192)
        fwd[d] = forward_per_text_layer(d, layers, texts, a.seq, a.dtype)
        print(f"forward pass, random Llama D={d} ({layers} layer(s), {a.dtype}, {texts} texts x {a.seq} tokens): "
              f"{fwd[d] * 1e3:.1f} ms per text per layer")
    print("\n| family | D | layers | texts feeding it | s per layer | / their forward pass | per-layer peak: measured / estimate (GiB) | run's estimate (GiB) |")
    print("|---|---:|---:|---:|---:|---:|---|---:|")
    for d in dims:
        layers = 33 if d <= 4096 else 81
        for fam in a.families.split(","):
            r = _child(fam, d, a)
            parts = plan(fam, d, layers, a)
            per_layer = sum(v for k, v in parts.items() if k.startswith("per layer"))
            sec = r["seconds"]
            ratio = sec / (fwd[d] * r["feeding_texts"])
            print(f"| {fam} | {d:,} | {layers} | {r['feeding_texts']:,} | {sec:.2f} | {ratio:.3f} | "
                  f"{r['grown'] / GIB:.2f} / {per_layer / GIB:.2f} | {sum(parts.values()) / GIB:.1f} |")
            if fam == "views":
                print(f"|   LiDAR with its jackknife | {d:,} | | {r['feeding_texts']:,} rows | {r['lidar_seconds']:.2f} | "
                      f"{r['lidar_seconds'] / r['gram_seconds']:.2f}x the D x D float64 Gram product ({r['gram_seconds']:.2f} s) | | |")
        for fam in ("recoverability", "emergence"):
            print(f"| {fam} (estimate only) | {d:,} | {layers} | | | | | {sum(plan(fam, d, layers, a).values()) / GIB:.1f} |")


if __name__ == "__main__":
    main()
