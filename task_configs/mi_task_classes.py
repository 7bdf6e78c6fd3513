"""Where the YAMLs' ``class: !function`` tags point: the task classes of the installed mi_tasks."""
from mi_tasks.harness.task import EmergenceTask, EntropyTask, FanoTask, RecoverabilityTask  # noqa: F401
