"""An MTEB encoder that embeds with any Hugging Face model at one chosen layer and pooling.

``mteb.evaluate(LayerEncoder(path, layer=3), tasks)`` scores the pooled hidden state of layer 3.
Texts go through :class:`~mi_tasks.states.extraction.HiddenStateExtractor` (one forward pass per batch,
bidirectional encoders, truncation warnings), so MTEB numbers and mi-tasks' information metrics
describe exactly the same vectors.

Where results are stored: mteb keeps results under ``<cache>/results/<name>/<revision>/``, and
under ``.../experiments/<experiment>/`` when the model metadata carries ``experiment_kwargs``.
The name is ``mi-tasks/<model folder or hub id>``; the revision is the model's revision (or
``local-<hash of the path and gguf file>`` for local folders, so two checkpoints with the same
folder name do not collide); the layer index (resolved, never negative), pooling,
normalisation and special-token handling go into ``experiment_kwargs``, so each variant of the
same model lands in its own ``experiments/layer_<i>__normalize_<b>__pooling_<p>`` folder.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from mteb.models.abs_encoder import AbsEncoder
from mteb.models.model_meta import ModelMeta

from .. import __version__
from ..errors import MiTasksError, translate_errors
from ..states.extraction import HiddenStateExtractor, model_num_layers
from ..states.layers import normalized_depth
from ..states.modeling import is_encoder_only, load_model, text_config
from ..states.settings import PassSettings
from .st_config import EncoderDefaults, encoder_defaults


class PooledStateCache:
    """Pooled states of every requested layer per text, computed once and shared by per-layer encoders.

    A layer sweep builds one cache over all layers; each layer's encoder reads its slice, so every
    text goes through the model once however many layers are scored.
    """

    def __init__(self, extractor: HiddenStateExtractor) -> None:
        self.extractor = extractor
        self._states: dict[str, np.ndarray] = {}

    @property
    def layers(self) -> list[int]:
        return list(self.extractor.layers)

    def states(self, texts: Sequence[str], layer: int) -> np.ndarray:
        """(N, D) float32 pooled states of ``layer`` for ``texts``, running the model only on unseen texts."""
        if layer not in self.extractor.layers:
            raise MiTasksError(f"layer {layer} is not among the cached layers {self.extractor.layers}")
        missing = list(dict.fromkeys(t for t in texts if t not in self._states))
        if missing:
            states, _ = self.extractor.extract(missing)  # (n_layers, N, D)
            for j, t in enumerate(missing):
                self._states[t] = states[:, j]
        slot = self.extractor.layers.index(layer)
        if not texts:
            return np.zeros((0, self.extractor.hidden_size), dtype=np.float32)
        return np.stack([self._states[t][slot] for t in texts])

    def clear(self) -> None:
        self._states.clear()


def _fingerprint(path: str, gguf_file: str | None) -> str:
    key = f"{os.path.abspath(path) if os.path.exists(path) else path}|{gguf_file or ''}"
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def model_identity(model_name_or_path: str, revision: str | None = None,
                   gguf_file: str | None = None) -> tuple[str, str]:
    """(mteb name, revision) for a model path or hub id; see the module docstring."""
    base = str(model_name_or_path).rstrip("/\\")
    if os.path.exists(base):
        short = os.path.basename(os.path.abspath(base)) or "model"
        if short in ("model", "checkpoint") and os.path.basename(os.path.dirname(os.path.abspath(base))):
            short = f"{os.path.basename(os.path.dirname(os.path.abspath(base)))}_{short}"
    else:
        short = base.replace("/", "__")
    if gguf_file:
        short = f"{short}_{os.path.splitext(os.path.basename(gguf_file))[0]}"
    rev = revision or ("local-" + _fingerprint(base, gguf_file) if os.path.exists(base) else "main")
    return f"mi-tasks/{short.replace(' ', '_')}", rev


def encoder_defaults_for(path: str, load_kwargs: dict[str, Any]) -> tuple[EncoderDefaults, dict[str, Any]]:
    """The folder's encoder defaults (:mod:`mi_tasks.mteb.st_config`, the one rule) and the load keywords."""
    d = encoder_defaults(path) if os.path.isdir(path) else EncoderDefaults()
    return d, {"dtype": d.dtype, **load_kwargs}


