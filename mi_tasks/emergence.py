"""Information Emergence (IE) per layer: how much more a block's macro state carries forward than its micro states.

SPEC §3, after "Quantifying Semantic Emergence in Language Models" (Chen et al., ACL 2025):

    IE(l) = MI(macro_{l+1}; macro_l) − (1/T)·Σ_t MI(micro_{t,l+1}; micro_{t,l})

over windows of T tokens. macro_l = hidden state (index l, 0 = embeddings) of the window's last
token, read from one forward pass per batch of windows that yields every layer; micro_{t,l} =
state of token t fed to the model alone. MI is estimated across windows with
:func:`mi_tasks.mi_estimators.estimate_mi` on a held-out split (never the max over training).

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
  the same expected value; one estimate on N pairs (one random position per window, seeded)
  estimates their mean with the same sample size, split and critic as the macro term, so both
  terms carry the same estimator bias and IE costs 2 estimates per layer instead of T+1.
  ``micro="per_position"`` runs the T estimates and averages them (use it for windows whose
  positions differ in kind, e.g. prompts that all start a sentence).
- Encoder-only (bidirectional) models are refused: the macro/micro Markov picture needs a causal
  model where the last token aggregates the window and a lone token sees only itself.

Caveat: macro and micro states are deterministic functions of discrete tokens, so their true MI
is the window's (or token's) entropy; a neural estimate measures how well a critic of bounded
capacity matches pairs from finite samples (InfoNCE cannot exceed log2 of its eval block). IE is
therefore comparable only across runs with the same window, n_windows and estimator settings.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .corpora import Corpus
from .errors import MiTasksError
from .extraction import check_texts, model_num_layers
from .layers import LayerSpec, normalized_depth, parse_layers
from .mi_estimators import METHODS, estimate_mi
from .modeling import is_encoder_only

MICRO_MODES = ("pooled", "per_position")


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
    """States for IE: ``macro`` (S, N, D); ``micro`` (S, U, D) for the unique ids, ``micro_index`` (N, T) into U."""

    macro: np.ndarray
    micro: np.ndarray
    micro_index: np.ndarray
    state_layers: list[int]
    num_layers: int
    timings: dict[str, float] = field(default_factory=dict)


def _backbone(model: torch.nn.Module) -> torch.nn.Module:
    if is_encoder_only(model.config):
        raise MiTasksError(
            f"{model.config.model_type} is an encoder-only (bidirectional) model; Information Emergence needs a "
            "causal decoder, where the last token aggregates the window and a lone token sees only itself"
        )
    return getattr(model, "base_model", model)


def _run_last_states(backbone: torch.nn.Module, ids: torch.Tensor, state_layers: list[int], num_layers: int,
                     batch_size: int, desc: str, progress: bool) -> np.ndarray:
    """Last-position states (S, len(ids), D) float32 of equal-length sequences, one forward per batch."""
    try:
        device = next(backbone.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    out: np.ndarray | None = None
    bar = tqdm(total=len(ids), desc=desc, unit="seq", disable=not progress, leave=False)
    try:
        for s in range(0, len(ids), batch_size):
            chunk = ids[s:s + batch_size].to(device)
            with torch.inference_mode():
                try:
                    res = backbone(input_ids=chunk, attention_mask=torch.ones_like(chunk), output_hidden_states=True)
                except TypeError as e:
                    raise MiTasksError(f"{type(backbone).__name__} does not accept output_hidden_states: "
                                       "load a Hugging Face causal LM") from e
                hs = getattr(res, "hidden_states", None)
                if hs is None or len(hs) != num_layers + 1:
                    got = "no hidden states" if hs is None else f"{len(hs)} hidden states"
                    raise MiTasksError(f"the model returned {got}; expected {num_layers + 1} "
                                       "(embeddings + one per block): check the model class")
                last = torch.stack([hs[l][:, -1, :] for l in state_layers]).float().cpu().numpy()
            if not np.isfinite(last).all():
                raise MiTasksError("hidden states contain NaN or inf; reload the model with dtype='float32'")
            if out is None:
                out = np.empty((len(state_layers), len(ids), last.shape[-1]), dtype=np.float32)
            out[:, s:s + len(chunk)] = last
            bar.update(len(chunk))
    finally:
        bar.close()
    assert out is not None
    return out


def collect_states(model: torch.nn.Module, tokenizer: Any, windows: np.ndarray, state_layers: Sequence[int],
                   *, bos: bool | str = "auto", batch_size: int = 32, micro_batch_size: int = 256,
                   progress: bool = True) -> EmergenceStates:
    """Macro states of the windows and micro states of their unique token ids at ``state_layers``."""
    windows = np.asarray(windows)
    if windows.ndim != 2 or windows.shape[0] < 1 or windows.shape[1] < 2 or not np.issubdtype(windows.dtype, np.integer):
        raise MiTasksError(f"windows must be an integer array (N, T) with T >= 2, got {windows.dtype} {windows.shape}")
    backbone = _backbone(model)
    num_layers = model_num_layers(model)
    layers = [parse_layers(int(l), num_layers)[0] for l in state_layers]
    prefix = bos_prefix(tokenizer, bos)
    pre = torch.tensor(prefix, dtype=torch.long)
    t0 = time.perf_counter()
    macro_ids = torch.cat([pre.expand(len(windows), len(prefix)), torch.from_numpy(windows).long()], dim=1)
    macro = _run_last_states(backbone, macro_ids, layers, num_layers, batch_size, "IE macro pass", progress)
    t1 = time.perf_counter()
    uniq, index = np.unique(windows, return_inverse=True)
    micro_ids = torch.cat([pre.expand(len(uniq), len(prefix)), torch.from_numpy(uniq).long()[:, None]], dim=1)
    micro = _run_last_states(backbone, micro_ids, layers, num_layers, micro_batch_size, "IE micro pass", progress)
    t2 = time.perf_counter()
    return EmergenceStates(macro=macro, micro=micro, micro_index=index.reshape(windows.shape).astype(np.int64),
                           state_layers=layers, num_layers=num_layers,
                           timings={"macro_forward_s": t1 - t0, "micro_forward_s": t2 - t1,
                                    "n_unique_tokens": float(len(uniq))})


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


def emergence_from_states(macro: Any, micro: Any, *, micro_index: Any = None, layers: Sequence[int] | None = None,
                          num_layers: int | None = None, micro_mode: str = "pooled", method: str = "infonce",
                          proj_dim: int | None = 32, steps: int = 300, seed: int = 0, progress: bool = True,
                          estimator_kwargs: dict[str, Any] | None = None) -> EmergenceResult:
    """IE from plain arrays. ``macro`` (S, N, D): states at S state indices ``layers`` (default 0..S−1).

    ``micro`` is (S, N, T, D), or (S, U, D) unique-token states with ``micro_index`` (N, T) into U.
    IE is computed for every l in ``layers`` whose l+1 is also in ``layers``; ``num_layers``
    (default max(layers)) sets the depth l/L.
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
    meta = {"window": T, "n_windows": N, "micro_mode": micro_mode, "estimator": est, "num_layers": L,
            "seed": seed, "timings": {"estimator_s": time.perf_counter() - t_est}}
    return EmergenceResult(layers=out, meta=meta)


