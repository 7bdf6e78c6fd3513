"""The recoverability paper's architecture claims, tested on the bundled encoder and decoder.

Claims: (1) encoder-only models keep more information than decoder-only ones; (2) decoder-only
models rise then fall in late layers ("forgetting"). all-MiniLM-L6-v2 (6 blocks) against
SmolLM2-135M (30 blocks), every state, each pooling the model supports (MiniLM: mean and first =
CLS; SmolLM2: mean and last), token and word targets, ridge decoders fitted on DBpedia ×5,000 and
scored on AG News ×1,000 (``--train-limit``/``--eval-limit``). Each model runs once per corpus: its
pooled states of all layers and both poolings come from the same forward pass (cached on disk,
keyed by what made them), and token and word decoders are fitted on the same states.

    MI_TASKS_DATA_DIR=../shared/data python examples/encoder_vs_decoder.py
    python examples/encoder_vs_decoder.py --train-limit 500 --eval-limit 200 --out /tmp/evd   # a quick look

Writes ``OUT/encoder_vs_decoder.json`` (every curve with per-text standard errors, the claims and
the cost of each step) and ``OUT/encoder_vs_decoder.png``; prints the claims table.

How the claims are read:
- matched depth: MiniLM's state k and SmolLM2's state 5k sit at the same normalised depth k/6;
  the difference of their lifts over each one's frequency prior (recall@k and Barber-Agakov bits)
  is taken per text on the same eval texts, so its standard error is paired.
- rise then fall: the peak layer is chosen on the even eval texts and measured on the odd ones
  (choosing and measuring on the same texts would favour a peak); rise = peak − state 0 and
  fall = peak − last state, both paired per text. A claim holds where both exceed 2 standard errors.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mi_tasks import HiddenStateExtractor, RecoverabilityProbe, load_corpus, load_model
from mi_tasks.states.bundled import DISPLAY_NAMES, resolve_model
from mi_tasks.states.pooling import pool

MODELS = {"minilm": ("mean", "first"), "smollm2": ("mean", "last")}
TARGETS = ("tokens", "words")
REPO = Path(__file__).resolve().parents[1]


class MultiPoolExtractor(HiddenStateExtractor):
    """Pools every layer's token states several ways in the same forward pass (features side by side)."""

    def __init__(self, *args: Any, poolings: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, pooling=poolings[0], **kwargs)
        self.poolings = poolings

    def _pool(self, h: torch.Tensor, attn: torch.Tensor, content: torch.Tensor | None, device: torch.device) -> torch.Tensor:
        here = h.device
        c = None if content is None else content.to(here)
        return torch.cat([pool(h, attn.to(here), p, c) for p in self.poolings], dim=-1).to(device)


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:16]


def extract(alias: str, texts: dict[str, list[str]], args: argparse.Namespace, cache: Path) -> dict[str, Any]:
    """States (layers, N, D) per pooling and corpus, token targets and tokenizer facts: one pass per corpus."""
    path, kw = resolve_model(alias)
    poolings = MODELS[alias]
    key = _digest(alias, path, poolings, args.max_text_length, args.dtype, {k: _digest(v) for k, v in texts.items()})
    file = cache / f"{alias}-{key}.npz"
    meta_file = file.with_suffix(".json")
    if file.is_file() and meta_file.is_file():
        print(f"{alias}: states from {file}")
        data = np.load(file)
        meta = json.loads(meta_file.read_text())
        meta["states"] = {k: data[k] for k in data.files}
        meta["targets"] = {role: [np.asarray(t, np.int64) for t in ts] for role, ts in meta["targets"].items()}
        return meta
    t0 = time.time()
    model, tok = load_model(path, dtype=args.dtype, **kw)
    ex = MultiPoolExtractor(model, tok, layers="all", poolings=poolings, max_text_length=args.max_text_length,
                            batch_size=args.batch_size, progress=not args.quiet)
    d = ex.hidden_size
    states, targets, seconds, truncated = {}, {}, {}, {}
    for role, corpus in texts.items():
        start = time.time()
        enc = ex.encode(corpus, f"{role} corpus")
        out = np.zeros((len(ex.layers), len(enc), d * len(poolings)), np.float32)
        for b in ex.iter_batches(enc, desc=f"{alias} {role}"):
            out[:, b.indices] = b.states.numpy()
        for j, p in enumerate(poolings):
            states[f"{role}_{p}"] = out[..., j * d:(j + 1) * d]
        targets[role] = [enc.content_ids(i).tolist() for i in range(len(enc))]
        seconds[role] = time.time() - start
        truncated[role] = enc.n_truncated
    meta = {"alias": alias, "model": DISPLAY_NAMES[alias], "path": path, "num_layers": ex.num_layers,
            "hidden_size": d, "vocab_size": len(tok), "poolings": list(poolings), "dtype": str(next(model.parameters()).dtype),
            "max_length": ex.max_text_length, "truncated": truncated, "extract_seconds": seconds,
            "load_seconds": time.time() - t0 - sum(seconds.values()), "targets": targets}
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(file, **states)
    meta_file.write_text(json.dumps(meta))
    meta["states"] = states
    meta["targets"] = {role: [np.asarray(t, np.int64) for t in ts] for role, ts in targets.items()}
    del model
    return meta


