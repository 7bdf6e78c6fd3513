"""MTEB side of mi-tasks: a layer-and-pooling encoder, MI metrics as MTEB tasks, layer sweeps, offline tasks.

Inside this subpackage ``import mteb`` still means the real mteb package (absolute imports).
"""
from .encoder import LayerEncoder, PooledStateCache, model_identity
from .information_tasks import (WORD_TOKENIZATION, MIEntropy, MIRecoverability, information_tasks, text_words,
                                word_targets)
from .local_tasks import (agnews_classification, agnews_clustering, bbcnews_clustering, classification_task,
                          clustering_task, default_data_dir, default_tasks, read_stsb, sst2_classification, sts_task,
                          stsb_dev)
from .st_config import EncoderDefaults, encoder_defaults
from .sweep import LayerSweepResult, layer_sweep, main_scores

__all__ = ["MIEntropy", "MIRecoverability", "WORD_TOKENIZATION", "information_tasks", "text_words", "word_targets",
           "encoder_defaults", "EncoderDefaults", "LayerEncoder", "LayerSweepResult", "PooledStateCache", "agnews_classification", "agnews_clustering",
           "bbcnews_clustering", "classification_task", "clustering_task", "default_data_dir", "default_tasks",
           "layer_sweep", "main_scores", "model_identity", "read_stsb", "sst2_classification", "sts_task", "stsb_dev"]
