"""MI enhancement (paper 1): fine-tune a model to maximise token recoverability, last block frozen.

What is trained and what is read:
- A linear decoder head maps the pooled state E of ``layer`` to logits over the *train
  vocabulary* (the ids seen in the training corpus); the loss is binary cross-entropy against
  each text's multi-hot target of unique non-special token ids (the same targets as
  :meth:`mi_tasks.states.extraction.EncodedTexts.content_ids`).
- Trainable: transformer blocks 1..L-1 (``train_blocks=k``: only the k blocks just below the
  last, L-k..L-1, which skips the backward pass through the blocks under them). Frozen: the last
  block (paper: optimise θ1:L-1, freeze θL), the token/position embeddings (tied to the LM head in many decoders: changing them would
  change next-token prediction), the final norm and the LM head.
- ``layer=-1`` (default) reads the last state, i.e. the output of the frozen last block (after
  the final norm where the architecture has one). The gradient then flows *through* the frozen
  block into the trainable ones: the earlier blocks learn to hand the last block inputs from
  which its output keeps the tokens. That is the only reading under which freezing the last
  block matters, and it improves the state that downstream users embed with. ``layer=-2`` reads
  the input of the frozen block (the paper summary's "layer L-1" embedding); the last block then
  gets no gradient at all.

Checkpoints (trainable weights, head, optimiser, step, RNG state) go to
``output_dir/checkpoints/step_<n>.pt`` (the latest kept); a rerun with the same settings resumes
from the latest. The result is a standard Hugging Face checkpoint in ``output_dir``
(safetensors, tokenizer, README.md model card, ``enhance_result.json`` with the curves) that
``lm_eval --model hf --model_args pretrained=<output_dir>`` and
:class:`mi_tasks.mteb.LayerEncoder` load unchanged.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import __version__
from ..data.corpora import Corpus, load_corpus
from ..errors import MiTasksError
from ..states.extraction import HiddenStateExtractor, model_num_layers
from ..states.modeling import cpu_has_fast_bf16, hidden_state_module, is_encoder_only, load_config, prepare_tokenizer, resolve_dtype, text_config
from ..settings import TaskSettings
from ..states.pooling import pool
from .settings import ENHANCE_DEFAULTS, ENHANCE_TASK_SETTINGS, TrainingSettings

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
RESUME_KEYS = ("model", "corpus", "corpus_rows", "corpus_sha256", "eval_corpus_sha256", "lr", "head_lr",
               "batch_size", "max_text_length", "seed", "layer", "pooling", "weight_decay", "warmup_steps",
               "train_blocks")


@dataclass
class EnhanceResult:
    """Curves and paths of one enhancement run."""

    output_dir: str
    steps: int
    losses: list[dict[str, float]] = field(default_factory=list)  # {"step", "loss", "seconds"}
    eval_recall: list[dict[str, float]] = field(default_factory=list)  # {"step", "recall_at_k"}
    settings: dict[str, Any] = field(default_factory=dict)
    resumed_from: int = 0

    @property
    def checkpoint_dir(self) -> str:
        return str(Path(self.output_dir) / CHECKPOINTS)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "checkpoint_dir": self.checkpoint_dir}


def _load_trainable(path: str, dtype: str, load_kwargs: dict[str, Any]) -> tuple[torch.nn.Module, Any, bool]:
    """(full model in float32, tokenizer, encoder?) in the class lm-eval's ``--model hf`` loads back."""
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    kw = {k: v for k, v in load_kwargs.items() if k in ("gguf_file", "revision", "trust_remote_code") and v}
    config = load_config(path, **kw)
    if getattr(config, "is_encoder_decoder", False):
        raise MiTasksError(f"{config.model_type} is an encoder-decoder model; enhancement trains causal or masked models")
    encoder = is_encoder_only(config)
    if encoder:
        config.is_decoder = False
        arch = " ".join(getattr(config, "architectures", None) or [])
        cls = AutoModelForMaskedLM if "ForMaskedLM" in arch else AutoModel
    else:
        cls = AutoModelForCausalLM
    resolve_dtype(dtype)  # validates the name early
    tok = prepare_tokenizer(AutoTokenizer.from_pretrained(path, **kw))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = cls.from_pretrained(path, config=config, dtype=torch.float32, **kw)
    return model, tok, encoder


