"""Information Emergence of SmolLM2-135M on human (WikiText) vs self-generated text.

The paper's comparison: text written by an LLM shows higher IE than human text. SmolLM2 is
loaded with AutoModelForCausalLM from its bundled GGUF, continues seeded WikiText prompts by
sampling (fixed seed), and both corpora are cut into windows identically (make_windows on the
texts: WikiText paragraphs vs the generated continuations, prompts excluded) and scored by the
same EmergenceProbe. Prints both per-layer curves and their means.

    PYTHONPATH=. python examples/information_emergence.py [--n-windows 512] [--steps 300]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from mi_tasks import load_corpus
from mi_tasks.bundled import resolve_model
from mi_tasks.emergence import EmergenceProbe

DATA = Path(os.environ.get("MI_TASKS_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def generate(model, tok, prompts: list[str], new_tokens: int, seed: int, batch_size: int = 32) -> list[str]:
    """Sampled continuations (temperature 1, top-p 0.95) of the prompts, prompt text removed."""
    torch.manual_seed(seed)
    tok.padding_side = "left"
    out = []
    for s in range(0, len(prompts), batch_size):
        enc = tok(prompts[s:s + batch_size], return_tensors="pt", padding=True)
        with torch.inference_mode():
            gen = model.generate(**enc, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=True,
                                 top_p=0.95, temperature=1.0, pad_token_id=tok.pad_token_id)
        out += tok.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    return [t.strip() for t in out if t.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-windows", type=int, default=512)
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--proj-dim", type=int, default=32)
    ap.add_argument("--prompt-tokens", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from transformers import AutoModelForCausalLM, AutoTokenizer

    path, kw = resolve_model("smollm2")
    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(path, **kw)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, **kw).eval()
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    print(f"loaded SmolLM2 in {time.perf_counter() - t0:.0f} s")

    human = load_corpus(DATA / "wikitext2" / "wiki.valid.raw")
    per_text = args.new_tokens // args.window  # windows one continuation yields
    n_prompts = int(1.3 * args.n_windows / max(per_text - 1, 1)) + 8
    long_enough = [t for t in human.texts if len(t.split()) >= 2 * args.prompt_tokens]
    g = torch.Generator().manual_seed(args.seed)
    pick = torch.randperm(len(long_enough), generator=g)[:n_prompts].tolist()
    prompts = [tok.decode(tok(long_enough[i], add_special_tokens=False)["input_ids"][:args.prompt_tokens])
               for i in pick]
    t0 = time.perf_counter()
    generated = generate(model, tok, prompts, args.new_tokens, args.seed)
    print(f"generated {len(generated)} continuations of {args.new_tokens} tokens in {time.perf_counter() - t0:.0f} s")
    print("sample:", generated[0][:200].replace("\n", " "))

    probe = EmergenceProbe(window=args.window, n_windows=args.n_windows, steps=args.steps, proj_dim=args.proj_dim,
                           seed=args.seed)
    results = {}
    for name, texts in (("wikitext", human.texts), ("generated", generated)):
        t0 = time.perf_counter()
        results[name] = probe.score(model, tok, texts)
        print(f"\n== {name}: {time.perf_counter() - t0:.0f} s ==")
        print(results[name].table())
    print("\nlayer  depth  IE wikitext  IE generated")
    for a, b in zip(results["wikitext"].layers, results["generated"].layers):
        print(f"{a['layer']:>5} {a['depth']:>6.3f} {a['ie_bits']:>12.3f} {b['ie_bits']:>13.3f}")
    print(f"mean IE: wikitext {results['wikitext'].mean_ie:.3f} bits, generated {results['generated'].mean_ie:.3f} bits "
          f"(window {args.window}, {args.n_windows} windows, {args.steps} steps, proj_dim {args.proj_dim}, seed {args.seed})")


if __name__ == "__main__":
    main()
