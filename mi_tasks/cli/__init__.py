"""The ``mi-tasks`` command: ``main`` dispatches to one module per subcommand."""
from .main import build_parser, main

__all__ = ["build_parser", "main"]