def fit(m: dict[str, Any], pooling: str, target: str, texts: dict[str, list[str]], args: argparse.Namespace) -> dict[str, Any]:
    """One probe for every layer of one (model, pooling, targets); per-text recall and CE kept for the claims."""
    start = time.time()
    probe = RecoverabilityProbe(seed=args.seed, text_metrics=False, targets=target, memory_budget_gb=args.memory_gb)
    X_tr, X_ev = m["states"][f"train_{pooling}"], m["states"][f"eval_{pooling}"]
    if target == "words":
        res = probe.fit_arrays(X_tr, texts["train"]).score_arrays(X_ev, texts["eval"])
    else:
        res = probe.fit_arrays(X_tr, m["targets"]["train"], m["vocab_size"]).score_arrays(X_ev, m["targets"]["eval"])
    with_error = ("recall_at_k", "lift_recall_at_k", "ba_mi_bits", "fano_mi_bits", "fano_mi_bits_empirical")

    def kept(r) -> dict[str, Any]:
        """This example's own summary of a row (docs/figures/encoder_vs_decoder.json): values, errors, flags."""
        return {"layer": r.layer, "depth": r.depth, **{k: r[k] for k in (*with_error, "cosine", "ridge_alpha")},
                **{f"{k}_stderr": r.stderr(k) for k in with_error},
                **{f"{k}_vacuous": float(r.caveat(k) == "vacuous") for k in ("fano_mi_bits", "fano_mi_bits_empirical")},
                "prior_fallback": float(r.flags.get("prior_fallback", False))}
    meta = {k: res.meta[k] for k in ("targets", "vocab_size", "decoder_vocab_size", "coverage_tokens",
                                     "unigram_entropy_bits", "n_train_fit", "n_calibration", "n_eval")}
    prior = {"recall_at_k": res.prior["recall_at_k"], "recall_at_k_stderr": res.prior.stderr("recall_at_k"),
             "cross_entropy_bits": res.prior["cross_entropy_bits"]}
    return {"model": m["model"], "pooling": pooling, "targets": target, "num_layers": m["num_layers"],
            "layers": [kept(r) for r in res.layers], "prior": prior, "meta": meta,
            "fit_seconds": time.time() - start,
            "per_text": {"lift": res.per_text["recall"][:-1] - res.per_text["recall"][-1],
                         "ba": res.per_text["ce"][-1] - res.per_text["ce"][:-1]}}


def _paired(diff: np.ndarray) -> tuple[float, float]:
    return float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(diff.size))


