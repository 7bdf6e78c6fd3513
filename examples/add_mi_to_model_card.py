"""Add MI metrics to a Hugging Face model card's ``model-index`` (the rest of the card is left as it is).

    lm_eval --model hf --model_args pretrained=MODEL --tasks mi_suite --output_path results/
    python examples/add_mi_to_model_card.py results/ MODEL/README.md [--model LABEL]
Also writes leaderboard rows (JSON and CSV) with the settings that make runs comparable.
Without a README path it prints the YAML header to paste into a new card.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from huggingface_hub import ModelCard

from mi_tasks.reporting import leaderboard_rows, load_results, model_index_yaml, update_card, write_leaderboard


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="lm-eval results_*.json or the --output_path folder")
    ap.add_argument("card", nargs="?", default=None, help="README.md to update in place")
    ap.add_argument("--model", default=None, help="which model when the results hold several")
    ap.add_argument("--leaderboard", default="leaderboard", help="folder for leaderboard.json/.csv")
    a = ap.parse_args()
    res = load_results(a.results)
    if a.card is None:
        print(model_index_yaml(res, model=a.model))
    else:
        before = Path(a.card).read_text(encoding="utf-8")
        after = update_card(a.card, res, model=a.model)
        card = ModelCard(after)
        assert card.text == ModelCard(before).text, "the card's body must not change"
        print(f"{a.card}: {len(card.data.eval_results or [])} eval results in model-index "
              f"({sum(1 for e in card.data.eval_results or [] if (e.metric_args or {}).get('tool') == 'mi-tasks')} from mi-tasks)")
    j, c = write_leaderboard(leaderboard_rows(res), a.leaderboard)
    print(f"leaderboard rows: {j} {c}")


if __name__ == "__main__":
    main()
