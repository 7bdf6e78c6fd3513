"""The IE paper's two experiments on SmolLM2-135M, with the default (Gaussian-channel) IE.

1. ``human-vs-generated``: the paper reports higher IE for LLM-written than for human text. Human
   windows are drawn from WikiText-2 (validation + test); generated windows from SmolLM2's own
   sampled continuations (temperature 1, top-p 0.95) of 16-token WikiText prompts, prompts
   removed. Both are cut by the same ``make_windows`` and scored by the same probe; each side is
   also scored as two disjoint halves, so the gap can be read against the half-to-half spread.
2. ``icl``: the paper's synthetic in-context lists. Each sequence lists 9 distinct entities of one
   kind (countries, animals, colours; single-token names, each followed by a comma: 2 tokens per
   demonstration), in a seeded random order. IE of every prefix length 2..18 comes from one pass
   (:meth:`EmergenceProbe.score_prefixes`); k shots = the prefix that ends after item k+1.

    PYTHONPATH=. python examples/emergence_paper_experiments.py all --out docs/figures

Writes ``emergence_experiments.json`` and ``emergence_experiments.png`` to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from mi_tasks import load_corpus
from mi_tasks.states.bundled import resolve_model
from mi_tasks.metrics.emergence import EmergenceProbe, make_windows

DATA = Path(os.environ.get("MI_TASKS_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

# candidates, in order; the first ones that are one token (with a leading space) are kept
ENTITIES = {
    "country": ("France Japan China India Brazil Germany Italy Spain Canada Mexico Russia Egypt Kenya Peru Chile "
                "Greece Turkey Iran Iraq Cuba Norway Sweden Poland Israel Ireland Vietnam Nigeria Argentina "
                "Australia Portugal Denmark Finland Austria").split(),
    "animal": ("dog cat horse cow pig sheep goat lion tiger bear wolf fox deer rabbit mouse rat bird fish snake "
               "duck frog whale shark eagle owl bee").split(),
    "colour": ("red blue green yellow black white orange purple pink brown grey gray silver gold violet cyan "
               "magenta beige").split(),
}
SIZES = {"country": 25, "animal": 16, "colour": 15}  # the paper's entity counts


def load(dtype: torch.dtype):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path, kw = resolve_model("smollm2")
    tok = AutoTokenizer.from_pretrained(path, **kw)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **kw).eval()
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return model, tok


def generate(model, tok, prompts: list[str], new_tokens: int, seed: int, batch_size: int) -> list[str]:
    """Sampled continuations (temperature 1, top-p 0.95, exactly ``new_tokens``), prompt removed."""
    torch.manual_seed(seed)
    tok.padding_side = "left"
    out: list[str] = []
    for s in range(0, len(prompts), batch_size):
        enc = tok(prompts[s:s + batch_size], return_tensors="pt", padding=True)
        with torch.inference_mode():
            gen = model.generate(**enc, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=True,
                                 top_p=0.95, temperature=1.0, pad_token_id=tok.pad_token_id)
        out += tok.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        print(f"  generated {len(out)}/{len(prompts)}", flush=True)
    return [t.strip() for t in out if t.strip()]


def ie_summary(parts) -> dict:
    whole, a, b = parts.result(), parts.result([0]), parts.result([1])
    per = lambda r: [x["ie_bits"] for x in r.layers]  # noqa: E731
    return {"mean_ie": whole.mean_ie, "per_layer": per(whole), "half_means": [a.mean_ie, b.mean_ie],
            "macro": [x["mi_macro_bits"] for x in whole.layers], "micro": [x["mi_micro_bits"] for x in whole.layers],
            "half_per_layer_diff": float(np.mean(np.abs(np.array(per(a)) - np.array(per(b))))),
            "n_windows": whole.meta["n_windows"]}


def human_vs_generated(model, tok, n_windows: int, new_tokens: int, seed: int, batch_size: int) -> dict:
    human = []
    for f in ("wiki.valid.raw", "wiki.test.raw"):
        human += load_corpus(DATA / "wikitext2" / f).texts
    prompt_tokens = 16
    per_text = new_tokens // 8 - 1  # tiles one continuation surely yields (random offset loses at most one)
    n_prompts = int(np.ceil(1.05 * n_windows / per_text))
    long_enough = [t for t in human if len(t.split()) >= 2 * prompt_tokens]
    pick = np.random.default_rng(seed).permutation(len(long_enough))[:n_prompts]
    prompts = [tok.decode(tok(long_enough[i], add_special_tokens=False)["input_ids"][:prompt_tokens]) for i in pick]
    t0 = time.perf_counter()
    generated = generate(model, tok, prompts, new_tokens, seed, batch_size)
    gen_s = time.perf_counter() - t0
    probe = EmergenceProbe(progress=True, seed=seed)
    out: dict = {"prompts": len(prompts), "new_tokens": new_tokens, "generation_s": gen_s,
                 "sample": generated[0][:300]}
    for name, texts in (("human", human), ("generated", generated)):
        t0 = time.perf_counter()
        w = make_windows(tok, texts, 8, n_windows, seed)
        out[name] = ie_summary(probe.score_parts(model, tok, w, n_windows // 2))
        out[name]["seconds"] = time.perf_counter() - t0
        print(f"{name}: mean IE {out[name]['mean_ie']:.4f} bits (halves {out[name]['half_means']}), "
              f"{out[name]['seconds']:.0f} s", flush=True)
    return out


def entity_tokens(tok, kind: str) -> list[int]:
    keep = []
    for name in ENTITIES[kind]:
        ids = tok(" " + name, add_special_tokens=False)["input_ids"]
        if len(ids) == 1:
            keep.append(ids[0])
    if len(keep) < SIZES[kind]:
        raise SystemExit(f"only {len(keep)} single-token {kind} names; add candidates")
    return keep[:SIZES[kind]]


def icl(model, tok, n_sequences: int, shots: int, seed: int) -> dict:
    comma = tok(",", add_special_tokens=False)["input_ids"]
    assert len(comma) == 1
    probe = EmergenceProbe(progress=True, seed=seed)
    out: dict = {}
    for kind in ENTITIES:
        ents = entity_tokens(tok, kind)
        rng = np.random.default_rng(seed)
        items = np.stack([rng.permutation(len(ents))[:shots + 1] for _ in range(n_sequences)])
        seqs = np.empty((n_sequences, 2 * (shots + 1)), dtype=np.int64)
        seqs[:, 0::2] = np.asarray(ents)[items]
        seqs[:, 1::2] = comma[0]
        t0 = time.perf_counter()
        res = probe.score_prefixes(model, tok, seqs, list(range(2, seqs.shape[1] + 1)))
        out[kind] = {"entities": tok.convert_ids_to_tokens(ents), "example": tok.decode(seqs[0]),
                     "mean_ie_by_length": {t: r.mean_ie for t, r in res.items()},
                     "mean_macro_by_length": {t: float(np.mean([x["mi_macro_bits"] for x in r.layers]))
                                              for t, r in res.items()},
                     "mean_micro_by_length": {t: float(np.mean([x["mi_micro_bits"] for x in r.layers]))
                                              for t, r in res.items()},
                     "per_layer_by_shot": {k: [x["ie_bits"] for x in res[2 * (k + 1)].layers]
                                           for k in range(shots + 1)},
                     "seconds": time.perf_counter() - t0, "n_sequences": n_sequences}
        print(f"{kind}: mean IE by shots " + ", ".join(f"{k}: {res[2 * (k + 1)].mean_ie:.3f}"
                                                        for k in range(shots + 1)), flush=True)
    return out


def figure(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [k for k in ("human_vs_generated", "icl") if k in results]
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for ax, key in zip(axes[0], panels):
        r = results[key]
        if key == "human_vs_generated":
            for name in ("human", "generated"):
                ax.plot(r[name]["per_layer"], marker=".", label=f"{name} (mean {r[name]['mean_ie']:.3f})")
            ax.set_xlabel("layer l")
            ax.set_ylabel("IE(l), bits")
            ax.set_title(f"WikiText vs SmolLM2-generated, {r['human']['n_windows']} windows each")
        else:
            for kind, v in r.items():
                t = sorted(int(x) for x in v["mean_ie_by_length"])
                ax.plot(t, [v["mean_ie_by_length"][x] for x in t], marker=".", label=kind)
            for x in range(2, max(t) + 1, 2):
                ax.axvline(x, color="0.9", lw=0.5, zorder=0)
            ax.set_xlabel("prefix length (tokens; demonstration k ends at 2(k+1))")
            ax.set_ylabel("mean IE over layers, bits")
            ax.set_title("In-context lists: IE as demonstrations grow")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiment", choices=["human-vs-generated", "icl", "all"])
    ap.add_argument("--n-windows", type=int, default=16384, help="windows per side (human, generated)")
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--gen-batch", type=int, default=64)
    ap.add_argument("--n-sequences", type=int, default=4096, help="in-context lists per kind")
    ap.add_argument("--shots", type=int, default=8)
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="emergence-experiments")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    model, tok = load(getattr(torch, args.dtype))
    results: dict = {"model": "SmolLM2-135M-Instruct (bundled GGUF)", "dtype": args.dtype, "seed": args.seed,
                     "load_s": time.perf_counter() - t0}
    prev = out / "emergence_experiments.json"
    if prev.exists():  # keep the other experiment's numbers when only one is re-run
        results = {**json.loads(prev.read_text()), **results}
    if args.experiment in ("human-vs-generated", "all"):
        results["human_vs_generated"] = human_vs_generated(model, tok, args.n_windows, args.new_tokens, args.seed,
                                                           args.gen_batch)
    if args.experiment in ("icl", "all"):
        results["icl"] = icl(model, tok, args.n_sequences, args.shots, args.seed)
    prev.write_text(json.dumps(results, indent=1))
    figure(results, out / "emergence_experiments.png")
    print(f"wrote {prev} and {out / 'emergence_experiments.png'}")


if __name__ == "__main__":
    main()