def matched_depth(enc: dict[str, Any], dec: dict[str, Any]) -> list[dict[str, Any]]:
    """Encoder minus decoder at the normalised depths both have (paired per eval text)."""
    ne, nd = enc["num_layers"], dec["num_layers"]
    rows = []
    for k in range(ne + 1):
        j = k * nd / ne
        if abs(j - round(j)) > 1e-9:
            continue
        j = int(round(j))
        row = {"depth": k / ne, "encoder_layer": k, "decoder_layer": j}
        for metric in ("lift", "ba"):
            e, d = enc["per_text"][metric][k], dec["per_text"][metric][j]
            row[f"encoder_{metric}"], row[f"encoder_{metric}_se"] = _paired(e)
            row[f"decoder_{metric}"], row[f"decoder_{metric}_se"] = _paired(d)
            row[f"{metric}_diff"], row[f"{metric}_diff_se"] = _paired(e - d)
        rows.append(row)
    return rows


def rise_and_fall(run: dict[str, Any], metric: str = "lift") -> dict[str, Any]:
    """Peak chosen on the even eval texts, rise and fall measured on the odd ones (paired per text)."""
    per = run["per_text"][metric]
    choose, measure = per[:, 0::2], per[:, 1::2]
    peak = int(np.argmax(choose.mean(1)))
    last = per.shape[0] - 1
    rise, rise_se = _paired(measure[peak] - measure[0])
    fall, fall_se = _paired(measure[peak] - measure[last])
    return {"peak_layer": peak, "peak_depth": peak / run["num_layers"], "peak": float(measure[peak].mean()),
            "first": float(measure[0].mean()), "last": float(measure[last].mean()),
            "rise": rise, "rise_se": rise_se, "fall": fall, "fall_se": fall_se,
            "rises_then_falls": bool(0 < peak < last and rise > 2 * rise_se and fall > 2 * fall_se)}


