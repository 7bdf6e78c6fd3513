"""Tiny randomly initialised models of many architecture families, built from configs in well under a second.

Each family is a transformers ``model_type`` with the smallest config that still exercises its
attention, positions and norms (2 blocks, width 32). Decoders get the BPE tokenizer of
``conftest`` (pad 0, bos 1, eos 2), encoders the WordPiece one ([PAD] 0, [CLS] 2, [SEP] 3). What
the tests check on each is in ``tests/states/test_architectures.py``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

# (model_type, kind, config overrides); kind: decoder | encoder | seq2seq
COMMON: dict[str, Any] = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                          "max_position_embeddings": 128}
DEC_IDS: dict[str, Any] = {"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
ENC_IDS: dict[str, Any] = {"pad_token_id": 0}

FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    # decoders
    "gpt2": ("decoder", {"n_embd": 32, "n_layer": 2, "n_head": 2, "n_positions": 128}),
    "llama": ("decoder", {**COMMON, "num_key_value_heads": 1}),
    "mistral": ("decoder", {**COMMON, "num_key_value_heads": 1, "sliding_window": None}),
    "mixtral": ("decoder", {**COMMON, "num_key_value_heads": 1, "num_local_experts": 4, "num_experts_per_tok": 2,
                            "sliding_window": None}),
    "qwen2": ("decoder", {**COMMON, "num_key_value_heads": 1}),
    "qwen3": ("decoder", {**COMMON, "num_key_value_heads": 1, "head_dim": 16}),
    "qwen3_moe": ("decoder", {**COMMON, "num_key_value_heads": 1, "head_dim": 16, "num_experts": 4,
                              "num_experts_per_tok": 2, "moe_intermediate_size": 32, "decoder_sparse_step": 1}),
    "gemma": ("decoder", {**COMMON, "num_key_value_heads": 1, "head_dim": 16}),
    "gemma2": ("decoder", {**COMMON, "num_key_value_heads": 1, "head_dim": 16, "sliding_window": 64}),
    "gemma3_text": ("decoder", {**COMMON, "num_key_value_heads": 1, "head_dim": 16, "sliding_window": 64}),
    "phi": ("decoder", {**COMMON}),
    "phi3": ("decoder", {**COMMON, "num_key_value_heads": 2}),
    "opt": ("decoder", {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "ffn_dim": 64,
                        "word_embed_proj_dim": 32, "max_position_embeddings": 128}),
    "gpt_neox": ("decoder", {**COMMON}),
    "falcon": ("decoder", {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "new_decoder_architecture": False,
                           "multi_query": True}),
    "bloom": ("decoder", {"hidden_size": 32, "n_layer": 2, "n_head": 2}),
    "olmo2": ("decoder", {**COMMON}),
    "stablelm": ("decoder", {**COMMON, "num_key_value_heads": 2}),
    "starcoder2": ("decoder", {**COMMON, "num_key_value_heads": 1, "sliding_window": None}),
    "granite": ("decoder", {**COMMON}),
    "cohere": ("decoder", {**COMMON}),
    "gptj": ("decoder", {"n_embd": 32, "n_layer": 2, "n_head": 2, "n_positions": 128, "rotary_dim": 8}),
    "mamba": ("decoder", {"hidden_size": 32, "num_hidden_layers": 2, "state_size": 8, "expand": 2, "conv_kernel": 4}),
    # encoders
    "bert": ("encoder", {**COMMON}),
    "roberta": ("encoder", {**COMMON, "max_position_embeddings": 130}),
    "xlm-roberta": ("encoder", {**COMMON, "max_position_embeddings": 130}),
    "distilbert": ("encoder", {"dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 64, "max_position_embeddings": 128}),
    "deberta-v2": ("encoder", {**COMMON}),
    "electra": ("encoder", {**COMMON, "embedding_size": 32}),
    "albert": ("encoder", {**COMMON, "embedding_size": 16}),
    "modernbert": ("encoder", {**COMMON, "global_attn_every_n_layers": 2, "local_attention": 16, "cls_token_id": 2,
                               "sep_token_id": 3}),
    "mpnet": ("encoder", {**COMMON, "max_position_embeddings": 130}),
    # encoder-decoder: mi-tasks reads the encoder stack
    "t5": ("seq2seq", {"d_model": 32, "d_ff": 64, "num_layers": 2, "num_heads": 2, "d_kv": 16,
                       "decoder_start_token_id": 0}),
}


def build(model_type: str, folder: Path, tokenizers: dict[str, Any]) -> str:
    """Save a tiny random ``model_type`` with its tokenizer under ``folder``; returns the folder."""
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

    kind, overrides = FAMILIES[model_type]
    tok = tokenizers["bert" if kind == "encoder" else "llama"]
    ids = ENC_IDS if kind == "encoder" else DEC_IDS
    cfg = AutoConfig.for_model(model_type, vocab_size=len(tok), **ids, **overrides)
    torch.manual_seed(0)
    cls = AutoModelForCausalLM if kind == "decoder" else AutoModel
    model = cls.from_config(cfg)
    out = folder / model_type
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)
