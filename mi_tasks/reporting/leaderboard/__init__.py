"""A leaderboard of mi-tasks results: checked submissions merged into a board, and a static page of it.

Modules: ``schema`` (the versioned row schema and its checks), ``rows`` (results files to rows),
``store`` (the board on disk: atomic writes, replacement), ``page`` (the static site).
"""
