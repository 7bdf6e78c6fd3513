"""``python -m mi_tasks.cli``: the ``mi-tasks`` command."""
import sys

from .main import main

sys.exit(main())
