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

from typing import Any

import transformers
from lm_eval.models.huggingface import HFLM

from ..states.modeling import check_model_source, ensure_bidirectional, has_causal_lm_class
from .error_hook import install_error_hook
from .runner import handle_requests


class HiddenStateLM(HFLM):
    """lm-eval's ``hf`` model that loads any architecture and answers ``mi_hidden_states``."""

    def __init__(self, pretrained: Any = "gpt2", **kwargs: Any) -> None:
        install_error_hook()  # the model loads before any task: its errors are one line too
        if isinstance(pretrained, str):  # a missing folder is named as such, not sent to the hub as a repo id
            check_model_source(pretrained, kwargs.get("gguf_file"))
        super().__init__(pretrained=pretrained, **kwargs)
        ensure_bidirectional(self.model)

    def _get_backend(self, config: Any, backend: str = "default", trust_remote_code: bool | None = False) -> None:
        super()._get_backend(config, backend=backend, trust_remote_code=trust_remote_code)
        if self.backend == "causal" and not has_causal_lm_class(config):
            # No causal-LM head for this architecture: the bare model gives the same hidden states.
            self.AUTO_MODEL_CLASS = transformers.AutoModel

    def mi_hidden_states(self, requests: list[Any]) -> list[dict[str, float]]:
        """mi-tasks' request type: per-text values from one hidden-state pass per corpus."""
        return handle_requests(self, requests)
