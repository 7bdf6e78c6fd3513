"""Load a Hugging Face model for hidden-state reading, with the attention its architecture needs.

Encoder-only models (BERT and kin) must see bidirectional attention; loading them through a
causal-LM class would silently give them a causal mask. We therefore load the bare backbone
(``AutoModel``), which keeps each architecture's own attention, and refuse configurations that
would make an encoder causal.
"""
from __future__ import annotations

import logging
import os
import re
from typing import Any

import torch

from .devices import check_device
from ..errors import MiTasksError, translate_errors

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
          "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}


def cpu_has_fast_bf16() -> bool:
    """True where the CPU runs bf16 matmuls natively (Intel AMX or AVX512-BF16)."""
    cpu = getattr(torch, "cpu", None)
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        fn = getattr(cpu, probe, None)
        try:
            if fn is not None and fn():
                return True
        except Exception:  # probes are private; a change in torch must not break loading
            continue
    return False


def resolve_dtype(dtype: str | torch.dtype | None, device: str | torch.device = "cpu") -> torch.dtype:
    """``auto`` picks bf16 where the hardware is fast at it (AMX CPUs, bf16 GPUs), else float32."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None or dtype == "auto":
        dev = torch.device(device)
        if dev.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if dev.type == "cpu" and cpu_has_fast_bf16() else torch.float32
    key = str(dtype).replace("torch.", "").lower()
    if key not in DTYPES:
        raise MiTasksError(f"unknown dtype {dtype!r}: use auto, float32, bfloat16 or float16")
    return DTYPES[key]


def check_dtype_name(dtype: Any, where: str = "dtype") -> None:
    """Refuse, before any loading, a dtype that is neither ``auto`` nor a torch dtype's name."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return
    name = str(dtype).strip().removeprefix("torch.")
    if name == "auto" or name.lower() in DTYPES or isinstance(getattr(torch, name, None), torch.dtype):
        return
    raise MiTasksError(f"{where} {dtype!r} is not a torch dtype: use auto, float32, bfloat16 or float16")


LOAD_FIX = ("pass a folder that save_pretrained wrote, complete (config.json, tokenizer files and whole weights: "
            "model.safetensors or pytorch_model.bin), or a reachable hub id")


def text_config(config: Any) -> Any:
    """The language part of a config (multimodal configs nest it; plain ones are it)."""
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def is_encoder_only(config: Any) -> bool:
    """True where the states mi-tasks reads come from a bidirectional encoder.

    That is a masked-LM architecture not configured as a decoder (BERT and kin), or an
    encoder-decoder model (T5, BART) or its encoder stack, whose encoder is what mi-tasks reads.
    """
    from transformers.models.auto.modeling_auto import (MODEL_FOR_MASKED_LM_MAPPING_NAMES,
                                                        MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES)

    cfg = text_config(config)
    if getattr(cfg, "is_encoder_decoder", False):
        return True
    if cfg.model_type in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES and not getattr(cfg, "is_decoder", False):
        return True  # the encoder stack of a seq2seq model
    return cfg.model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES


def _causal_types() -> set[str]:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)


