"""Reports from lm-eval (and MTEB) results: per-layer figures, tables, model-card metadata, leaderboard rows."""
from .card import leaderboard_rows, model_index_yaml, update_card, write_leaderboard
from .figures import plot_results
from .report import Report, write_report
from .results import Results, TaskCurves, load_results
from .tables import headline_markdown, layers_csv, layers_markdown

__all__ = ["Report", "Results", "TaskCurves", "headline_markdown", "layers_csv", "layers_markdown", "leaderboard_rows",
           "load_results", "model_index_yaml", "plot_results", "update_card", "write_leaderboard", "write_report"]
