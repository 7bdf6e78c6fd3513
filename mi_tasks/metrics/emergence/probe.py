"""Information Emergence (IE) per layer: how much more a block's macro state carries forward than its micro states.

SPEC §3, after "Quantifying Semantic Emergence in Language Models" (Chen et al., ACL 2025):

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

import math
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ...states.backbone import check_finite, hidden_states, model_device
from ...data.corpora import Corpus
from ...config import renamed_attribute, renamed_keywords
from ...errors import MiTasksError
from ...states.extraction import check_texts, model_num_layers
from ...states.layers import LayerSpec, normalized_depth, parse_layers
from .estimators import (GAUSSIAN_DEFINITION, METHODS, estimate_mi, gaussian_mi_from_cov,
                            standardized_projection)
from ...states.modeling import hidden_state_module, is_encoder_only

MICRO_MODES = ("pooled", "per_position")
GAUSSIAN_KEYS = ("projection", "n_projections", "ridge", "bias_correction")
IE_PROJECTION = "shared_random"  # see docs/emergence.md: top-PCA subspaces differ between samples
IE_PROJ_DIM = 8
# the Gaussian channel's noise, as a fraction of the slice's mean variance (SNR 10 dB); see docs/emergence.md:
# at 1e-3 (estimate_mi's default) a lone token's micro MI sits at the cap and 2k-window samples differ by 0.3 bits
IE_RIDGE = 0.1
IE_N_WINDOWS = 2048


def bos_prefix(tokenizer: Any, bos: bool | str = "auto") -> list[int]:
    """Token ids put before every macro window and micro input: ``[bos_id]`` or ``[]``."""
    if bos == "auto":
        bos_id = getattr(tokenizer, "bos_token_id", None)
        if bos_id is None:
            return []
        ids = tokenizer("a")["input_ids"]
        return [bos_id] if ids and ids[0] == bos_id else []
    if bos is True:
        bos_id = getattr(tokenizer, "bos_token_id", None)
        if bos_id is None:
            raise MiTasksError("bos=True but the tokenizer has no BOS token; use bos='auto' or False")
        return [int(bos_id)]
    if bos is False:
        return []
    raise MiTasksError(f"bos must be 'auto', True or False, got {bos!r}")


def make_windows(tokenizer: Any, texts: Sequence[str] | Corpus, window: int = 8, n_windows: int = 1024,
                 seed: int = 0) -> np.ndarray:
    """(n_windows, window) token ids: seeded non-overlapping tiles of non-special tokens inside texts.

    Each text is tokenized without special tokens (any that appear are cut out, splitting the text),
    tiled from a seeded random offset, and ``n_windows`` tiles are drawn without replacement.
    """
    if window < 2:
        raise MiTasksError(f"window must be >= 2 tokens, got {window}")
    if n_windows < 1:
        raise MiTasksError(f"n_windows must be >= 1, got {n_windows}")
    texts = check_texts(texts.texts if isinstance(texts, Corpus) else texts, "corpus")
    rng = np.random.default_rng(seed)
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    enc = tokenizer(texts, add_special_tokens=False)["input_ids"]
    tiles: list[np.ndarray] = []
    for ids in enc:
        run: list[int] = []
        for tok in [*ids, None]:  # None flushes the last run
            if tok is not None and tok not in special:
                run.append(tok)
                continue
            if len(run) >= window:
                arr = np.asarray(run, dtype=np.int64)
                start = int(rng.integers(0, min(window, len(arr) - window + 1)))
                n_tiles = (len(arr) - start) // window
                tiles.extend(arr[start:start + n_tiles * window].reshape(n_tiles, window))
            run = []
    if len(tiles) < n_windows:
        raise MiTasksError(
            f"the corpus yields only {len(tiles)} non-overlapping windows of {window} tokens but n_windows={n_windows} "
            "were asked: give more (or longer) texts, or lower n_windows or window"
        )
    pick = rng.choice(len(tiles), size=n_windows, replace=False)
    return np.stack([tiles[i] for i in pick]).astype(np.int64)


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
    macro_moments: "StateMoments | None" = None
    macro_parts: "list[StateMoments]" = field(default_factory=list)


def _backbone(model: torch.nn.Module) -> torch.nn.Module:
    if is_encoder_only(model.config):
        raise MiTasksError(
            f"{model.config.model_type} is an encoder-only (bidirectional) model; Information Emergence needs a "
            "causal decoder, where the last token aggregates the window and a lone token sees only itself"
        )
    return hidden_state_module(model)


def _iter_last_states(backbone: torch.nn.Module, ids: torch.Tensor, state_layers: list[int], num_layers: int,
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
    for s, last in _iter_last_states(backbone, ids, state_layers, num_layers, batch_size, desc, progress):
        if out is None:
            out = np.empty((len(state_layers), len(ids), last.shape[-1]), dtype=np.float32)
        out[:, s:s + last.shape[1]] = last
    assert out is not None
    return out


class StateMoments:
    """Weighted first and second moments of S states and the cross moments of ``pairs`` (j, k).

    Rows are added in batches (:meth:`add`, states (S, B, D), numpy or torch) on the device the
    states are on: each batch's products run in float32 there and are accumulated in float64 sums
    taken around a fixed shift (the first batch's mean, against cancellation), so any number of
    rows costs O(S·D²) memory and a batch's work stays next to the model. Only :meth:`cov` and
    :meth:`cross` bring (D, D) matrices to the host.
    """

    def __init__(self, pairs: Sequence[tuple[int, int]]) -> None:
        self.pairs = [(int(j), int(k)) for j, k in pairs]
        self.n = 0.0
        self.shift: torch.Tensor | None = None
        self.s = self.m = self.c = torch.zeros(0, dtype=torch.float64)
        self._m32: torch.Tensor | None = None
        self._c32: torch.Tensor | None = None
        self._rows32 = 0

    def add(self, states: Any, weights: Any = None) -> None:
        """Add rows: ``states`` (S, B, D); ``weights`` (B,) non-negative (None: 1 per row)."""
        if isinstance(states, torch.Tensor):
            h = states.detach().to(torch.float64)
        else:  # a copy: inputs may be read-only memmaps
            h = torch.from_numpy(np.array(states, dtype=np.float64))
        if self.shift is None:
            self.shift = h.mean(1)
            S, D = self.shift.shape
            self.s = torch.zeros(S, D, dtype=torch.float64, device=h.device)
            self.m = torch.zeros(S, D, D, dtype=torch.float64, device=h.device)
            self.c = torch.zeros(len(self.pairs), D, D, dtype=torch.float64, device=h.device)
        y = h.to(self.shift.device) - self.shift[:, None]
        x = y.to(torch.float32)
        w_host = np.ones(h.shape[1]) if weights is None else np.asarray(weights, dtype=np.float64)
        w = torch.as_tensor(w_host).to(y.device)
        xw = x * w.to(torch.float32)[None, :, None]
        self.n += float(w_host.sum())  # counted on the host: no device sync per batch
        self.s += y.mul(w[None, :, None]).sum(1)
        if self._m32 is None:
            self._m32 = torch.zeros(self.m.shape, dtype=torch.float32, device=self.m.device)
            self._c32 = torch.zeros(self.c.shape, dtype=torch.float32, device=self.c.device)
        self._m32.baddbmm_(xw.transpose(1, 2), x)
        for p, (j, k) in enumerate(self.pairs):
            self._c32[p].addmm_(xw[j].T, x[k])
        self._rows32 += h.shape[1]
        if self._rows32 >= self.FLUSH_ROWS:
            self._flush()

    FLUSH_ROWS = 1024  # float32 partial sums of up to this many rows, then added to the float64 totals

    def _flush(self) -> None:
        if self._m32 is not None and self._rows32:
            self.m += self._m32.to(torch.float64)
            self.c += self._c32.to(torch.float64)
            self._m32.zero_()
            self._c32.zero_()
        self._rows32 = 0

    # numpy (single-threaded elementwise) rather than torch, whose thread pool stalls on a busy machine
    def cov(self, j: int) -> np.ndarray:
        """Covariance (D, D) of state j (normalised by the total weight), on the host."""
        self._flush()
        mu = self.s[j].cpu().numpy() / self.n
        return self.m[j].cpu().numpy() / self.n - np.outer(mu, mu)

    def cross(self, p: int) -> np.ndarray:
        """Cross-covariance (D, D) of pair p: rows state j, columns state k, on the host."""
        self._flush()
        j, k = self.pairs[p]
        return (self.c[p].cpu().numpy() / self.n
                - np.outer(self.s[j].cpu().numpy() / self.n, self.s[k].cpu().numpy() / self.n))

    @classmethod
    def merged(cls, parts: Sequence["StateMoments"]) -> "StateMoments":
        """The moments of the union of the rows of ``parts`` (same pairs), e.g. disjoint window samples.

        Each part's sums are moved to the first part's shift (x − b = (x − a) + (a − b)), then added,
        so moments of disjoint samples combine exactly (as if the rows had been added to one set).
        """
        parts = [p for p in parts if p.shift is not None]
        for p in parts:
            p._flush()
        if not parts:
            raise MiTasksError("no moments to merge: every part is empty")
        if any(p.pairs != parts[0].pairs for p in parts):
            raise MiTasksError("moments with different state pairs cannot be merged")
        out = cls(parts[0].pairs)
        out.shift = parts[0].shift.clone()
        out.s, out.m, out.c = torch.zeros_like(parts[0].s), torch.zeros_like(parts[0].m), torch.zeros_like(parts[0].c)
        dev = out.shift.device
        for p in parts:
            p_s, p_m, p_c, p_shift = p.s.to(dev), p.m.to(dev), p.c.to(dev), p.shift.to(dev)
            d = p_shift - out.shift  # (S, D): a part's row y = x − p.shift becomes x − out.shift = y + d
            n = p.n
            out.n += n
            out.s += p_s + n * d
            out.m += p_m + p_s[:, :, None] * d[:, None, :] + d[:, :, None] * p_s[:, None, :] \
                + n * d[:, :, None] * d[:, None, :]
            for q, (j, k) in enumerate(p.pairs):
                out.c[q] += p_c[q] + torch.outer(p_s[j], d[k]) + torch.outer(d[j], p_s[k]) + n * torch.outer(d[j], d[k])
        return out

    @classmethod
    def of_arrays(cls, states: np.ndarray, pairs: Sequence[tuple[int, int]], weights: np.ndarray | None = None,
                  chunk: int = 1024) -> "StateMoments":
        """Moments of an (S, N, D) array (rows with weight 0 are skipped), added ``chunk`` rows at a time."""
        mom = cls(pairs)
        rows = np.arange(states.shape[1]) if weights is None else np.flatnonzero(weights)
        for a in range(0, len(rows), chunk):
            r = rows[a:a + chunk]
            mom.add(states[:, r], None if weights is None else weights[r])
        return mom


def _with_prefix(prefix: list[int], rows: np.ndarray) -> torch.Tensor:
    """(N, len(prefix) + T) input ids: ``prefix`` before every row of the (N, T) token ids."""
    pre = torch.tensor(prefix, dtype=torch.long)
    return torch.cat([pre.expand(len(rows), len(prefix)), torch.from_numpy(np.asarray(rows)).long()], dim=1)


def _micro_states(backbone: torch.nn.Module, windows: np.ndarray, prefix: list[int], layers: list[int],
                  num_layers: int, batch_size: int, progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """States (S, U, D) of each unique token id of ``windows`` fed alone (after ``prefix``), and the (N, T) index."""
    uniq, index = np.unique(windows, return_inverse=True)
    micro = _run_last_states(backbone, _with_prefix(prefix, uniq[:, None]), layers, num_layers, batch_size,
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
    backbone = _backbone(model)
    num_layers = model_num_layers(model)
    layers = [parse_layers(int(l), num_layers)[0] for l in state_layers]
    prefix = bos_prefix(tokenizer, bos)
    t0 = time.perf_counter()
    macro_ids = _with_prefix(prefix, windows)
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
        for s, last in _iter_last_states(backbone, macro_ids, layers, num_layers, batch_size, "IE macro pass",
                                         progress, keep_on_device=True):
            a, end = s, s + last.shape[1]
            while a < end:  # split the batch where a block ends
                b = min(end, (a // size + 1) * size)
                parts[a // size].add(last[:, a - s:b - s])
                a = b
        moments = parts[0] if part_size is None else None  # blocks: merge what you need (StateMoments.merged)
    t1 = time.perf_counter()
    micro, index = _micro_states(backbone, windows, prefix, layers, num_layers, micro_batch_size, progress)
    t2 = time.perf_counter()
    return EmergenceStates(macro=macro, micro=micro, micro_index=index,
                           state_layers=layers, num_layers=num_layers,
                           timings={"macro_forward_s": t1 - t0, "micro_forward_s": t2 - t1,
                                    "n_unique_tokens": float(micro.shape[1])}, macro_moments=moments,
                           macro_parts=parts if part_size is not None else [])


@dataclass
class EmergenceResult:
    """Per-layer IE (bits) with its macro and micro terms, and the settings that produced them."""

    layers: list[dict[str, float]]
    meta: dict[str, Any]

    @property
    def mean_ie(self) -> float:
        return float(np.mean([r["ie_bits"] for r in self.layers]))

    def to_dict(self) -> dict[str, Any]:
        return {"layers": [dict(r) for r in self.layers], "mean_ie_bits": self.mean_ie, "meta": dict(self.meta)}

    def table(self) -> str:
        head = f"{'layer':>5} {'depth':>6} {'ie_bits':>8} {'mi_macro':>9} {'mi_micro':>9}"
        rows = [f"{r['layer']:>5d} {r['depth']:>6.3f} {r['ie_bits']:>8.3f} {r['mi_macro_bits']:>9.3f} "
                f"{r['mi_micro_bits']:>9.3f}" for r in self.layers]
        return "\n".join([head, *rows, f"mean IE {self.mean_ie:.3f} bits over {len(self.layers)} layers"])


def _gaussian_settings(proj_dim: int | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(kwargs) - set(GAUSSIAN_KEYS))
    if unknown:
        raise MiTasksError(f"estimator settings {unknown} do not apply to method 'gaussian' (it takes "
                           f"{', '.join(GAUSSIAN_KEYS)}); the critic settings belong to the neural methods")
    est: dict[str, Any] = {"method": "gaussian", "proj_dim": proj_dim, "projection": IE_PROJECTION,
                           "n_projections": 16, "ridge": IE_RIDGE, "bias_correction": True}
    est.update(kwargs)
    est["definition"] = GAUSSIAN_DEFINITION
    return est


def _pair_bits(mom: StateMoments, est: dict[str, Any]) -> list[float]:
    """Gaussian MI (bits) of every pair (j, k) of ``mom`` (x = state k, y = state j); PCA fitted once per state."""
    states = sorted({i for pair in mom.pairs for i in pair})
    covs = {j: mom.cov(j) for j in states}
    pca = ({j: standardized_projection(covs[j], est["proj_dim"], "pca") for j in states}
           if est["projection"] == "pca" else None)
    return [gaussian_mi_from_cov(covs[k], covs[j], mom.cross(p).T, mom.n, proj_dim=est["proj_dim"],
                                 projection=est["projection"], n_projections=est["n_projections"], ridge=est["ridge"],
                                 bias_correction=est["bias_correction"],
                                 frames=None if pca is None else [(pca[k], pca[j])]).bits
            for p, (j, k) in enumerate(mom.pairs)]


def _micro_moments(flat: np.ndarray, index: np.ndarray, pairs: list[tuple[int, int]],
                   micro_mode: str) -> list[StateMoments]:
    """Moments of the micro states weighted by token counts: all N·T positions pooled, or one set per position."""
    cols = [index.ravel()] if micro_mode == "pooled" else [index[:, t] for t in range(index.shape[1])]
    return [StateMoments.of_arrays(flat, pairs, np.bincount(c, minlength=flat.shape[1]).astype(np.float64))
            for c in cols]


def _gaussian_result(macro: StateMoments, micro: list[StateMoments], labels: list[int], L: int, T: int,
                     micro_mode: str, est: dict[str, Any], seed: int) -> EmergenceResult:
    t0 = time.perf_counter()
    mac = _pair_bits(macro, est)
    mic = np.mean([_pair_bits(m, est) for m in micro], axis=0)
    out = []
    for (j, _), a, b in zip(macro.pairs, mac, mic):
        out.append({"layer": labels[j], "depth": normalized_depth(labels[j], L), "ie_bits": float(a - b),
                    "mi_macro_bits": float(a), "mi_micro_bits": float(b)})
    meta = {"window": T, "n_windows": int(round(macro.n)), "micro_mode": micro_mode, "estimator": est,
            "mi_definition": est["definition"], "n_micro_positions": int(round(micro[0].n)) * len(micro),
            "num_layers": L, "seed": seed, "timings": {"estimator_s": time.perf_counter() - t0}}
    return EmergenceResult(layers=out, meta=meta)


def emergence_from_states(macro: Any, micro: Any, *, micro_index: Any = None, layers: Sequence[int] | None = None,
                          num_layers: int | None = None, micro_mode: str = "pooled", method: str = "gaussian",
                          proj_dim: int | None = IE_PROJ_DIM, steps: int = 300, seed: int = 0, progress: bool = True,
                          estimator_kwargs: dict[str, Any] | None = None) -> EmergenceResult:
    """IE from plain arrays. ``macro`` (S, N, D): states at S state indices ``layers`` (default 0..S−1).

    ``micro`` is (S, N, T, D), or (S, U, D) unique-token states with ``micro_index`` (N, T) into U.
    IE is computed for every l in ``layers`` whose l+1 is also in ``layers``; ``num_layers``
    (default max(layers)) sets the depth l/L. ``method="gaussian"`` (default) takes
    ``estimator_kwargs`` ``projection``, ``n_projections``, ``ridge``, ``bias_correction``; its
    pooled micro term uses all N·T positions. The neural methods train ``steps`` per estimate;
    their pooled micro term uses one seeded random position per window (same N and split as the
    macro term).
    """
    if micro_mode not in MICRO_MODES:
        raise MiTasksError(f"unknown micro mode {micro_mode!r}: use one of {', '.join(MICRO_MODES)}")
    if method not in METHODS:
        raise MiTasksError(f"unknown MI method {method!r}: use one of {', '.join(METHODS)}")
    macro = np.asarray(macro, dtype=np.float32)
    micro = np.asarray(micro, dtype=np.float32)
    if macro.ndim != 3:
        raise MiTasksError(f"macro must be (layers, N, D), got shape {macro.shape}")
    S, N, _ = macro.shape
    if micro_index is None:
        if micro.ndim != 4 or micro.shape[:2] != (S, N):
            raise MiTasksError(f"micro must be (layers, N, T, D) matching macro {macro.shape}, got {micro.shape}")
        T = micro.shape[2]
        flat = micro.reshape(S, N * T, micro.shape[3])
        index = np.arange(N * T).reshape(N, T)
    else:
        index = np.asarray(micro_index)
        if micro.ndim != 3 or micro.shape[0] != S or index.ndim != 2 or index.shape[0] != N:
            raise MiTasksError(f"with micro_index (N, T), micro must be (layers, U, D); got micro {micro.shape}, "
                               f"index {index.shape}, macro {macro.shape}")
        if index.min() < 0 or index.max() >= micro.shape[1]:
            raise MiTasksError("micro_index points outside the micro states")
        T, flat = index.shape[1], micro
    if not (np.isfinite(macro).all() and np.isfinite(flat).all()):
        raise MiTasksError("states contain NaN or inf; recompute them in float32")
    labels = list(range(S)) if layers is None else [int(l) for l in layers]
    if len(labels) != S:
        raise MiTasksError(f"layers names {len(labels)} states but macro holds {S}")
    L = int(num_layers) if num_layers is not None else max(labels)
    pairs = [(j, labels.index(l + 1)) for j, l in enumerate(labels) if l + 1 in labels]
    if not pairs:
        raise MiTasksError(f"IE needs consecutive states l and l+1; layers {labels} hold no such pair")
    if method == "gaussian":
        est = _gaussian_settings(proj_dim, dict(estimator_kwargs or {}))
        return _gaussian_result(StateMoments.of_arrays(macro, pairs), _micro_moments(flat, index, pairs, micro_mode),
                                labels, L, T, micro_mode, est, seed)
    est = dict(method=method, proj_dim=proj_dim, steps=steps, seed=seed, **(estimator_kwargs or {}))
    positions = np.random.default_rng(seed).integers(0, T, size=N)
    rows_pooled = index[np.arange(N), positions]
    out, t_est = [], time.perf_counter()
    for j, k in tqdm(pairs, desc="IE estimators", unit="layer", disable=not progress, leave=False):
        mi_macro = estimate_mi(macro[k], macro[j], **est).bits
        if micro_mode == "pooled":
            mi_micro = estimate_mi(flat[k][rows_pooled], flat[j][rows_pooled], **est).bits
        else:
            mi_micro = float(np.mean([estimate_mi(flat[k][index[:, t]], flat[j][index[:, t]], **est).bits
                                      for t in range(T)]))
        l = labels[j]
        out.append({"layer": l, "depth": normalized_depth(l, L), "ie_bits": mi_macro - mi_micro,
                    "mi_macro_bits": mi_macro, "mi_micro_bits": mi_micro})
    definition = (f"{method} estimate with a trained critic on states projected to proj_dim={proj_dim} "
                  + ("(full batch, maximum over training: biased upward)" if method == "mine_paper"
                     else "(held-out bound)"))
    meta = {"window": T, "n_windows": N, "micro_mode": micro_mode, "estimator": est, "mi_definition": definition,
            "num_layers": L, "seed": seed, "timings": {"estimator_s": time.perf_counter() - t_est}}
    return EmergenceResult(layers=out, meta=meta)


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
    critics for ``mi_steps`` (:func:`emergence_from_states`). The old keywords ``method``,
    ``steps`` and ``estimator_kwargs={"ridge": ...}`` still work, with a DeprecationWarning, for one release.
    """

    method = renamed_attribute("method", "mi_estimator")
    steps = renamed_attribute("steps", "mi_steps")

    @renamed_keywords(method="mi_estimator", steps="mi_steps")
    def __init__(self, window: int = 8, n_windows: int = IE_N_WINDOWS, layers: LayerSpec = "all",
                 proj_dim: int | None = IE_PROJ_DIM, mi_steps: int = 300, mi_estimator: str = "gaussian",
                 batch_size: int = 32, micro_mode: str = "pooled",
                 bos: bool | str = "auto", seed: int = 0, progress: bool = True,
                 estimator_kwargs: dict[str, Any] | None = None, mi_ridge: float | None = None) -> None:
        if mi_estimator not in METHODS:
            raise MiTasksError(f"unknown MI method {mi_estimator!r}: use one of {', '.join(METHODS)}")
        if micro_mode not in MICRO_MODES:
            raise MiTasksError(f"unknown micro mode {micro_mode!r}: use one of {', '.join(MICRO_MODES)}")
        if batch_size < 1:
            raise MiTasksError(f"batch_size must be >= 1, got {batch_size}")
        self.window, self.n_windows, self.layers = window, n_windows, layers
        self.proj_dim, self.mi_steps, self.mi_estimator, self.batch_size = proj_dim, mi_steps, mi_estimator, batch_size
        self.micro_mode, self.bos, self.seed, self.progress = micro_mode, bos, seed, progress
        self.estimator_kwargs = dict(estimator_kwargs or {})
        if "ridge" in self.estimator_kwargs:  # its old place: renamed_keywords' warning, for a dict entry
            if mi_ridge is not None:
                raise MiTasksError("EmergenceProbe: give mi_ridge= only (estimator_kwargs['ridge'] is its old place)")
            warnings.warn("EmergenceProbe: estimator_kwargs={'ridge': ...} is deprecated and goes in the next "
                          "release; use 'mi_ridge' (the name task YAMLs use)", DeprecationWarning, stacklevel=3)
            mi_ridge = self.estimator_kwargs.pop("ridge")
        self.mi_ridge = IE_RIDGE if mi_ridge is None else float(mi_ridge)
        if mi_estimator == "gaussian":  # the Gaussian MI reads its noise from the estimator settings
            self.estimator_kwargs = {"ridge": self.mi_ridge, **self.estimator_kwargs}
            _gaussian_settings(proj_dim, self.estimator_kwargs)  # refuse critic settings early

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
        _backbone(model)  # refuse encoders and bad layer specs before tokenizing a corpus
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
            est = _gaussian_settings(self.proj_dim, self.estimator_kwargs)
            assert st.macro_moments is not None
            res = _gaussian_result(st.macro_moments, _micro_moments(st.micro, st.micro_index, pairs, self.micro_mode),
                                   state_layers, num_layers, st.micro_index.shape[1], self.micro_mode, est, self.seed)
        else:
            st = collect_states(model, tokenizer, windows, state_layers, bos=self.bos, batch_size=self.batch_size,
                                progress=self.progress)
            res = emergence_from_states(st.macro, st.micro, micro_index=st.micro_index, layers=state_layers,
                                        num_layers=num_layers, micro_mode=self.micro_mode, method=self.mi_estimator,
                                        proj_dim=self.proj_dim, steps=self.mi_steps, seed=self.seed,
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
        micro = [_micro_moments(st.micro, st.micro_index[a:a + size], pairs, self.micro_mode)
                 for a in range(0, len(windows), size)]
        return EmergenceParts(macro=st.macro_parts, micro=micro, state_layers=state_layers, num_layers=num_layers,
                              window=int(np.asarray(windows).shape[1]), micro_mode=self.micro_mode,
                              estimator=_gaussian_settings(self.proj_dim, self.estimator_kwargs), seed=self.seed,
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
        backbone = _backbone(model)
        num_layers = model_num_layers(model)
        ie_layers, state_layers, pairs = self._states_and_pairs(num_layers)
        prefix = bos_prefix(tokenizer, self.bos)
        ids = _with_prefix(prefix, seqs)
        macro = {t: StateMoments(pairs) for t in lens}
        t0 = time.perf_counter()
        for _, st in _iter_last_states(backbone, ids, state_layers, num_layers, self.batch_size, "IE prefix pass",
                                       self.progress, positions=[len(prefix) + t - 1 for t in lens],
                                       keep_on_device=True):
            for i, t in enumerate(lens):
                macro[t].add(st[:, :, i])
        micro, index = _micro_states(backbone, seqs, prefix, state_layers, num_layers, 256, self.progress)
        seconds = time.perf_counter() - t0
        est = _gaussian_settings(self.proj_dim, self.estimator_kwargs)
        out = {}
        for t in lens:
            res = _gaussian_result(macro[t], _micro_moments(micro, index[:, :t], pairs, self.micro_mode),
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
        res = _gaussian_result(macro, micro, self.state_layers, self.num_layers, self.window, self.micro_mode,
                               self.estimator, self.seed)
        res.meta["blocks"] = idx
        return res
