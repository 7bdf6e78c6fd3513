"""Where the YAMLs' ``class: !function`` tags point: the task class of the installed mi_tasks."""
from mi_tasks.harness.task import MITask  # noqa: F401
