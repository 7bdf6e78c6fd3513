"""Two CPU processes (torch.distributed, gloo) give the single-process numbers, not one rank's share.

lm-eval shards documents across ranks only when it runs data-parallel on accelerators (``--model hf``
under ``accelerate launch`` with one GPU per process); on CPU every process evaluates everything.
So this test drives mi-tasks' request handler the way lm-eval does under data parallelism: each
rank gets the requests of docs ``rank::world`` and an ``lm`` reporting its rank and world size.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path

import numpy as np
import pytest

from ..conftest import make_sentences


class _FakeLM:
    """What the handler reads from lm-eval's HFLM: model, tokenizer, batch size, rank, world size."""

    def __init__(self, model, tokenizer, rank: int, world: int) -> None:
        self.model, self.tokenizer, self.batch_size, self.rank, self.world_size = model, tokenizer, 7, rank, world


def _worker(rank: int, world: int, model_dir: str, corpus_dir: str, out: str) -> None:
    import torch
    import torch.distributed as dist
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    if world > 1:
        dist.init_process_group("gloo", init_method=f"file://{corpus_dir}/store", rank=rank, world_size=world)
    from lm_eval.tasks import TaskManager

    from mi_tasks.harness.lm_eval_compat import load_tasks
    from mi_tasks.harness.runner import handle_requests

    md = {"train_corpus": f"{corpus_dir}/train.txt", "eval_corpus": f"{corpus_dir}/eval.txt", "layers": "all",
          "random_limit": 8, "seed": 4}
    tm = TaskManager(include_defaults=False, metadata=md)  # mi-tasks' YAMLs only (skips indexing lm-eval's own)
    tasks = load_tasks(tm, ["mi_recoverability", "mi_entropy"])
    lm = _FakeLM(AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32), AutoTokenizer.from_pretrained(model_dir),
                 rank, world)
    instances = []
    for name in ("mi_recoverability", "mi_entropy"):
        tasks[name].build_all_requests(rank=rank, world_size=world)
        instances += tasks[name].instances
    values = handle_requests(lm, instances)
    rows = [{"task": i.task_name, "doc_id": i.doc_id, **v} for i, v in zip(instances, values)]
    result = {name: tasks[name].mi_result.to_dict()["layers"] for name in ("mi_recoverability", "mi_entropy")}
    Path(out).write_text(json.dumps({"rows": rows, "layers": result}))
    if world > 1:
        dist.destroy_process_group()


def _spawn(world: int, model_dir: str, corpus_dir: Path, tag: str) -> list[dict]:
    ctx = mp.get_context("spawn")
    outs = [str(corpus_dir / f"{tag}_{r}.json") for r in range(world)]
    procs = [ctx.Process(target=_worker, args=(r, world, model_dir, str(corpus_dir), outs[r])) for r in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(600)
        assert p.exitcode == 0, f"rank process failed with exit code {p.exitcode}"
    return [json.loads(Path(o).read_text()) for o in outs]


@pytest.mark.skipif(os.name == "nt", reason="gloo file store")
def test_two_ranks_equal_one_process(tiny_dir, tmp_path):
    (tmp_path / "train.txt").write_text("\n".join(make_sentences(90, seed=11)))
    (tmp_path / "eval.txt").write_text("\n".join(make_sentences(23, seed=12)))  # odd: ranks get 12 and 11 docs
    single = _spawn(1, tiny_dir["llama"], tmp_path, "single")[0]
    ranks = _spawn(2, tiny_dir["llama"], tmp_path, "dist")
    for r in ranks:  # every rank holds the full, single-process result
        assert r["layers"] == single["layers"]
    merged = {(row["task"], row["doc_id"]): row for r in ranks for row in r["rows"]}
    assert len(merged) == len(single["rows"]) == 2 * 23
    for row in single["rows"]:
        assert merged[(row["task"], row["doc_id"])] == row
    assert {row["doc_id"] for row in ranks[0]["rows"]} == set(range(0, 23, 2))
    assert np.isfinite([l["metrics"]["recall_at_k"]["value"] for l in single["layers"]["mi_recoverability"]]).all()