def encoder_pass_settings(d: EncoderDefaults, model: torch.nn.Module, settings: Any, pooling: str | None,
                          include_special: bool | None, max_text_length: int | None) -> PassSettings:
    """The pass settings an encoder reads its states with.

    A keyword given wins; then ``settings`` (a task's, as :class:`~mi_tasks.settings.TaskSettings` or
    its pass settings), so an encoder given the settings a task uses reads that task's states; then the
    folder's defaults ``d``, whose length is capped at the model's positions.
    """
    if settings is not None and hasattr(settings, "pass_settings") and not isinstance(settings, PassSettings):
        settings = settings.pass_settings
    if settings is not None and not isinstance(settings, PassSettings):
        raise MiTasksError(f"settings must be TaskSettings or PassSettings, got {type(settings).__name__}")
    base = settings if settings is not None else PassSettings(pooling=d.pooling, include_special=d.include_special,
                                                               max_text_length=d.max_length)
    given = {k: v for k, v in (("pooling", pooling), ("include_special", include_special),
                               ("max_text_length", max_text_length)) if v is not None}
    limit = getattr(text_config(model.config), "max_position_embeddings", None)
    if settings is None and "max_text_length" not in given and isinstance(limit, int) and 1 < limit < base.max_text_length:
        given["max_text_length"] = limit
    return PassSettings.given(base, " for the MTEB encoder", **given)


