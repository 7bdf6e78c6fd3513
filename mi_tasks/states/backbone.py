"""The one place mi-tasks runs a model: padding, position ids, the forward pass and its checks.

Extraction, information emergence's macro and micro passes, enhancement and the token-gain
analysis all read hidden states through :func:`hidden_states`, so a fix to padding, positions or
the NaN check is made once.
"""
from __future__ import annotations

import inspect
from typing import Any

import torch

from ..errors import MiTasksError


def model_device(model: torch.nn.Module) -> torch.device:
    """Where the model's first parameters are: inputs go there (CPU for a model without parameters)."""
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def takes_position_ids(model: torch.nn.Module) -> bool:
    """Whether the forward accepts ``position_ids`` (decoders then get them counted over real tokens)."""
    try:
        return "position_ids" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def pad_batch(tokenizer: Any, features: list[dict[str, Any]], encoder: bool) -> dict[str, torch.Tensor]:
    """Pad tokenised texts into a batch the way every pass does.

    Encoders pad on the right (their position embeddings assume it); decoders keep the tokenizer's
    side and get position ids counted over real tokens (:func:`real_token_positions`). Lengths are
    padded to a multiple of 8: fewer distinct shapes, so oneDNN/cuDNN keep fewer compiled kernels
    (memory stays flat over long corpora) and bf16 tiles stay full.
    """
    side = "right" if encoder else tokenizer.padding_side
    return tokenizer.pad(features, return_tensors="pt", padding_side=side, pad_to_multiple_of=8)


def real_token_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids that count only real tokens, as generation does (left padding leaves them at 0)."""
    return (attention_mask.long().cumsum(1) - 1).clamp_min(0)


def hidden_states(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, num_layers: int, *,
                  position_ids: torch.Tensor | None = None, output_attentions: bool = False) -> Any:
    """One forward pass with ``output_hidden_states=True``; the output, checked to hold L+1 states.

    The caller chooses the autograd context (inference for reading, gradients for enhancement).
    """
    kwargs: dict[str, Any] = {"position_ids": position_ids} if position_ids is not None else {}
    if output_attentions:
        kwargs["output_attentions"] = True
    try:
        out = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True, **kwargs)
    except TypeError as e:
        raise MiTasksError(f"{type(model).__name__} does not accept output_hidden_states: mi-tasks needs a Hugging "
                           "Face transformers model that returns hidden states") from e
    hs = getattr(out, "hidden_states", None)
    if hs is None:
        raise MiTasksError(f"{type(model).__name__} returned no hidden states; load a Hugging Face causal or masked "
                           "LM (AutoModel / AutoModelForCausalLM) whose forward supports output_hidden_states")
    if len(hs) != num_layers + 1:
        raise MiTasksError(f"the model returned {len(hs)} hidden states but its config says {num_layers} layers "
                           f"(expected {num_layers + 1}: embeddings + one per block); check the model class")
    return out


def check_finite(states: torch.Tensor, layers: list[int], model: torch.nn.Module) -> None:
    """Refuse NaN/inf states (S, ...) naming the layers and the fix (float32 for an overflowing half dtype)."""
    if bool(torch.isfinite(states).all()):
        return
    bad = [layers[j] for j in range(len(layers)) if not bool(torch.isfinite(states[j]).all())]
    dtype = next(model.parameters()).dtype
    fix = ("the checkpoint or inputs produce them in float32: check the weights" if dtype == torch.float32
           else f"the model overflows in {dtype}: reload it with dtype='float32'")
    raise MiTasksError(f"hidden states contain NaN or inf at layers {bad}; {fix}")