def claims(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by = {(r["model"], r["pooling"], r["targets"]): r for r in runs}
    enc, dec = DISPLAY_NAMES["minilm"], DISPLAY_NAMES["smollm2"]
    out: dict[str, Any] = {"encoder_above_decoder": [], "decoder_rises_then_falls": []}
    for target in TARGETS:
        for pe, pd in (("mean", "mean"), ("first", "last"), ("mean", "last"), ("first", "mean")):
            if (enc, pe, target) in by and (dec, pd, target) in by:
                rows = matched_depth(by[(enc, pe, target)], by[(dec, pd, target)])
                out["encoder_above_decoder"].append({"targets": target, "encoder_pooling": pe, "decoder_pooling": pd,
                                                     "rows": rows})
        for model, poolings in ((enc, MODELS["minilm"]), (dec, MODELS["smollm2"])):
            for p in poolings:
                if (model, p, target) in by:
                    r = by[(model, p, target)]
                    out["decoder_rises_then_falls"].append({"model": model, "pooling": p, "targets": target,
                                                            "lift": rise_and_fall(r, "lift"), "ba": rise_and_fall(r, "ba")})
    return out


def print_claims(c: dict[str, Any]) -> None:
    print("\nClaim 1: encoder minus decoder at matched normalised depth (lift of recall@k over each prior; BA bits)")
    print(f"{'targets':>7} {'pooling enc/dec':>16} {'depth':>6} {'enc lift':>16} {'dec lift':>16} {'diff':>16} {'BA diff':>16}")
    for block in c["encoder_above_decoder"]:
        for r in block["rows"]:
            print(f"{block['targets']:>7} {block['encoder_pooling'] + '/' + block['decoder_pooling']:>16} {r['depth']:>6.2f} "
                  f"{r['encoder_lift']:>8.4f} ±{r['encoder_lift_se']:.4f} {r['decoder_lift']:>8.4f} ±{r['decoder_lift_se']:.4f} "
                  f"{r['lift_diff']:>8.4f} ±{r['lift_diff_se']:.4f} {r['ba_diff']:>8.4f} ±{r['ba_diff_se']:.4f}")
    print("\nClaim 2: rise then fall (peak chosen on even eval texts, measured on odd ones; lift of recall@k)")
    print(f"{'model':>18} {'pooling':>7} {'targets':>7} {'peak@depth':>11} {'rise':>16} {'fall':>16} {'holds':>6}")
    for r in c["decoder_rises_then_falls"]:
        x = r["lift"]
        print(f"{r['model']:>18} {r['pooling']:>7} {r['targets']:>7} {x['peak_layer']:>5d}@{x['peak_depth']:.2f} "
              f"{x['rise']:>8.4f} ±{x['rise_se']:.4f} {x['fall']:>8.4f} ±{x['fall_se']:.4f} {str(x['rises_then_falls']):>6}")


def _pm(v: float, se: float, digits: int = 3) -> str:
    return f"{v:+.{digits}f} ± {se:.{digits}f}"


def markdown(runs: list[dict[str, Any]], c: dict[str, Any]) -> str:
    """The three tables docs/metrics.md shows: matched depths, rise and fall, and each run's last state."""
    depths = (0.0, 1 / 3, 2 / 3, 1.0)
    out = ["Encoder minus decoder, lift of recall@k over each one's prior (paired SE over the eval texts), at "
           "normalised depth 0, 1/3, 2/3, 1 (MiniLM state 0/2/4/6, SmolLM2 state 0/10/20/30); last column: depths "
           "of 7 where the encoder is above / below by more than 2 SE.", "",
           "| targets | pooling (enc / dec) | " + " | ".join(f"{d:.2f}" for d in depths) + " | above / below |",
           "|---|---|" + "---|" * len(depths) + "---|"]
    for b in c["encoder_above_decoder"]:
        rows = {round(r["depth"], 4): r for r in b["rows"]}
        cells = [_pm(rows[round(d, 4)]["lift_diff"], rows[round(d, 4)]["lift_diff_se"]) for d in depths]
        above = sum(r["lift_diff"] > 2 * r["lift_diff_se"] for r in b["rows"])
        below = sum(r["lift_diff"] < -2 * r["lift_diff_se"] for r in b["rows"])
        out.append(f"| {b['targets']} | {b['encoder_pooling']} / {b['decoder_pooling']} | " + " | ".join(cells) +
                   f" | {above} / {below} |")
    out += ["", "Rise then fall: the peak state is chosen on the even eval texts; lifts, rise (peak − state 0) and "
            "fall (peak − last state) are measured on the odd ones (paired SE).", "",
            "| model | pooling | targets | state 0 | peak (state @ depth) | last | rise | fall | rises then falls |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in c["decoder_rises_then_falls"]:
        x = r["lift"]
        out.append(f"| {r['model']} | {r['pooling']} | {r['targets']} | {x['first']:+.3f} | {x['peak']:+.3f} "
                   f"({x['peak_layer']} @ {x['peak_depth']:.2f}) | {x['last']:+.3f} | {_pm(x['rise'], x['rise_se'])} | "
                   f"{_pm(x['fall'], x['fall_se'])} | {'yes' if x['rises_then_falls'] else 'no'} |")
    out += ["", "Last state of each run (± SE over the eval texts); fallback = states where the held-out slice chose "
            "the prior; below = states whose lift is below 0 by more than 2 SE.", "",
            "| model | pooling | targets | \\|V\\| | recall@k | prior | lift | BA bits | Fano bits | fallback | below |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        x, n = r["layers"][-1], len(r["layers"])
        fano = "vacuous" if x["fano_mi_bits_vacuous"] else _pm(x["fano_mi_bits"], x["fano_mi_bits_stderr"], 2)
        below = sum(y["lift_recall_at_k"] < -2 * y["lift_recall_at_k_stderr"] for y in r["layers"])
        out.append(f"| {r['model']} | {r['pooling']} | {r['targets']} | {r['meta']['vocab_size']:,} | "
                   f"{x['recall_at_k']:.4f} ± {x['recall_at_k_stderr']:.4f} | {r['prior']['recall_at_k']:.4f} | "
                   f"{_pm(x['lift_recall_at_k'], x['lift_recall_at_k_stderr'], 4)} | {_pm(x['ba_mi_bits'], x['ba_mi_bits_stderr'])} | "
                   f"{fano} | {sum(y['prior_fallback'] for y in r['layers']):.0f}/{n} | {below}/{n} |")
    return "\n".join(out) + "\n"


def figure(runs: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True)
    styles = {("mean",): "-", ("first",): "--", ("last",): "--"}
    colors = {DISPLAY_NAMES["minilm"]: "C0", DISPLAY_NAMES["smollm2"]: "C3"}
    for i, target in enumerate(TARGETS):
        for k, (metric, label) in enumerate((("lift_recall_at_k", "recall@k − prior's"), ("ba_mi_bits", "Barber–Agakov bits"))):
            ax = axes[i, k]
            for r in (r for r in runs if r["targets"] == target):
                d = [x["depth"] for x in r["layers"]]
                v = np.array([x[metric] for x in r["layers"]])
                se = np.array([x[f"{metric}_stderr"] for x in r["layers"]])
                line, = ax.plot(d, v, styles[(r["pooling"],)], marker="o", markersize=3, color=colors[r["model"]],
                                label=f"{r['model']} ({r['pooling']})")
                ax.fill_between(d, v - se, v + se, color=line.get_color(), alpha=0.15, linewidth=0)
            ax.axhline(0, color="k", linewidth=0.6)
            ax.set_title(f"{label}, {target} targets", fontsize=10)
            ax.grid(alpha=0.3)
            if i == 1:
                ax.set_xlabel("normalised depth (layer / number of layers)")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Encoder vs decoder, DBpedia → AG News (ridge, ±1 SE over eval texts)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-corpus", default="dbpedia14")
    ap.add_argument("--eval-corpus", default="agnews")
    ap.add_argument("--train-limit", type=int, default=5000)
    ap.add_argument("--eval-limit", type=int, default=1000)
    ap.add_argument("--max-text-length", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--memory-gb", type=float, default=4.0, help="decoders held at once (more layers: fitted in groups)")
    ap.add_argument("--models", default="minilm,smollm2")
    ap.add_argument("--out", default=str(REPO / "docs" / "figures"))
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "mi-tasks" / "encoder_vs_decoder"))
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    train = load_corpus(args.train_corpus, limit=args.train_limit, seed=args.seed)
    evalc = load_corpus(args.eval_corpus, limit=args.eval_limit, seed=args.seed)
    texts = {"train": list(train.texts), "eval": list(evalc.texts)}
    print(f"train: {train.name} ({len(train)} texts)  eval: {evalc.name} ({len(evalc)} texts)")
    runs, models, started = [], [], time.time()
    for alias in args.models.split(","):
        m = extract(alias, texts, args, Path(args.cache))
        models.append({k: v for k, v in m.items() if k not in ("states", "targets")})
        for pooling in m["poolings"]:
            for target in TARGETS:
                run = fit(m, pooling, target, texts, args)
                last = run["layers"][-1]
                print(f"{m['model']} {pooling} {target}: |V|={run['meta']['vocab_size']} decoder vocab="
                      f"{run['meta']['decoder_vocab_size']}, last-layer lift {last['lift_recall_at_k']:.4f} "
                      f"± {last['lift_recall_at_k_stderr']:.4f}, prior fallback at "
                      f"{sum(r['prior_fallback'] for r in run['layers']):.0f}/{len(run['layers'])} layers "
                      f"({run['fit_seconds']:.0f} s)")
                runs.append(run)
    c = claims(runs)
    print_claims(c)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figure(runs, out / "encoder_vs_decoder.png")
    doc = {"train_corpus": train.describe(), "eval_corpus": evalc.describe(),
           "settings": {k: v for k, v in vars(args).items() if k not in ("out", "cache", "quiet")},
           "models": models, "claims": c, "total_seconds": time.time() - started,
           "runs": [{k: v for k, v in r.items() if k != "per_text"} for r in runs]}
    (out / "encoder_vs_decoder.json").write_text(json.dumps(doc, indent=1))
    (out / "encoder_vs_decoder.md").write_text(markdown(runs, c))
    print(f"\nwrote {out / 'encoder_vs_decoder.json'}, .md and .png "
          f"({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