def _blocks(backbone: torch.nn.Module, n: int) -> torch.nn.ModuleList:
    """The backbone's list of transformer blocks (the ModuleList with one entry per layer)."""
    for _, mod in backbone.named_modules():
        if isinstance(mod, torch.nn.ModuleList) and len(mod) == n:
            return mod
    raise MiTasksError(f"cannot find the {n} transformer blocks of {type(backbone).__name__}; "
                       "enhancement supports standard Hugging Face decoder and encoder stacks")


def _autocast(dtype: str) -> contextlib.AbstractContextManager:
    want = resolve_dtype(dtype) if dtype != "auto" else (torch.bfloat16 if cpu_has_fast_bf16() else torch.float32)
    if want == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cpu", dtype=want)


class _Batcher:
    """Seeded order over the corpus, one fresh permutation per epoch; batch ``s`` depends on (seed, s) only."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            self._perms = {epoch: np.random.default_rng([self.seed, epoch]).permutation(self.n)}
        return self._perms[epoch]

    def batch(self, step: int) -> np.ndarray:
        start = step * self.batch_size
        return np.array([self._perm((start + j) // self.n)[(start + j) % self.n] for j in range(self.batch_size)])


class _Enhancer:
    """Holds the model, head and tokenised corpora; one instance per run."""

    def __init__(self, model: torch.nn.Module, tok: Any, layer: int, pooling: str, max_text_length: int) -> None:
        self.model = model
        self.backbone = hidden_state_module(model)
        self.extractor = HiddenStateExtractor(self.backbone, tok, layers=[layer], pooling=pooling,
                                              max_text_length=max_text_length, batch_size=8, progress=False)
        self.tok = self.extractor.tokenizer
        self.layer = self.extractor.layers[0]

    def freeze(self, train_blocks: int | None = None) -> list[str]:
        """Train blocks 1..L-1 (or the ``train_blocks`` just below the last); return the trainable names."""
        for p in self.model.parameters():
            p.requires_grad_(False)
        n = self.extractor.num_layers
        blocks = _blocks(self.backbone, n)
        first = 0 if train_blocks is None else n - 1 - train_blocks
        for b in blocks[first:-1]:
            for p in b.parameters():
                p.requires_grad_(True)
        return [k for k, p in self.model.named_parameters() if p.requires_grad]

    def pooled(self, enc: Any, idx: np.ndarray) -> torch.Tensor:
        """(B, D) pooled state of ``self.layer`` with gradients (the extractor's own batch pass)."""
        hs, attn, content = self.extractor.run_batch(enc, idx)
        return pool(hs[self.layer], attn, self.extractor.pooling, content)


def _targets(enc: Any, idx: np.ndarray, column: dict[int, int], width: int) -> torch.Tensor:
    y = torch.zeros(len(idx), width)
    for r, i in enumerate(idx):
        cols = [column[t] for t in enc.content_ids(i).tolist() if t in column]
        if cols:
            y[r, cols] = 1.0
    return y


def _recall(enh: _Enhancer, head: torch.nn.Linear, enc: Any, vocab: np.ndarray, autocast: Any) -> float:
    """Mean recall@k on a tokenised corpus: k = unique gold tokens; gold outside the head's vocabulary are misses."""
    was = enh.model.training
    enh.model.eval()
    hits, total = 0.0, 0
    with torch.no_grad():
        for idx in enh.extractor.batch_order(enc):
            with autocast:
                logits = head(enh.pooled(enc, idx).float()).float()
            for r, i in enumerate(idx):
                gold = enc.content_ids(i)
                k = len(gold)
                if k == 0:
                    continue
                top = vocab[torch.topk(logits[r], min(k, logits.shape[1])).indices.numpy()]
                hits += len(np.intersect1d(top, gold)) / k
                total += 1
    enh.model.train(was)
    return hits / max(total, 1)


def _plain_for_saving(model: torch.nn.Module) -> None:
    """A GGUF-loaded model was dequantised to plain float tensors (training needs them); drop the GGUF
    loader's marker so ``save_pretrained`` writes ordinary safetensors."""
    q = getattr(model, "hf_quantizer", None)
    if q is None:
        return
    cfg = getattr(q, "quantization_config", None)
    method = str(getattr(getattr(cfg, "quant_method", None), "value", getattr(cfg, "quant_method", "")))
    packed = [n for n, p in model.named_parameters() if not p.is_floating_point()]
    if method != "gguf" or packed:
        raise MiTasksError(f"the model is quantized ({method or type(q).__name__}) with packed weights {packed[:3]}; "
                           "load it dequantised (float weights) to enhance and save it")
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def _latest_checkpoint(ckpt_dir: Path) -> Path | None:
    found = sorted(ckpt_dir.glob("step_*.pt"))
    return found[-1] if found else None


def _model_card(settings: dict[str, Any], result: EnhanceResult) -> str:
    from huggingface_hub import ModelCard

    base = settings["model"]
    last_loss = result.losses[-1]["loss"] if result.losses else float("nan")
    recall = ", ".join(f"step {r['step']}: {r['recall_at_k']:.4f}" for r in result.eval_recall)
    body = f"""---
library_name: transformers
tags:
- mi-tasks
- mi-enhancement
---
# MI-enhanced {Path(base).name}

Fine-tuned with `mi-tasks enhance` (mi-tasks {__version__}) to maximise token recoverability
("Rethinking the Understanding Ability across LLMs through Mutual Information", MI enhancement).

- base model: `{base}`{f" (gguf_file `{settings['gguf_file']}`)" if settings.get("gguf_file") else ""}
- corpus: `{settings['corpus']}` ({settings['corpus_rows']} texts, sha256 {settings['corpus_sha256'][:16]}...)
- objective: binary cross-entropy of a linear decoder head ({settings['head_vocab']} outputs, the train
  vocabulary) on the {settings['pooling']}-pooled state {settings['layer']} of {settings['num_layers']}
  against each text's multi-hot set of non-special tokens
- trained: blocks {settings['trained_blocks'][0]}..{settings['trained_blocks'][1]}; frozen: the last block ({settings['num_layers']}), embeddings,
  final norm and LM head; the decoder head is not part of this checkpoint
- steps: {result.steps}, lr: {settings['lr']} (head {settings['head_lr']}), batch size: {settings['batch_size']},
  max length: {settings['max_text_length']}, seed: {settings['seed']}, compute dtype: {settings['compute_dtype']}
- final training loss: {last_loss:.5f}; held-out recall@k ({settings['eval_corpus']}): {recall or 'not measured'}
"""
    return str(ModelCard(body))


def enhance(
    model_name_or_path: str,
    output_dir: str | os.PathLike,
    train_corpus: str | Corpus | None = None,
    *,
    settings: TaskSettings | None = None,
    training: TrainingSettings | None = None,
    dtype: str = "auto",
    resume: bool = True,
    progress: bool = True,
    gguf_file: str | None = None,
    revision: str | None = None,
    trust_remote_code: bool = False,
    **values: Any,
) -> EnhanceResult:
    """Fine-tune ``model_name_or_path`` for recoverability and save a Hugging Face checkpoint in ``output_dir``.

    ``values`` are settings under the names a task YAML and ``mi-tasks enhance`` give them: the task
    settings of :data:`~mi_tasks.training.settings.ENHANCE_TASK_SETTINGS` (``train_limit=``,
    ``eval_corpus=``, ``max_text_length=``, ...; ``settings`` gives them all at once) and the training
    settings (``steps=``, ``lr=``, ``train_blocks=``, ...; ``training`` gives them all at once), each
    checked as a YAML value is. ``train_corpus``: a registered name, a file or a Corpus (default
    WikiText-2, read whole). Unset ``eval_corpus``: ``eval_limit`` texts held out of the train corpus.
    ``dtype``: compute dtype of the forward/backward (``auto`` = bf16 autocast where the CPU is fast at
    it); weights and optimiser stay float32.
    """
    s, t, eval_given = _enhance_settings(settings, training, values, train_corpus)
    out = Path(output_dir)
    torch.manual_seed(s.seed)  # heads that the checkpoint lacks are initialised from it
    load_kwargs = {"gguf_file": gguf_file, "revision": revision, "trust_remote_code": trust_remote_code}
    model, tok, encoder = _load_trainable(str(model_name_or_path), dtype, load_kwargs)
    n = model_num_layers(model)
    _check_layers(n, t.layer, t.train_blocks)
    torch.manual_seed(s.seed)
    enh = _Enhancer(model, tok, t.layer, s.pooling, s.max_text_length)
    if enh.layer == 0:
        raise MiTasksError("layer 0 is the embedding output, which no trainable block feeds; read a later layer")
    trainable = enh.freeze(t.train_blocks)
    first_trained = 1 if t.train_blocks is None else n - t.train_blocks
    if enh.layer < first_trained:
        raise MiTasksError(f"layer {enh.layer} is below the first trained block ({first_trained}); no gradient would "
                           "reach a trained weight: read a later layer or raise train_blocks")
    corpus = train_corpus if isinstance(train_corpus, Corpus) else None
    train_c, texts, eval_texts, eval_name = _split_corpora(corpus, s, eval_given)
    enc = enh.extractor.encode(texts, what="training corpus")
    eval_enc = enh.extractor.encode(eval_texts, what="eval corpus")
    vocab, head = _prior_head(enc, int(text_config(model.config).hidden_size))
    warm = t.warmup_steps if t.warmup_steps is not None else min(10, max(1, t.steps // 10))
    params = [p for p in model.parameters() if p.requires_grad]
    compute = ("bfloat16" if (dtype == "auto" and cpu_has_fast_bf16()) else
               ("float32" if dtype == "auto" else str(resolve_dtype(dtype)).replace("torch.", "")))
    record = {"model": str(model_name_or_path), "gguf_file": gguf_file,
              "corpus": train_c.name, "corpus_source": train_c.source, "corpus_rows": len(texts),
              "corpus_sha256": Corpus(name="", texts=texts, source="").sha256, "eval_corpus": eval_name,
              "eval_corpus_sha256": Corpus(name="", texts=eval_texts, source="").sha256,
              "lr": t.lr, "head_lr": t.head_lr, "batch_size": t.batch_size, "max_text_length": s.max_text_length,
              "seed": s.seed, "layer": enh.layer, "pooling": s.pooling, "weight_decay": t.weight_decay,
              "warmup_steps": warm, "train_blocks": t.train_blocks, "trained_blocks": [first_trained, n - 1],
              "num_layers": n, "frozen_block": n, "head_vocab": len(vocab), "compute_dtype": compute,
              "encoder_only": encoder, "n_trainable_params": sum(p.numel() for p in params),
              "mi_tasks_version": __version__}
    run = _TrainingRun(enh, head, vocab, params, trainable, t.lr, t.head_lr, t.weight_decay, warm, dtype,
                       EnhanceResult(output_dir=str(out), steps=t.steps, settings=record))
    start = run.resume(_latest_checkpoint(out / CHECKPOINTS) if resume else None)
    run.train(enc, eval_enc, start, t.steps, t.batch_size, s.seed, t.eval_interval, progress)
    _save_outputs(out, model, tok, record, run.result)
    return run.result


def _enhance_settings(settings: TaskSettings | None, training: TrainingSettings | None, values: dict[str, Any],
                      train_corpus: Any) -> tuple[TaskSettings, TrainingSettings, bool]:
    """(task settings, training settings, whether an eval corpus was given), every value checked before any
    model work; a keyword that is neither names the settings enhancement reads."""
    where = " for enhance()"
    own = set(TrainingSettings.specs())
    unknown = sorted(k for k in values if k not in own and k not in ENHANCE_TASK_SETTINGS)
    if unknown:
        raise MiTasksError(f"unknown keyword {', '.join(unknown)}{where}: enhancement reads the task settings "
                           f"{', '.join(ENHANCE_TASK_SETTINGS)} and the training settings {', '.join(sorted(own))}")
    task = {k: v for k, v in values.items() if k not in own}
    if isinstance(train_corpus, (str, os.PathLike)):
        task["train_corpus"] = str(train_corpus)
    elif train_corpus is not None and not isinstance(train_corpus, Corpus):
        raise MiTasksError(f"train_corpus{where} must be a corpus name, a file path or a Corpus, "
                           f"got {type(train_corpus).__name__}")
    base = settings if settings is not None else TaskSettings.given(None, where, **ENHANCE_DEFAULTS)
    s = TaskSettings.given(base, where, **task)
    t = TrainingSettings.given(training, where, **{k: v for k, v in values.items() if k in own})
    eval_given = "eval_corpus" in task or (settings is not None and s.eval_corpus != TaskSettings().eval_corpus)
    return s, t, eval_given


def _check_layers(n: int, layer: int, train_blocks: int | None) -> None:
    if n < 2:
        raise MiTasksError(f"the model has {n} block; enhancement needs at least 2 (one trained, the last frozen)")
    if train_blocks is not None and (not isinstance(train_blocks, int) or not 1 <= train_blocks <= n - 1):
        raise MiTasksError(f"train_blocks must be an integer from 1 to {n - 1} (the blocks below the frozen last one), "
                           f"got {train_blocks!r}")
    if not -(n + 1) <= layer <= n:
        raise MiTasksError(f"layer {layer} is out of range for {n} layers (states 0..{n}, or negatives from the end)")


def _split_corpora(corpus: Corpus | None, s: TaskSettings, eval_given: bool) -> tuple[Corpus, list[str], list[str], str]:
    """(train corpus, train texts, eval texts, eval name): the eval corpus, or a seeded held-out slice of the train corpus."""
    train_c = corpus if corpus is not None else load_corpus(s.train_corpus, **s.corpus_kwargs("train"))
    texts = list(train_c.texts)
    if eval_given:
        ev = load_corpus(s.eval_corpus, **s.corpus_kwargs("eval"))
        return train_c, texts, list(ev.texts), ev.name
    eval_limit = s.eval_limit if s.eval_limit is not None else max(1, len(texts) // 5)
    if len(texts) < 2 * eval_limit:
        eval_limit = max(1, len(texts) // 5)
    held = set(np.random.default_rng(s.seed).choice(len(texts), size=eval_limit, replace=False).tolist())
    eval_texts = [texts[i] for i in sorted(held)]
    texts = [t for i, t in enumerate(texts) if i not in held]
    return train_c, texts, eval_texts, f"{train_c.name} (held-out {len(eval_texts)})"


def _prior_head(enc: Any, hidden: int) -> tuple[np.ndarray, torch.nn.Linear]:
    """The decoder vocabulary (train token ids) and a linear head that starts at the frequency prior."""
    counts: dict[int, int] = {}
    for i in range(len(enc)):
        for t in enc.content_ids(i).tolist():
            counts[t] = counts.get(t, 0) + 1
    if not counts:
        raise MiTasksError("the training corpus has no non-special tokens to recover")
    vocab = np.array(sorted(counts), dtype=np.int64)
    head = torch.nn.Linear(hidden, len(vocab))
    with torch.no_grad():  # start from the frequency prior: the head first learns what E adds to it
        freq = torch.tensor([counts[int(t)] for t in vocab], dtype=torch.float32) / len(enc)
        head.weight.normal_(0.0, 1.0 / math.sqrt(hidden))
        head.bias.copy_(torch.logit(freq.clamp(1e-6, 1 - 1e-6)))
    return vocab, head


class _TrainingRun:
    """Optimiser, schedule, checkpoints and curves of one enhancement run (resumable bit for bit)."""

    def __init__(self, enh: _Enhancer, head: torch.nn.Linear, vocab: np.ndarray, params: list[torch.nn.Parameter],
                 trainable: list[str], lr: float, head_lr: float, weight_decay: float, warm: int, dtype: str,
                 result: EnhanceResult) -> None:
        self.enh, self.head, self.vocab, self.params, self.trainable = enh, head, vocab, params, set(trainable)
        self.column = {int(t): j for j, t in enumerate(vocab)}
        self.dtype, self.result = dtype, result
        self.opt = torch.optim.AdamW([{"params": params, "lr": lr, "weight_decay": weight_decay},
                                      {"params": head.parameters(), "lr": head_lr, "weight_decay": 0.0}])
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: min(1.0, (s + 1) / warm))
        self.ckpt_dir = Path(result.output_dir) / CHECKPOINTS
        self.lr = lr

    def resume(self, latest: Path | None) -> int:
        """Load the latest checkpoint made with the same settings; the step to start from (0: none)."""
        if latest is None:
            return 0
        settings, result = self.result.settings, self.result
        state = torch.load(latest, map_location="cpu", weights_only=False)
        old = state["settings"]
        diff = [k for k in RESUME_KEYS if old.get(k) != settings.get(k)]
        if diff:
            changed = ", ".join(f"{k}: {old.get(k)!r} -> {settings.get(k)!r}" for k in diff)
            raise MiTasksError(f"{latest} was made with other settings ({changed}); "
                               "use another output_dir or resume=False to start over")
        missing = self.enh.model.load_state_dict(state["model"], strict=False)
        if missing.unexpected_keys:
            raise MiTasksError(f"{latest} holds weights this model lacks: {missing.unexpected_keys[:3]}")
        self.head.load_state_dict(state["head"])
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        start = int(state["step"])
        result.losses, result.eval_recall = state["losses"], state["eval_recall"]
        result.resumed_from = start
        if start > result.steps:
            raise MiTasksError(f"{latest} is at step {start}, beyond steps={result.steps}; raise steps or use resume=False")
        return start

    def evaluate(self, eval_enc: Any, step: int) -> None:
        r = _recall(self.enh, self.head, eval_enc, self.vocab, _autocast(self.dtype))
        self.result.eval_recall.append({"step": step, "recall_at_k": r})

    def save(self, step: int) -> None:
        """The trainable weights, head, optimiser and RNG at ``step``; older checkpoints removed."""
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        trainable_state = {k: v for k, v in self.enh.model.state_dict().items() if k in self.trainable}
        target = self.ckpt_dir / f"step_{step:07d}.pt"
        torch.save({"model": trainable_state, "head": self.head.state_dict(), "optimizer": self.opt.state_dict(),
                    "scheduler": self.sched.state_dict(), "torch_rng": torch.get_rng_state(), "step": step,
                    "losses": self.result.losses, "eval_recall": self.result.eval_recall,
                    "settings": self.result.settings, "vocab": self.vocab}, target.with_suffix(".tmp"))
        os.replace(target.with_suffix(".tmp"), target)
        for old in self.ckpt_dir.glob("step_*.pt"):
            if old != target:
                old.unlink()

    def train(self, enc: Any, eval_enc: Any, start: int, steps: int, batch_size: int, seed: int,
              eval_interval: int, progress: bool) -> None:
        """Steps ``start``..``steps`` of BCE on the pooled state, with evaluations and checkpoints."""
        autocast = _autocast(self.dtype)
        batcher = _Batcher(len(enc), min(batch_size, len(enc)), seed)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        if start == 0:
            self.evaluate(eval_enc, 0)
        self.enh.model.train()
        bar = tqdm(total=steps, initial=start, desc="enhance", unit="step", disable=not progress)
        try:
            for step in range(start, steps):
                t0 = time.perf_counter()
                idx = batcher.batch(step)
                with autocast:
                    logits = self.head(self.enh.pooled(enc, idx).float()).float()
                loss = loss_fn(logits, _targets(enc, idx, self.column, len(self.vocab)))
                if not torch.isfinite(loss):
                    raise MiTasksError(f"the loss became {loss.item()} at step {step + 1}; lower lr (now {self.lr}) "
                                       "or use dtype='float32'")
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.params, 1.0)
                self.opt.step()
                self.sched.step()
                self.result.losses.append({"step": step + 1, "loss": float(loss.item()),
                                           "seconds": time.perf_counter() - t0})
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.5f}")
                done = step + 1
                if done % eval_interval == 0 or done == steps:
                    if not self.result.eval_recall or self.result.eval_recall[-1]["step"] != done:
                        self.evaluate(eval_enc, done)
                    self.save(done)
        finally:
            bar.close()
        self.enh.model.eval()


def _save_outputs(out: Path, model: torch.nn.Module, tok: Any, settings: dict[str, Any], result: EnhanceResult) -> None:
    """A plain Hugging Face checkpoint with its tokenizer, a model card and the run's JSON."""
    out.mkdir(parents=True, exist_ok=True)
    _plain_for_saving(model)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    (out / "README.md").write_text(_model_card(settings, result), encoding="utf-8")
    (out / "enhance_result.json").write_text(json.dumps(result.to_dict(), indent=2))
