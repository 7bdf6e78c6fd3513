"""(c) Peak memory of a recoverability fit at two train-corpus sizes 4x apart (target: flat).

Each size runs in a fresh subprocess; peak RSS comes from getrusage. The ridge statistics are
fixed-size per layer (D x D and |decoder vocab| x D); the decoder vocabulary grows slowly with
the corpus, which is the only growth expected.
Usage: python benchmarks/memory.py [--model minilm] [--small 1000]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys
sys.path.insert(0, {bench!r})
from _common import dbpedia, model
from mi_tasks import HiddenStateExtractor, RecoverabilityProbe
m, tok = model({alias!r})
ex = HiddenStateExtractor(m, tok, layers="all", max_text_length=128, batch_size=32, progress=False)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
p = RecoverabilityProbe(text_metrics=False).fit(ex.stream(dbpedia({n})))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
stats = sum(d.coef_.numel() * 4 for d in p.decoders)
print(json.dumps({{"n": {n}, "peak_mb": peak / 1024, "after_load_mb": base / 1024, "vocab": len(p.vocab), "stats_mb": stats / 2**20}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--small", type=int, default=1000)
    a = ap.parse_args()
    import os
    bench = os.path.dirname(os.path.abspath(__file__))
    out = []
    for n in (a.small, 4 * a.small):
        code = CHILD.format(bench=bench, alias=a.model, n=n)
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        out.append(json.loads(res.stdout.strip().splitlines()[-1]))
    for r in out:
        print(f"n={r['n']:>6}  peak RSS {r['peak_mb']:8.1f} MB  (after model load {r['after_load_mb']:.1f} MB)  "
              f"decoder vocab {r['vocab']}  decoder weights {r['stats_mb']:.1f} MB")
    s, b = out
    print(f"peak RSS ratio 4x corpus / 1x corpus: {b['peak_mb'] / s['peak_mb']:.3f}  (target ~1.0)")
    print(f"growth above model load: {(b['peak_mb'] - b['after_load_mb']) / max(s['peak_mb'] - s['after_load_mb'], 1e-9):.2f}x "
          f"(from the decoder vocabulary: {b['vocab'] / s['vocab']:.2f}x more token types)")


if __name__ == "__main__":
    main()
