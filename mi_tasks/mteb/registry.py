"""Make MI task results readable by MTEB's own results tools.

``TaskResult.task_type``, ``get_aggregated_scores`` and ``Benchmark.get_score`` rebuild each result's
task by name through ``mteb.get_task``, which only knows the tasks shipped with mteb: for any other
name they raise ``KeyError``. MTEB has no public hook to add a task, so each MI task name is entered
into its name table (``mteb.get_tasks._TASKS_REGISTRY``) as a data-less stand-in: building it reads no
corpus, and it carries the task's metadata (type, main score, languages). Names of MTEB's own tasks
are never replaced. Results of a task built under another ``name=`` are readable once a task of
that name has been built in the process (or :func:`register_result_name` was called for it).
"""
from __future__ import annotations

from typing import Any

from mteb.abstasks.abstask import AbsTask
from mteb.abstasks.task_metadata import TaskMetadata

from ..errors import MiTasksError


def _stand_in_init(self: AbsTask, seed: int = 42, **kwargs: Any) -> None:
    AbsTask.__init__(self, seed=seed, **kwargs)


def _stand_in_load(self: AbsTask, num_proc: int | None = None, **kwargs: Any) -> None:
    raise MiTasksError(f"{self.metadata.name} from mteb.get_task is a description for reading results; build the "
                       "task from mi_tasks.mteb (information_tasks(), or its class by name) to evaluate a model")


def register_result_name(cls: type[AbsTask], metadata: TaskMetadata) -> None:
    """Enter ``metadata.name`` into mteb's task table as a data-less ``cls`` with this metadata (MI names only)."""
    import importlib

    table = importlib.import_module("mteb.get_tasks")._TASKS_REGISTRY
    have = table.get(metadata.name)
    if have is not None and not getattr(have, "_mi_results_stand_in", False):
        return  # an mteb task of that name: leave it alone
    table[metadata.name] = type(f"{metadata.name}Results", (cls,),
                                {"metadata": metadata, "_mi_results_stand_in": True, "__init__": _stand_in_init,
                                 "load_data": _stand_in_load, "__module__": __name__})