class EmergenceProbe:
    """Information Emergence of a causal LM, per layer, on windows of a corpus.

    ``EmergenceProbe(window=8, n_windows=1024).score(model, tokenizer, texts)`` samples windows
    (:func:`make_windows`), runs one macro pass over them and one micro pass over their unique
    token ids (:func:`collect_states`), and estimates IE for every selected layer l < L
    (:func:`emergence_from_states`). ``layers`` selects the l's (``all`` = 0..L−1).
    """

    def __init__(self, window: int = 8, n_windows: int = 1024, layers: LayerSpec = "all", proj_dim: int | None = 32,
                 steps: int = 300, method: str = "infonce", batch_size: int = 32, micro_mode: str = "pooled",
                 bos: bool | str = "auto", seed: int = 0, progress: bool = True,
                 estimator_kwargs: dict[str, Any] | None = None) -> None:
        if method not in METHODS:
            raise MiTasksError(f"unknown MI method {method!r}: use one of {', '.join(METHODS)}")
        if micro_mode not in MICRO_MODES:
            raise MiTasksError(f"unknown micro mode {micro_mode!r}: use one of {', '.join(MICRO_MODES)}")
        if batch_size < 1:
            raise MiTasksError(f"batch_size must be >= 1, got {batch_size}")
        self.window, self.n_windows, self.layers = window, n_windows, layers
        self.proj_dim, self.steps, self.method, self.batch_size = proj_dim, steps, method, batch_size
        self.micro_mode, self.bos, self.seed, self.progress = micro_mode, bos, seed, progress
        self.estimator_kwargs = dict(estimator_kwargs or {})

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
        ie_layers = self.ie_layers(num_layers)
        state_layers = sorted(set(ie_layers) | {l + 1 for l in ie_layers})
        st = collect_states(model, tokenizer, windows, state_layers, bos=self.bos, batch_size=self.batch_size,
                            progress=self.progress)
        res = emergence_from_states(st.macro, st.micro, micro_index=st.micro_index, layers=state_layers,
                                    num_layers=num_layers, micro_mode=self.micro_mode, method=self.method,
                                    proj_dim=self.proj_dim, steps=self.steps, seed=self.seed,
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