def has_causal_lm_class(config: Any) -> bool:
    """Whether ``AutoModelForCausalLM`` can load this config (a known causal type, or remote code that maps one)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    auto_map = getattr(config, "auto_map", None) or {}
    if "AutoModelForCausalLM" in auto_map:
        return True
    model_type = getattr(config, "model_type", None)
    return model_type in _causal_types() or model_type not in CONFIG_MAPPING_NAMES


def hidden_state_module(model: torch.nn.Module) -> torch.nn.Module:
    """The module whose forward gives the hidden states mi-tasks reads, without an LM head's cost.

    Encoder-decoder models (T5, BART): their encoder stack (bidirectional). Others: the bare
    backbone under a task head (``base_model``), or the model itself.
    """
    if getattr(model.config, "is_encoder_decoder", False) and hasattr(model, "get_encoder"):
        return model.get_encoder()
    base = getattr(model, "base_model", model)
    inner = getattr(model, "model", None)
    if base is model and isinstance(inner, torch.nn.Module) and hasattr(inner, "config"):
        return inner  # a head whose base_model_prefix names no attribute (Gemma 3 in transformers 4.57)
    return base


def _load_weights(name_or_path: str, config: Any, torch_dtype: torch.dtype, kw: dict[str, Any]) -> torch.nn.Module:
    """The backbone with every checkpoint weight in place, or an error: never a silently random layer.

    ``AutoModel`` reads most checkpoints; where it leaves weights unloaded (a causal-LM checkpoint
    whose head class names its backbone differently, as Gemma 3 under transformers 4.57) the
    causal-LM class loads it and its backbone is taken. Only pooler weights may be missing: mi-tasks
    never reads the pooler.
    """
    from transformers import AutoModel, AutoModelForCausalLM

    def missing(info: dict[str, Any]) -> list[str]:
        return [k for k in info.get("missing_keys", []) if "pooler" not in k]

    model, info = AutoModel.from_pretrained(name_or_path, config=config, dtype=torch_dtype,
                                            output_loading_info=True, **kw)
    lost = missing(info)
    if lost and has_causal_lm_class(config) and not getattr(config, "is_encoder_decoder", False):
        del model  # not two copies of the weights in memory while the causal-LM class loads them
        full, info = AutoModelForCausalLM.from_pretrained(name_or_path, config=config, dtype=torch_dtype,
                                                          output_loading_info=True, **kw)
        lost, model = missing(info), hidden_state_module(full)
    if lost:
        raise MiTasksError(f"{len(lost)} weights of {name_or_path} were not loaded (e.g. {lost[0]}): its hidden "
                           "states would come from random layers; check that the checkpoint matches its config")
    return model


def ensure_bidirectional(model: torch.nn.Module) -> None:
    """Give an encoder-only model its bidirectional attention back if a loader made it causal."""
    cfg = model.config
    if is_encoder_only(cfg) and getattr(cfg, "is_decoder", False):
        log.warning(
            "%s is an encoder-only architecture loaded as a decoder (causal mask); "
            "switching it back to bidirectional attention for hidden-state reading",
            cfg.model_type,
        )
        cfg.is_decoder = False
        for sub in model.modules():
            sub_cfg = getattr(sub, "config", None)
            if sub_cfg is not None and getattr(sub_cfg, "is_decoder", False):
                sub_cfg.is_decoder = False


_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


def check_model_source(name_or_path: str | os.PathLike, gguf_file: str | None = None) -> None:
    """Fail before loading, naming the missing path, where a model folder or GGUF file is not there.

    transformers answers a missing local path with a hub error built from it ("Repo id must be in
    the form ...", a URL under huggingface.co). A name that can only be a path (absolute, ``./``,
    ``~``, more than one ``/``) must exist; a folder must hold ``config.json`` or the named GGUF
    file. A name shaped like a hub id (``org/name``) that is no local folder is left to the hub.
    """
    name = os.path.expanduser(str(name_or_path))
    if not name.strip():
        raise MiTasksError("model path is empty: pass a model folder, a hub id or an alias (minilm, smollm2)")
    if os.path.isfile(name):
        if name.endswith(".gguf"):
            raise MiTasksError(f"model path {name!r} is a GGUF file: pass its folder and gguf_file="
                               f"{os.path.basename(name)!r}")
        raise MiTasksError(f"model path {name!r} is a file: pass the model's folder (with config.json)")
    if os.path.isdir(name):
        ggufs = sorted(f for f in os.listdir(name) if f.endswith(".gguf"))
        if gguf_file:
            target = gguf_file if os.path.isabs(gguf_file) else os.path.join(name, gguf_file)
            if not os.path.isfile(target):
                have = f"GGUF files there: {', '.join(ggufs)}" if ggufs else "the folder holds no .gguf file"
                raise MiTasksError(f"GGUF file {target!r} does not exist ({have}); check gguf_file=")
        elif not os.path.isfile(os.path.join(name, "config.json")):
            hint = (f"pass gguf_file= for one of its GGUF files ({', '.join(ggufs)})" if ggufs
                    else "pass the folder that save_pretrained wrote")
            raise MiTasksError(f"model folder {name!r} has no config.json: {hint}")
        return
    looks_like_path = (os.path.isabs(name) or name.startswith((".", "~")) or name.count("/") > 1
                       or os.path.sep != "/" and os.path.sep in name or not _HUB_ID.match(name))
    if looks_like_path:
        raise MiTasksError(f"model path {name!r} does not exist (looked in {os.path.abspath(name)!r}): "
                           "pass a model folder, a hub id (org/name) or an alias (minilm, smollm2)")


def load_config(name_or_path: str, **kw: Any) -> Any:
    """The model's config (``kw``: gguf_file, revision, trust_remote_code), its source checked first;
    a failure is one line naming the path and what to pass instead."""
    from transformers import AutoConfig

    check_model_source(name_or_path, kw.get("gguf_file"))
    try:
        return AutoConfig.from_pretrained(name_or_path, **kw)
    except (OSError, ValueError) as e:
        where = "" if os.path.isdir(name_or_path) else f" (no local folder {os.path.abspath(name_or_path)!r} either)"
        raise MiTasksError(
            f"cannot load a model config from {name_or_path!r}{where}: {e.__class__.__name__}: {str(e).splitlines()[0][:160]}; "
            "pass a local folder with config.json (or a GGUF file via gguf_file=), or a reachable hub id"
        ) from e


def load_model(
    name_or_path: str,
    *,
    gguf_file: str | None = None,
    dtype: str | torch.dtype | None = "auto",
    device: str | torch.device = "cpu",
    trust_remote_code: bool = False,
    revision: str | None = None,
) -> tuple[torch.nn.Module, Any]:
    """Load (backbone model, tokenizer) ready for :class:`~mi_tasks.states.extraction.HiddenStateExtractor`."""
    from transformers import AutoTokenizer

    check_device(device, "device", "for load_model")
    kw: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if revision:
        kw["revision"] = revision
    if gguf_file:
        kw["gguf_file"] = gguf_file
    config = load_config(name_or_path, **kw)
    torch_dtype = resolve_dtype(dtype, device)
    encoder = is_encoder_only(config)
    if encoder and getattr(config, "is_decoder", False):
        config.is_decoder = False
    with translate_errors(f"cannot load model {str(name_or_path)!r}", LOAD_FIX):
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kw)
        model = _load_weights(name_or_path, config, torch_dtype, kw)
    if getattr(config, "is_encoder_decoder", False):
        log.info("%s is an encoder-decoder model: reading its encoder stack", config.model_type)
        model = hidden_state_module(model)
    model.to(device)
    model.eval()
    ensure_bidirectional(model)
    prepare_tokenizer(tokenizer)
    return model, tokenizer


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Batching needs a pad token; reuse EOS/UNK where the tokenizer has none (pads are masked out)."""
    if tokenizer.pad_token_id is None:
        for cand in (tokenizer.eos_token, tokenizer.unk_token, tokenizer.bos_token):
            if cand is not None:
                tokenizer.pad_token = cand
                break
        else:
            raise MiTasksError("the tokenizer has no pad, eos, unk or bos token to pad batches with; set tokenizer.pad_token")
    return tokenizer
