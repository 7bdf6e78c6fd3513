"""``--model hf-mi``: lm-eval's Hugging Face model, able to load any architecture for hidden-state reading.

It is lm-eval's ``HFLM`` (same ``--model_args``, ``--device``, ``--batch_size``, ``parallelize``,
``accelerate launch``) with two differences:

- where an architecture has no causal-LM class (DistilBERT, MPNet, DeBERTa-v2/v3, ModernBERT,
  ALBERT, ...) it loads the bare model (``AutoModel``) instead of failing; where one exists it loads
  it as ``hf`` does, so standard tasks still run beside mi-tasks tasks in one command;
  encoder-decoder models load as ``hf`` does and mi-tasks reads their encoder stack;
- it answers mi-tasks' ``mi_hidden_states`` requests itself.

Encoders loaded this way run bidirectionally (``ensure_bidirectional``), as in the core API.
"""
from __future__ import annotations

import logging
from typing import Any

import torch
import transformers
from lm_eval.models.huggingface import HFLM

from ..errors import translate_errors
from ..states.modeling import LOAD_FIX, check_dtype_name, check_model_source, ensure_bidirectional, has_causal_lm_class
from .error_hook import install_error_hook
from .runner import handle_requests

log = logging.getLogger(__name__)


def available_device(device: Any, parallel: bool) -> Any:
    """``device``, or ``cpu`` (said in one log line) where it names CUDA and this machine has none.

    lm-eval's default device is ``cuda``; a CUDA build of torch on a machine without a GPU would
    otherwise fail deep inside the loader.
    """
    if parallel or torch.cuda.is_available() or not (device is None or str(device).startswith("cuda")):
        return device
    log.warning("hf-mi: no CUDA device on this machine, running on the CPU (%s); choose one with --device "
                "(cpu, cuda:0, mps, ...)", f"device {device!r} asked for" if device else "no --device given")
    return "cpu"


class HiddenStateLM(HFLM):
    """lm-eval's ``hf`` model that loads any architecture and answers ``mi_hidden_states``."""

    def __init__(self, pretrained: Any = "gpt2", **kwargs: Any) -> None:
        install_error_hook()  # the model loads before any task: its errors are one line too
        if isinstance(pretrained, str):  # a missing folder is named as such, not sent to the hub as a repo id
            check_model_source(pretrained, kwargs.get("gguf_file"))
        check_dtype_name(kwargs.get("dtype"), "--model_args dtype")
        kwargs["device"] = available_device(kwargs.get("device", "cuda"), bool(kwargs.get("parallelize")))
        with translate_errors(f"--model hf-mi cannot load {str(pretrained)!r}", LOAD_FIX):
            super().__init__(pretrained=pretrained, **kwargs)
        ensure_bidirectional(self.model)

    def _get_backend(self, config: Any, backend: str = "default", trust_remote_code: bool | None = False) -> None:
        super()._get_backend(config, backend=backend, trust_remote_code=trust_remote_code)
        if self.backend == "causal" and not has_causal_lm_class(config):
            # No causal-LM head for this architecture: the bare model gives the same hidden states.
            self.AUTO_MODEL_CLASS = transformers.AutoModel

    def mi_hidden_states(self, requests: list[Any]) -> list[dict[str, float]]:
        """mi-tasks' request type: per-text values from one hidden-state pass per corpus."""
        with translate_errors("mi-tasks could not score its corpora with this model",
                              "check the task's settings (--metadata) and the model"):
            return handle_requests(self, requests)
