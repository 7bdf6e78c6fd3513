"""IE's model passes: last-token states of the macro windows and of each unique token fed alone.

The forward pass itself is :func:`mi_tasks.states.backbone.hidden_states`; this module only
batches equal-length inputs through it, picks positions and layers, and streams macro states into
:class:`~.moments.StateMoments` when they need not be kept.
"""
from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ...errors import MiTasksError
from ...states.backbone import check_finite, hidden_states, model_device
from ...states.extraction import model_num_layers
from ...states.layers import parse_layers
from ...states.modeling import hidden_state_module, is_encoder_only
from .moments import StateMoments
from .windows import with_prefix, bos_prefix


@dataclass
class EmergenceStates:
    """States for IE: ``macro`` (S, N, D); ``micro`` (S, U, D) for the unique ids, ``micro_index`` (N, T) into U.

    With ``stream_pairs`` the macro states are not kept: ``macro`` is None and ``macro_moments``
    holds their moments (or ``macro_parts`` one set per block, with ``part_size``).
    """

    macro: np.ndarray | None
    micro: np.ndarray
    micro_index: np.ndarray
    state_layers: list[int]
    num_layers: int
    timings: dict[str, float] = field(default_factory=dict)
    macro_moments: StateMoments | None = None
    macro_parts: list[StateMoments] = field(default_factory=list)


def causal_backbone(model: torch.nn.Module) -> torch.nn.Module:
    if is_encoder_only(model.config):
        raise MiTasksError(
            f"{model.config.model_type} is an encoder-only (bidirectional) model; Information Emergence needs a "
            "causal decoder, where the last token aggregates the window and a lone token sees only itself"
        )
    return hidden_state_module(model)


def iter_last_states(backbone: torch.nn.Module, ids: torch.Tensor, state_layers: list[int], num_layers: int,
                      batch_size: int, desc: str, progress: bool,
                      positions: Sequence[int] | None = None,
                      keep_on_device: bool = False) -> Iterator[tuple[int, Any]]:
    """(start row, last-position states (S, B, D) float32) per batch of equal-length sequences.

    numpy on the host, or (``keep_on_device``) a torch tensor on the model's device, for work
    that should stay there (the moments of the Gaussian MI).

    ``positions``: the states at these positions instead, (S, B, P, D) (a causal model's state at
    position p is that of the prefix ending there, so one pass serves every prefix length).
    """
    device = model_device(backbone)
    bar = tqdm(total=len(ids), desc=desc, unit="seq", disable=not progress, leave=False)
    try:
        for s in range(0, len(ids), batch_size):
            chunk = ids[s:s + batch_size].to(device)
            with torch.inference_mode():  # equal-length sequences: no padding, so no position ids to fix
                hs = hidden_states(backbone, chunk, torch.ones_like(chunk), num_layers).hidden_states
                pick = -1 if positions is None else list(positions)
                last = torch.stack([hs[l][:, pick, :] for l in state_layers]).float()
            check_finite(last, state_layers, backbone)
            if not keep_on_device:
                last = last.cpu().numpy()
            yield s, last
            bar.update(len(chunk))
    finally:
        bar.close()


def _run_last_states(backbone: torch.nn.Module, ids: torch.Tensor, state_layers: list[int], num_layers: int,
                     batch_size: int, desc: str, progress: bool) -> np.ndarray:
    """Last-position states (S, len(ids), D) float32 of equal-length sequences, one forward per batch."""
    out: np.ndarray | None = None
    for s, last in iter_last_states(backbone, ids, state_layers, num_layers, batch_size, desc, progress):
        if out is None:
            out = np.empty((len(state_layers), len(ids), last.shape[-1]), dtype=np.float32)
        out[:, s:s + last.shape[1]] = last
    assert out is not None
    return out


def micro_states(backbone: torch.nn.Module, windows: np.ndarray, prefix: list[int], layers: list[int],
                  num_layers: int, batch_size: int, progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """States (S, U, D) of each unique token id of ``windows`` fed alone (after ``prefix``), and the (N, T) index."""
    uniq, index = np.unique(windows, return_inverse=True)
    micro = _run_last_states(backbone, with_prefix(prefix, uniq[:, None]), layers, num_layers, batch_size,
                             "IE micro pass", progress)
    return micro, index.reshape(windows.shape).astype(np.int64)


def collect_states(model: torch.nn.Module, tokenizer: Any, windows: np.ndarray, state_layers: Sequence[int],
                   *, bos: bool | str = "auto", batch_size: int = 32, micro_batch_size: int = 256,
                   progress: bool = True, stream_pairs: Sequence[tuple[int, int]] | None = None,
                   part_size: int | None = None) -> EmergenceStates:
    """Macro states of the windows and micro states of their unique token ids at ``state_layers``.

    ``stream_pairs`` (index pairs into ``state_layers``): accumulate the macro states into
    :class:`StateMoments` batch by batch instead of keeping them (memory O(S·D²) for any N).
    ``part_size`` (with ``stream_pairs``): keep one set of moments per consecutive block of that
    many windows instead (``macro_parts``; ``macro_moments`` is None), so disjoint samples of one
    pass can be compared.
    """
    windows = np.asarray(windows)
    if windows.ndim != 2 or windows.shape[0] < 1 or windows.shape[1] < 2 or not np.issubdtype(windows.dtype, np.integer):
        raise MiTasksError(f"windows must be an integer array (N, T) with T >= 2, got {windows.dtype} {windows.shape}")
    backbone = causal_backbone(model)
    num_layers = model_num_layers(model)
    layers = [parse_layers(int(l), num_layers)[0] for l in state_layers]
    prefix = bos_prefix(tokenizer, bos)
    t0 = time.perf_counter()
    macro_ids = with_prefix(prefix, windows)
    macro: np.ndarray | None = None
    moments: StateMoments | None = None
    parts: list[StateMoments] = []
    if stream_pairs is None:
        macro = _run_last_states(backbone, macro_ids, layers, num_layers, batch_size, "IE macro pass", progress)
    else:
        size = len(windows) if part_size is None else int(part_size)
        if size < 1:
            raise MiTasksError(f"part_size must be >= 1, got {part_size}")
        parts = [StateMoments(stream_pairs) for _ in range(-(-len(windows) // size))]
        for s, last in iter_last_states(backbone, macro_ids, layers, num_layers, batch_size, "IE macro pass",
                                         progress, keep_on_device=True):
            a, end = s, s + last.shape[1]
            while a < end:  # split the batch where a block ends
                b = min(end, (a // size + 1) * size)
                parts[a // size].add(last[:, a - s:b - s])
                a = b
        moments = parts[0] if part_size is None else None  # blocks: merge what you need (StateMoments.merged)
    t1 = time.perf_counter()
    micro, index = micro_states(backbone, windows, prefix, layers, num_layers, micro_batch_size, progress)
    t2 = time.perf_counter()
    return EmergenceStates(macro=macro, micro=micro, micro_index=index,
                           state_layers=layers, num_layers=num_layers,
                           timings={"macro_forward_s": t1 - t0, "micro_forward_s": t2 - t1,
                                    "n_unique_tokens": float(micro.shape[1])}, macro_moments=moments,
                           macro_parts=parts if part_size is not None else [])

