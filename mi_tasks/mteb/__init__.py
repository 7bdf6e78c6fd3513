"""MTEB side of mi-tasks: a layer-and-pooling encoder, MI metrics as MTEB tasks, layer sweeps, offline tasks.

Inside this subpackage ``import mteb`` still means the real mteb package (absolute imports).
"""
from .encoder import LayerEncoder, PooledStateCache, model_identity
from .information_tasks import InformationTask, information_task, information_task_classes, information_tasks
from .local_tasks import (agnews_classification, agnews_clustering, bbcnews_clustering, classification_task,
                          clustering_task, default_data_dir, default_tasks, read_stsb, sst2_classification, sts_task,
                          stsb_dev)
from .st_config import EncoderDefaults, encoder_defaults
from .sweep import LayerSweepResult, layer_sweep, main_scores

__all__ = ["InformationTask", "information_task", "information_task_classes", "information_tasks",
           "encoder_defaults", "EncoderDefaults", "LayerEncoder", "LayerSweepResult", "PooledStateCache", "agnews_classification", "agnews_clustering",
           "bbcnews_clustering", "classification_task", "clustering_task", "default_data_dir", "default_tasks",
           "layer_sweep", "main_scores", "model_identity", "read_stsb", "sst2_classification", "sts_task", "stsb_dev"]


def __getattr__(name: str) -> type[InformationTask]:
    """Each family's MTEB task class by its task name (``from mi_tasks.mteb import MIRecoverability``)."""
    classes = information_task_classes()
    if name in classes:
        return classes[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *information_task_classes()])
