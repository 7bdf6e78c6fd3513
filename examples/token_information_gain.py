"""Paper 3 extras on real text: each text's last token, per layer, against the tokens before it.

(a) ridge regression of the last token's state on the earlier tokens' states: R² and the
information gain in bits (GP reading, see mi_tasks/metrics/token_gain.py); (b) the tokens Lasso selects
vs the tokens the model attends to most from the last token: overlap, rank correlation and
which k tokens explain the last state better.

    PYTHONPATH=. python examples/token_information_gain.py [--model smollm2|minilm] [--n-texts 8]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from mi_tasks import load_corpus, load_model
from mi_tasks.states.bundled import resolve_model
from mi_tasks.metrics.token_gain import lasso_token_weights, token_gain_from_model

DATA = Path(os.environ.get("MI_TASKS_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--n-texts", type=int, default=8)
    ap.add_argument("--max-text-length", type=int, default=48)
    ap.add_argument("--layers", default="0:1:0.2")
    args = ap.parse_args()
    path, kw = resolve_model(args.model)
    model, tok = load_model(path, dtype="float32", **kw)
    corpus = load_corpus(DATA / "wikitext2" / "wiki.valid.raw", limit=400, seed=0)
    texts = [t for t in corpus.texts if len(t.split()) >= 20][:args.n_texts]
    res = token_gain_from_model(model, tok, texts, layers=args.layers, max_text_length=args.max_text_length)
    print(f"{args.model}: {len(texts)} WikiText paragraphs cut to {args.max_text_length} tokens, "
          f"ridge alpha {res.meta['ridge_alpha']}, lasso_frac {res.meta['lasso_frac']}; means over texts\n")
    print(res.table())
    # One text in words: which earlier tokens Lasso picks at the middle layer vs the most attended ones.
    import numpy as np
    import torch
    mid = res.layers[len(res.layers) // 2]["layer"]
    enc = tok(texts[0], truncation=True, max_length=args.max_text_length, return_special_tokens_mask=True,
              return_tensors="pt")
    keep = np.flatnonzero(enc["special_tokens_mask"][0].numpy() == 0)
    backbone = getattr(model, "base_model", model)
    backbone.set_attn_implementation("eager")
    with torch.inference_mode():
        out = backbone(input_ids=enc["input_ids"], output_hidden_states=True, output_attentions=True)
    states = out.hidden_states[mid][0].numpy()[keep]
    coef = lasso_token_weights(states)
    att = out.attentions[mid][0, :, keep[-1], :].mean(0).numpy()[keep[:-1]]
    words = tok.convert_ids_to_tokens(enc["input_ids"][0][keep].tolist())
    k = int((coef != 0).sum())
    print(f"\ntext 0, state {mid}: last token {words[-1]!r}")
    print("  Lasso picks:   ", [words[i] for i in np.argsort(-np.abs(coef))[:k]])
    print("  most attended: ", [words[i] for i in np.argsort(-att)[:k]])


if __name__ == "__main__":
    main()
