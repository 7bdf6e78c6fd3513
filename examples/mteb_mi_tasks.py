"""MI beside MTEB scores: STS-B and the MI tasks for MiniLM, as sentence-transformers and at a middle layer.

    python examples/mteb_mi_tasks.py [--train-limit 5000] [--test-limit 1000] [--cache results/mteb]

The MI tasks score any MTEB encoder from its embeddings alone, recovering the words of each text
(one fixed tokenization for every model), so the numbers compare across models. Results land in
mteb's cache like any task's; `mi-tasks report results/mteb` reads them.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import mteb

from mi_tasks.metrics.result import MEASUREMENTS_KEY, Scores
from mi_tasks.states.bundled import resolve_model
from mi_tasks.mteb import LayerEncoder, MIEntropy, MIRecoverability, default_data_dir, stsb_dev

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-limit", type=int, default=5000)
    ap.add_argument("--test-limit", type=int, default=1000)
    ap.add_argument("--cache", default=str(ROOT / "results" / "mteb"))
    args = ap.parse_args()
    from sentence_transformers import SentenceTransformer

    data = default_data_dir()
    path, _ = resolve_model("minilm")
    tasks = [stsb_dev(data), MIRecoverability(train_limit=args.train_limit, test_limit=args.test_limit, data_dir=data),
             MIEntropy(test_limit=args.test_limit, data_dir=data)]
    cache = mteb.ResultCache(cache_path=args.cache)
    models = {"sentence-transformers": SentenceTransformer(path, device="cpu"),
              "LayerEncoder layer 3": LayerEncoder(path, layer=3)}  # ST defaults: mean+specials, normalised, float32
    print(f"{'model':<24} {'STS-B':>7} {'recall@k':>9} {'prior':>7} {'lift':>15} {'Fano bits':>10} {'entropy':>8}")
    for label, model in models.items():
        res = mteb.evaluate(model, tasks, cache=cache, overwrite_strategy="always")
        s = {tr.task_name: tr.scores["test"][0] for tr in res.task_results}
        r, e = s["MIRecoverability"], s["MIEntropy"]
        print(f"{label:<24} {s[tasks[0].metadata.name]['main_score']:7.4f} {r['recall_at_k']:9.4f} "
              f"{r['prior_recall_at_k']:7.4f} {r['lift_recall_at_k']:7.4f} ± {Scores.from_dict(r[MEASUREMENTS_KEY], label).stderr('lift_recall_at_k'):.4f} "
              f"{r['fano_mi_bits']:10.3f} {e['dataset_entropy']:8.4f}")
    print(f"stored under {args.cache}; `mi-tasks report {args.cache}` reads the MI results")


if __name__ == "__main__":
    main()
