"""Information Emergence (IE) per layer: how much more a block's macro state carries forward than its micro states.

This module holds the probe (settings, and which pass and scoring each entry point runs); the
windows, the passes, the moments and the estimates live beside it (windows.py, passes.py,
moments.py, gaussian.py, scoring.py, result.py).

As docs/metrics.md defines it, after "Quantifying Semantic Emergence in Language Models" (Chen et al., ACL 2025):

    IE(l) = MI(macro_{l+1}; macro_l) − (1/T)·Σ_t MI(micro_{t,l+1}; micro_{t,l})

over windows of T tokens. macro_l = hidden state (index l, 0 = embeddings) of the window's last
token, read from one forward pass per batch of windows that yields every layer; micro_{t,l} =
state of token t fed to the model alone.

The MI (default ``method="gaussian"``): macro and micro states are deterministic functions of
discrete tokens, so their true MI is the window's (or token's) entropy and a neural critic's
estimate measures the critic. IE therefore subtracts a well-posed MI by default: the MI of a
Gaussian channel (:func:`mi_tasks.metrics.emergence.estimators.gaussian_mi_from_cov`) between the same random
8-dimensional slices of the z-scored states l and l+1 (``shared_random``, averaged over 16 seeded
frames), with noise of 0.1 × the slice's mean variance added on each side (``ridge``; SNR 10 dB)
and the plug-in bias removed. It is computed from float64 moments streamed during the macro pass
(no states kept), converges as windows grow and is recorded in every result
(``meta["estimator"]``, ``meta["mi_definition"]``). The neural estimators (held-out ``infonce``,
``dv``, ``smile``) and the paper's biased protocol (``mine_paper``) remain available.

Choices (also in docs/emergence.md):

- Windows: non-overlapping tiles of T non-special tokens inside each text, from a seeded random
  offset per text, then a seeded sample of ``n_windows`` tiles; no window crosses a text boundary.
- BOS: ``bos="auto"`` prepends the tokenizer's BOS to every macro window and every micro input
  exactly when the tokenizer adds one to ordinary text (Llama-2 style), so the model sees inputs
  the way it was trained; SmolLM2/GPT-2 tokenizers add none, so their micro input is the bare token.
- Micro de-duplication: a micro state depends only on the token id, so each unique id in the
  windows runs once (all inputs have the same length: no padding) and windows index into the
  result. With ~N·T/3 unique ids among N·T positions this is 3x fewer (and 1-token) sequences.
- Micro averaging over t, ``micro="pooled"`` (default): windows start at random offsets inside
  their texts, so every position t has the same token distribution and all T micro terms have
  the same expected value. The Gaussian MI takes it once from all N·T positions (unique states
  weighted by their counts); the neural methods take one seeded random position per window (the
  same sample size, split and critic as the macro term). ``micro="per_position"`` averages T
  separate estimates (use it for windows whose positions differ in kind, e.g. prompts that all
  start a sentence).
- Encoder-only (bidirectional) models are refused: the macro/micro Markov picture needs a causal
  model where the last token aggregates the window and a lone token sees only itself.

What it measures: on SmolLM2 a lone token's state is carried almost linearly from block to block
(its micro MI is near the channel's cap at most layers) while attention rewrites the macro state,
so IE is negative at most layers; the noise level sets its size, not its profile. See
docs/emergence.md for the convergence, seed and noise-level tables.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ...data.corpora import Corpus
from ...errors import MiTasksError
from ...states.extraction import model_num_layers
from ...states.layers import LayerSpec, parse_layers
from .gaussian import gaussian_result, gaussian_settings, micro_moments
from .moments import StateMoments
from .passes import causal_backbone, collect_states, iter_last_states, micro_states
from .result import EmergenceResult
from .settings import EmergenceSettings
from .scoring import emergence_from_states
from .windows import with_prefix, bos_prefix, make_windows


class EmergenceProbe:
    """Information Emergence of a causal LM, per layer, on windows of a corpus.

    ``EmergenceProbe(window=8, n_windows=2048).score(model, tokenizer, texts)`` samples windows
    (:func:`make_windows`), runs one macro pass over them and one micro pass over their unique
    token ids (:func:`collect_states`), and estimates IE for every selected layer l < L.
    ``layers`` selects the l's (``all`` = 0..L−1; a spec or the indices :func:`parse_layers` gave).
    Settings carry the task YAML's names (:class:`~mi_tasks.metrics.emergence.settings.EmergenceSettings`).
    ``mi_estimator="gaussian"`` (default) streams the macro states into moments and uses the
    linear-Gaussian MI (``proj_dim``, ``mi_ridge``; ``estimator_kwargs`` ``projection``,
    ``n_projections``, ``bias_correction``); the neural estimators keep the states and train
    critics for ``mi_steps`` (:func:`emergence_from_states`).
    """

    def __init__(self, settings: EmergenceSettings | None = None, *, layers: LayerSpec = "all", batch_size: int = 32,
                 bos: bool | str = "auto", seed: int = 0, progress: bool = True,
                 estimator_kwargs: dict[str, Any] | None = None, **values: Any) -> None:
        s = EmergenceSettings.given(settings, " for EmergenceProbe", **values)
        if batch_size < 1:
            raise MiTasksError(f"batch_size must be >= 1, got {batch_size}")
        self.settings = s
        self.window, self.n_windows, self.layers = s.window, s.n_windows, layers
        self.proj_dim, self.mi_steps, self.mi_estimator, self.batch_size = s.proj_dim, s.mi_steps, s.mi_estimator, batch_size
        self.micro_mode, self.bos, self.seed, self.progress = s.micro_mode, bos, seed, progress
        self.estimator_kwargs = dict(estimator_kwargs or {})
        if "ridge" in self.estimator_kwargs:
            raise MiTasksError("EmergenceProbe: give the ridge as mi_ridge=, not in estimator_kwargs")
        self.mi_ridge = float(s.mi_ridge)
        if s.mi_estimator == "gaussian":
            self._gaussian()  # refuse critic settings early

    def _gaussian(self) -> dict[str, Any]:
        """The Gaussian MI's settings: ``mi_ridge`` (kept in one attribute) with the other estimator keywords."""
        return gaussian_settings(self.proj_dim, {"ridge": self.mi_ridge, **self.estimator_kwargs})

    def _states_and_pairs(self, num_layers: int) -> tuple[list[int], list[int], list[tuple[int, int]]]:
        """(IE layers l, the states they need (l and l+1), the (l, l+1) index pairs into those states)."""
        ie_layers = self.ie_layers(num_layers)
        state_layers = sorted(set(ie_layers) | {l + 1 for l in ie_layers})
        return ie_layers, state_layers, [(state_layers.index(l), state_layers.index(l + 1)) for l in ie_layers]

    def ie_layers(self, num_layers: int) -> list[int]:
        """The l's scored: the selected states except L (IE(l) needs state l+1)."""
        ls = [l for l in parse_layers(self.layers, num_layers) if l < num_layers]
        if not ls:
            raise MiTasksError(f"layer spec {self.layers!r} leaves no layer l < {num_layers} (IE(l) needs state l+1)")
        return ls

    def score(self, model: torch.nn.Module, tokenizer: Any, texts: Sequence[str] | Corpus) -> EmergenceResult:
        """Sample windows from ``texts`` and score them (see :meth:`score_windows`)."""
        causal_backbone(model)  # refuse encoders and bad layer specs before tokenizing a corpus
        self.ie_layers(model_num_layers(model))
        t0 = time.perf_counter()
        windows = make_windows(tokenizer, texts, self.window, self.n_windows, self.seed)
        res = self.score_windows(model, tokenizer, windows)
        res.meta["timings"]["windows_s"] = time.perf_counter() - t0 - sum(
            v for k, v in res.meta["timings"].items() if k.endswith("_s"))
        if isinstance(texts, Corpus):
            res.meta["corpus"] = texts.describe()
        return res

    def score_windows(self, model: torch.nn.Module, tokenizer: Any, windows: np.ndarray) -> EmergenceResult:
        """IE per layer on given (N, T) token-id windows."""
        num_layers = model_num_layers(model)
        ie_layers, state_layers, pairs = self._states_and_pairs(num_layers)
        if self.mi_estimator == "gaussian":
            st = collect_states(model, tokenizer, windows, state_layers, bos=self.bos, batch_size=self.batch_size,
                                progress=self.progress, stream_pairs=pairs)
            est = self._gaussian()
            assert st.macro_moments is not None
            res = gaussian_result(st.macro_moments, micro_moments(st.micro, st.micro_index, pairs, self.micro_mode),
                                   state_layers, num_layers, st.micro_index.shape[1], self.micro_mode, est, self.seed)
        else:
            st = collect_states(model, tokenizer, windows, state_layers, bos=self.bos, batch_size=self.batch_size,
                                progress=self.progress)
            res = emergence_from_states(st.macro, st.micro, micro_index=st.micro_index, layers=state_layers,
                                        num_layers=num_layers, micro_mode=self.micro_mode, mi_estimator=self.mi_estimator,
                                        proj_dim=self.proj_dim, mi_steps=self.mi_steps, seed=self.seed,
                                        progress=self.progress, estimator_kwargs=self.estimator_kwargs)
            res.layers = [r for r in res.layers if r["layer"] in set(ie_layers)]
        cfg = getattr(model, "config", None)
        res.meta.update({
            "model": getattr(cfg, "_name_or_path", "") or type(model).__name__,
            "num_layers": num_layers, "layers": ie_layers, "bos_prefix": bos_prefix(tokenizer, self.bos),
            "n_unique_tokens": int(st.timings["n_unique_tokens"]),
        })
        res.meta["timings"].update({k: v for k, v in st.timings.items() if k.endswith("_s")})
        return res

    def score_parts(self, model: torch.nn.Module, tokenizer: Any, windows: np.ndarray,
                    part_size: int) -> "EmergenceParts":
        """One pass over ``windows``, moments kept per block of ``part_size`` windows (Gaussian MI only).

        ``parts.result([0, 1])`` is IE on the union of blocks 0 and 1, exactly as if only those
        windows had been scored: the convergence and seed-stability checks of docs/emergence.md
        compare disjoint samples and their unions without a second model pass.
        """
        if self.mi_estimator != "gaussian":
            raise MiTasksError(f"score_parts needs mi_estimator='gaussian' (moments); {self.mi_estimator!r} keeps states")
        num_layers = model_num_layers(model)
        ie_layers, state_layers, pairs = self._states_and_pairs(num_layers)
        st = collect_states(model, tokenizer, windows, state_layers, bos=self.bos, batch_size=self.batch_size,
                            progress=self.progress, stream_pairs=pairs, part_size=part_size)
        size = int(part_size)
        micro = [micro_moments(st.micro, st.micro_index[a:a + size], pairs, self.micro_mode)
                 for a in range(0, len(windows), size)]
        return EmergenceParts(macro=st.macro_parts, micro=micro, state_layers=state_layers, num_layers=num_layers,
                              window=int(np.asarray(windows).shape[1]), micro_mode=self.micro_mode,
                              estimator=self._gaussian(), seed=self.seed,
                              timings={k: v for k, v in st.timings.items() if k.endswith("_s")})

    def score_prefixes(self, model: torch.nn.Module, tokenizer: Any, sequences: np.ndarray,
                       lengths: Sequence[int]) -> dict[int, EmergenceResult]:
        """IE of the prefixes of ``sequences`` (N, T_max) of each length in ``lengths``, from one pass.

        The window of length T is ``sequences[:, :T]``: its macro state is the state at position
        T−1 of the full sequence (causal attention), its micro terms the lone tokens among its first
        T tokens. This is how the paper follows IE token by token and shot by shot (Gaussian MI only).
        """
        if self.mi_estimator != "gaussian":
            raise MiTasksError(f"score_prefixes needs mi_estimator='gaussian' (moments); {self.mi_estimator!r} keeps states")
        seqs = np.asarray(sequences)
        if seqs.ndim != 2 or not np.issubdtype(seqs.dtype, np.integer) or len(seqs) < 1:
            raise MiTasksError(f"sequences must be an integer array (N, T), got {seqs.dtype} {seqs.shape}")
        lens = [int(t) for t in lengths]
        if not lens or any(not 2 <= t <= seqs.shape[1] for t in lens):
            raise MiTasksError(f"prefix lengths {list(lengths)} must lie in 2..{seqs.shape[1]} (the sequence length)")
        backbone = causal_backbone(model)
        num_layers = model_num_layers(model)
        ie_layers, state_layers, pairs = self._states_and_pairs(num_layers)
        prefix = bos_prefix(tokenizer, self.bos)
        ids = with_prefix(prefix, seqs)
        macro = {t: StateMoments(pairs) for t in lens}
        t0 = time.perf_counter()
        for _, st in iter_last_states(backbone, ids, state_layers, num_layers, self.batch_size, "IE prefix pass",
                                       self.progress, positions=[len(prefix) + t - 1 for t in lens],
                                       keep_on_device=True):
            for i, t in enumerate(lens):
                macro[t].add(st[:, :, i])
        micro, index = micro_states(backbone, seqs, prefix, state_layers, num_layers, 256, self.progress)
        seconds = time.perf_counter() - t0
        est = self._gaussian()
        out = {}
        for t in lens:
            res = gaussian_result(macro[t], micro_moments(micro, index[:, :t], pairs, self.micro_mode),
                                   state_layers, num_layers, t, self.micro_mode, est, self.seed)
            res.meta.update({"prefix_length": t, "n_unique_tokens": int(len(np.unique(seqs[:, :t]))),
                             "bos_prefix": prefix, "layers": ie_layers})
            res.meta["timings"]["shared_passes_s"] = seconds
            out[t] = res
        return out


@dataclass
class EmergenceParts:
    """Moments of disjoint blocks of windows from one pass; :meth:`result` scores any union of blocks."""

    macro: list[StateMoments]
    micro: list[list[StateMoments]]
    state_layers: list[int]
    num_layers: int
    window: int
    micro_mode: str
    estimator: dict[str, Any]
    seed: int
    timings: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.macro)

    def result(self, which: Sequence[int] | None = None) -> EmergenceResult:
        """IE on the windows of blocks ``which`` (default: all)."""
        idx = list(range(len(self.macro))) if which is None else [int(i) for i in which]
        if not idx or any(not 0 <= i < len(self.macro) for i in idx):
            raise MiTasksError(f"blocks {which} are not among the {len(self.macro)} blocks")
        macro = StateMoments.merged([self.macro[i] for i in idx])
        micro = [StateMoments.merged([self.micro[i][t] for i in idx]) for t in range(len(self.micro[idx[0]]))]
        res = gaussian_result(macro, micro, self.state_layers, self.num_layers, self.window, self.micro_mode,
                               self.estimator, self.seed)
        res.meta["blocks"] = idx
        return res