class LayerEncoder(AbsEncoder):
    """Embeds texts with a Hugging Face model's pooled hidden state at ``layer``, for ``mteb.evaluate``.

    ``layer``: state index (0 = embeddings, L = last block; negatives count from the end).
    ``pooling``: mean (over non-special tokens unless ``include_special``), last or first.
    ``normalize``: L2-normalise embeddings (cosine and dot products then agree).
    ``max_text_length``: longer texts are truncated with a warning.
    ``include_special``: average CLS/SEP/BOS too, as sentence-transformers' mean pooling does.
    ``settings``: a task's settings (:class:`~mi_tasks.settings.TaskSettings` or its pass
    settings): the encoder then reads the states that task reads (keywords given still win).
    ``load_kwargs`` go to :func:`mi_tasks.states.modeling.load_model` (``gguf_file=``, ``dtype=``,
    ``device=``, ``revision=``, ``trust_remote_code=``).

    Settings left as None follow the model: where its folder holds a sentence-transformers
    configuration (``modules.json``), its pooling, normalisation, special-token handling and
    max_seq_length, in float32, so the last layer reproduces the model's own embeddings; elsewhere
    the pass settings' defaults (those of a task YAML: mean pooling without special tokens, 128
    tokens, capped at the model's positions), L2-normalised, ``dtype="auto"``. The rule lives in
    :mod:`mi_tasks.mteb.st_config`; ``describe()`` and the MTEB model metadata record what was used.
    """

    def __init__(
        self,
        model_name_or_path: str,
        layer: int = -1,
        pooling: str | None = None,
        normalize: bool | None = None,
        *,
        max_text_length: int | None = None,
        batch_size: int = 32,
        include_special: bool | None = None,
        settings: Any = None,
        progress: bool = False,
        model: torch.nn.Module | None = None,
        tokenizer: Any = None,
        cache: PooledStateCache | None = None,
        **load_kwargs: Any,
    ) -> None:
        if not isinstance(layer, (int, np.integer)) or isinstance(layer, bool):
            raise MiTasksError(f"layer must be one integer state index (negatives count from the end), got {layer!r}; "
                               "use mi_tasks.mteb.layer_sweep for several layers")
        self.model_name_or_path = str(model_name_or_path)
        d, self.load_kwargs = encoder_defaults_for(self.model_name_or_path, load_kwargs)
        self.defaults = d
        if cache is None:
            if model is None:
                model, tokenizer = load_model(d.model_folder or self.model_name_or_path, **self.load_kwargs)
            elif tokenizer is None:
                raise MiTasksError("LayerEncoder got a model without its tokenizer: pass tokenizer= too")
            n = model_num_layers(model)
            state = encoder_pass_settings(d, model, settings, pooling, include_special, max_text_length)
            if not -(n + 1) <= int(layer) <= n:
                raise MiTasksError(f"layer {layer} is out of range for a model with {n} layers "
                                   f"(states 0..{n}, or -1..-{n + 1} from the end)")
            extractor = HiddenStateExtractor(model, tokenizer, layers=[int(layer) % (n + 1)], pooling=state.pooling,
                                             max_text_length=state.max_text_length, batch_size=batch_size,
                                             include_special=state.include_special, progress=progress)
            cache = PooledStateCache(extractor)
        ex = cache.extractor
        n = ex.num_layers
        if not -(n + 1) <= int(layer) <= n:
            raise MiTasksError(f"layer {layer} is out of range for a model with {n} layers "
                               f"(states 0..{n}, or -1..-{n + 1} from the end)")
        self.layer = int(layer) % (n + 1)
        if self.layer not in ex.layers:
            raise MiTasksError(f"layer {self.layer} is not among the shared cache's layers {ex.layers}")
        self.pooling = ex.pooling
        self.normalize = d.normalize if normalize is None else bool(normalize)
        self.include_special = bool(ex.include_special)
        self.num_layers = n
        self.cache = cache
        self.model = ex.model
        self.tokenizer = ex.tokenizer
        self.model_prompts = None
        self.dtype = str(next(self.model.parameters()).dtype).replace("torch.", "")
        self.mteb_model_meta = self._meta()

    @property
    def depth(self) -> float:
        return normalized_depth(self.layer, self.num_layers)

    def _meta(self) -> ModelMeta:
        name, revision = model_identity(self.model_name_or_path, self.load_kwargs.get("revision"),
                                        self.load_kwargs.get("gguf_file"))
        cfg = text_config(self.model.config)
        experiment: dict[str, Any] = {"layer": self.layer, "pooling": self.pooling, "normalize": self.normalize}
        if self.include_special:
            experiment["include_special"] = True
        experiment["dtype"] = self.dtype
        experiment["num_layers"] = self.num_layers  # so stored results give the layer's depth
        return ModelMeta(
            loader=None,
            name=name,
            revision=revision,
            release_date=None,
            languages=None,
            n_parameters=sum(p.numel() for p in self.model.parameters()),
            memory_usage_mb=None,
            max_tokens=float(self.cache.extractor.max_text_length),
            embed_dim=int(cfg.hidden_size),
            license=None,
            open_weights=True,
            public_training_code=None,
            public_training_data=None,
            framework=["PyTorch"],
            reference=None,
            similarity_fn_name="cosine",
            use_instructions=False,
            training_datasets=None,
            adapted_from=self.model_name_or_path,
            experiment_kwargs=experiment,
            citation=None,
            contacts=None,
        )

    def describe(self) -> dict[str, Any]:
        """What this encoder embeds with, for reports."""
        return {"model": self.model_name_or_path, "layer": self.layer, "depth": self.depth,
                "num_layers": self.num_layers, "pooling": self.pooling, "normalize": self.normalize,
                "include_special": self.include_special, "max_length": int(self.cache.extractor.max_text_length),
                "dtype": self.dtype, "defaults_from": self.defaults.source,
                "ignored_st_modules": list(self.defaults.ignored_modules),
                "encoder_only": is_encoder_only(self.model.config),
                "mteb_name": self.mteb_model_meta.name, "mteb_revision": self.mteb_model_meta.revision,
                "mteb_experiment": self.mteb_model_meta.experiment_name, "mi_tasks_version": __version__}

    @translate_errors("LayerEncoder could not embed the texts it was given", "pass a list of non-empty strings")
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(N, D) float32 embeddings of ``texts`` (plain list in, array out)."""
        if isinstance(texts, str):
            raise MiTasksError("embed() takes a list of texts, not one string")
        texts = list(texts)
        vecs = self.cache.states(texts, self.layer) if texts else np.zeros((0, self.model.config.hidden_size), np.float32)
        if self.normalize and len(vecs):
            norms = np.linalg.norm(vecs, axis=1, keepdims=True)
            vecs = vecs / np.maximum(norms, 1e-12)
        return vecs.astype(np.float32, copy=False)

    def encode(
        self,
        inputs: Iterable[dict[str, Any]],
        *,
        task_metadata: Any = None,
        hf_split: str | None = None,
        hf_subset: str | None = None,
        prompt_type: Any = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """mteb's encoder protocol: a DataLoader of batches with a ``text`` column -> (N, D) array."""
        texts: list[str] = []
        for batch in inputs:
            if "text" not in batch:
                raise MiTasksError(f"LayerEncoder embeds text only; the task gave columns {sorted(batch)}")
            texts.extend(batch["text"])
        return self.embed(texts)
