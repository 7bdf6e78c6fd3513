"""One call from results files to a report folder: figures, tables, leaderboard rows, report.md."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from .card import leaderboard_rows, write_leaderboard
from .comparability import check_comparable
from .figures import FigureSet, plot_results
from .layer_choice_report import layer_choice_section
from .results import Results, load_results
from .tables import headline_markdown, write_tables


@dataclass
class Report:
    """What was written, and the headline table that was printed."""

    results: Results
    out_dir: Path
    figures: FigureSet
    tables: dict[str, Path]
    leaderboard: tuple[Path, Path]
    markdown: Path
    headline: str
    layer_choice: str = ""   # markdown section; empty unless a layer sweep has per-layer metrics beside it


def write_report(results: Results | Iterable[str | os.PathLike] | str | os.PathLike, out_dir: str | os.PathLike,
                 labels: dict[str, str] | None = None, overview: Sequence[str] | None = None,
                 figures: bool = True, strict: bool = False) -> Report:
    """Load results (files, folders or a ``Results``) and write the whole report into ``out_dir``.

    ``strict``: refuse token-target results of different tokenizers instead of flagging them.
    """
    res = results if isinstance(results, Results) else load_results(results, labels=labels)  # type: ignore[arg-type]
    check_comparable(res, strict=strict)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figs = plot_results(res, out / "figures", overview=overview) if figures else FigureSet()
    tables = write_tables(res, out)
    board = write_leaderboard(leaderboard_rows(res), out)
    headline = headline_markdown(res)
    choice = layer_choice_section(res)
    lines = ["# mi-tasks report", "", headline, ""]
    if choice:
        (out / "layer_choice.md").write_text(choice, encoding="utf-8")
        lines += [choice, ""]
    if figs.overview is not None:
        lines += [f"![overview]({figs.overview.relative_to(out).as_posix()})", ""]
    if figs.paths:
        lines += ["## Per-layer curves", ""]
        lines += [f"- [{p.stem}]({p.relative_to(out).as_posix()})" for p in figs.paths if p != figs.overview]
        lines.append("")
    lines += ["## Files", "", "- `headline.md`, `headline.csv`: the table above",
              "- `layers.md`, `layers.csv`: every metric at every layer",
              "- `leaderboard.json`, `leaderboard.csv`: one row per model run, task and headline metric, with settings",
              "- `figures/figures.json`: the numbers drawn in each figure"]
    if choice:
        lines.append("- `layer_choice.md`: which metric tells you the best layer (the section above)")
    lines += ["", "## Runs", ""]
    lines += [f"- {r.label}: `{r.model}` ({r.date}); {r.source}" for r in res.runs]
    md = out / "report.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Report(results=res, out_dir=out, figures=figs, tables=tables, leaderboard=board, markdown=md, headline=headline,
                  layer_choice=choice)
