"""What Information Emergence costs, as a ratio to one plain forward pass over the same windows.

Baseline: ``model(input_ids=batch, output_hidden_states=True)`` over the IE windows in batches of
the probe's batch size. Then ``EmergenceProbe`` (library defaults unless overridden) on the same
windows, broken down into the macro pass, the micro pass (unique token ids only) and estimator
training. Both run in this process, one after the other, after a warm-up batch; on a shared CPU
the wall-clock numbers are noisy, the ratio less so.

    PYTHONPATH=.:benchmarks python benchmarks/emergence_cost.py [--method gaussian|infonce|...] [--dtype bfloat16]
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from _common import need_data, model as load_bundled
from mi_tasks import load_corpus
from mi_tasks.metrics.emergence import IE_N_WINDOWS, IE_PROJ_DIM, EmergenceProbe, bos_prefix, make_windows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--method", default="gaussian", help="IE's MI: gaussian (default) or a neural estimator")
    ap.add_argument("--n-windows", type=int, default=IE_N_WINDOWS)
    ap.add_argument("--steps", type=int, default=300, help="neural estimators only")
    ap.add_argument("--proj-dim", type=int, default=IE_PROJ_DIM)
    args = ap.parse_args()
    m, tok = load_bundled(args.model, dtype=args.dtype)
    texts = load_corpus(need_data() / "wikitext2" / "wiki.valid.raw").texts
    probe = EmergenceProbe(n_windows=args.n_windows, mi_steps=args.steps, proj_dim=args.proj_dim, mi_estimator=args.method,
                           progress=False)
    windows = make_windows(tok, texts, probe.window, probe.n_windows, probe.seed)
    ids = torch.cat([torch.tensor(bos_prefix(tok)).long().expand(len(windows), -1), torch.from_numpy(windows)], 1)
    bs = probe.batch_size
    with torch.inference_mode():
        m(input_ids=ids[:bs], output_hidden_states=True)  # warm-up
        t = time.perf_counter()
        for s in range(0, len(ids), bs):
            m(input_ids=ids[s:s + bs], output_hidden_states=True)
        base = time.perf_counter() - t
    res = probe.score_windows(m, tok, windows)
    tm = res.meta["timings"]
    total = tm["macro_forward_s"] + tm["micro_forward_s"] + tm["estimator_s"]
    out = {"model": args.model, "dtype": args.dtype, "method": args.method, "windows": len(windows), "window": probe.window,
           "n_unique_tokens": res.meta["n_unique_tokens"], "ie_layers": len(res.layers),
           "estimates": 2 * len(res.layers), "steps": args.steps if args.method != "gaussian" else None, "proj_dim": args.proj_dim,
           "plain_forward_s": round(base, 2), "macro_forward_s": round(tm["macro_forward_s"], 2),
           "micro_forward_s": round(tm["micro_forward_s"], 2), "estimator_s": round(tm["estimator_s"], 2),
           "ie_total_s": round(total, 2), "ratio_ie_to_forward": round(total / base, 1),
           "ratio_macro_to_forward": round(tm["macro_forward_s"] / base, 2),
           "ratio_micro_to_forward": round(tm["micro_forward_s"] / base, 2),
           "ratio_estimator_to_forward": round(tm["estimator_s"] / base, 1),
           "mean_ie_bits": round(res.mean_ie, 3)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
