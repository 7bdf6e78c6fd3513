"""How much memory the recoverability decoders need, and how many layers to fit at once within a budget.

The ridge statistics of one layer are sum xxᵀ (D² float64), sum x yᵀ (|V|·D float32) and two
vectors; its solution is a |V|·D float32 matrix; solving one layer briefly holds two more D²
float64 and two |V|·D float32 matrices. For an 8B model (33 states, D = 4,096) and a 25,000-token
decoder vocabulary that is 0.89 GiB per layer, 30.3 GiB for all layers; for a 70B model (81 states,
D = 8,192) 2.03 GiB per layer, 166.7 GiB. Within a budget, layers are fitted and scored in groups:
the train corpus runs through the model once, its pooled states are kept on disk, and each group
replays them in the same order, so every number equals the single-group run.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

from ...errors import MiTasksError

GIB = 1024 ** 3
DEFAULT_BUDGET_GIB = 16.0
"""Default bound on the decoders' statistics and solutions held at once (``memory_budget_gb``)."""


def layer_bytes(hidden: int, vocab: int) -> dict[str, int]:
    """Bytes one layer's ridge decoder holds: streamed statistics, solution, and the solve's transient peak."""
    d, v = int(hidden), int(vocab)
    stats = d * d * 8 + v * d * 4 + 2 * d * 8 + v * 8
    solved = v * d * 4 + v * 4 + 2 * d * 4
    transient = 2 * d * d * 8 + 2 * v * d * 4
    return {"statistics": stats, "solution": solved, "solve_transient": transient}


@dataclass(frozen=True)
class MemoryPlan:
    """What a recoverability run will hold, decided before any state is computed."""

    n_layers: int
    hidden: int
    decoder_vocab: int
    n_train: int
    n_eval: int
    budget_bytes: int | None
    group_size: int
    statistics_per_layer: int
    solution_per_layer: int
    solve_transient: int
    device: str = "cpu"
    """Where the decoders live (the states' device): the budget bounds memory there."""

    @property
    def n_groups(self) -> int:
        return math.ceil(self.n_layers / self.group_size)

    @property
    def decoder_peak_bytes(self) -> int:
        """Statistics and solutions of one group, plus one layer's solve."""
        return self.group_size * (self.statistics_per_layer + self.solution_per_layer) + self.solve_transient

    @property
    def all_layers_bytes(self) -> int:
        """What fitting every layer at once would hold (the single-group peak)."""
        return self.n_layers * (self.statistics_per_layer + self.solution_per_layer) + self.solve_transient

    @property
    def train_states_bytes(self) -> int:
        """Pooled train states (float32, every layer) kept on disk when there is more than one group."""
        return self.n_train * self.n_layers * self.hidden * 4 if self.n_groups > 1 else 0

    @property
    def eval_states_bytes(self) -> int:
        return self.n_eval * self.n_layers * self.hidden * 4

    def describe(self) -> str:
        g = f"{self.n_groups} groups of ≤ {self.group_size} layers" if self.n_groups > 1 else "all layers at once"
        disk = f"; train states on disk: {self.train_states_bytes / GIB:.2f} GiB" if self.train_states_bytes else ""
        budget = f"{self.budget_bytes / GIB:.1f} GiB" if self.budget_bytes else "none"
        return (f"recoverability memory plan on {self.device}: {self.n_layers} layers × D={self.hidden}, decoder vocabulary "
                f"{self.decoder_vocab}: {(self.statistics_per_layer + self.solution_per_layer) / GIB:.3f} GiB per layer, "
                f"{self.all_layers_bytes / GIB:.2f} GiB for all layers; budget {budget} -> {g}, decoder peak "
                f"{self.decoder_peak_bytes / GIB:.2f} GiB{disk}; eval states {self.eval_states_bytes / GIB:.2f} GiB")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update({"n_groups": self.n_groups, "decoder_peak_bytes": self.decoder_peak_bytes,
                  "all_layers_bytes": self.all_layers_bytes, "train_states_bytes": self.train_states_bytes,
                  "eval_states_bytes": self.eval_states_bytes})
        return d


def plan_recoverability(n_layers: int, hidden: int, decoder_vocab: int, n_train: int = 0, n_eval: int = 0,
                        budget_gb: float | None = DEFAULT_BUDGET_GIB, device: str = "cpu") -> MemoryPlan:
    """The largest group of layers whose decoders fit ``budget_gb`` (GiB; None or 0: no bound)."""
    if n_layers < 1 or hidden < 1 or decoder_vocab < 1:
        raise MiTasksError(f"a memory plan needs ≥ 1 layer, width and vocabulary; got {n_layers}, {hidden}, {decoder_vocab}")
    b = layer_bytes(hidden, decoder_vocab)
    per = b["statistics"] + b["solution"]
    budget = int(budget_gb * GIB) if budget_gb else None
    if budget is None:
        group = n_layers
    else:
        if budget_gb < 0:
            raise MiTasksError(f"memory_budget_gb must be > 0 (or 0 for no bound), got {budget_gb}")
        group = (budget - b["solve_transient"]) // per
        if group < 1:
            need = (per + b["solve_transient"]) / GIB
            raise MiTasksError(f"one layer's decoder needs {need:.2f} GiB (D={hidden}, decoder vocabulary "
                               f"{decoder_vocab}) but memory_budget_gb is {budget_gb}; raise it to at least "
                               f"{math.ceil(need * 10) / 10}, or lower train_limit to shrink the vocabulary")
        group = int(min(group, n_layers))
        group = math.ceil(n_layers / math.ceil(n_layers / group))  # balanced: 33 layers by ≤ 16 -> 3 × 11
    return MemoryPlan(n_layers=int(n_layers), hidden=int(hidden), decoder_vocab=int(decoder_vocab),
                      n_train=int(n_train), n_eval=int(n_eval), budget_bytes=budget, group_size=group,
                      statistics_per_layer=b["statistics"], solution_per_layer=b["solution"],
                      solve_transient=b["solve_transient"], device=str(device))


def same_device(a: torch.device | str, b: torch.device | str) -> bool:
    """True when ``a`` and ``b`` name one device (``cuda`` and ``cuda:0`` do when 0 is current)."""
    a, b = torch.device(a), torch.device(b)
    if a.type != b.type:
        return False
    if a.type == "cuda":
        cur = torch.cuda.current_device()
        return (cur if a.index is None else a.index) == (cur if b.index is None else b.index)
    return a.index is None or b.index is None or a.index == b.index


def check_device_memory(plan: MemoryPlan) -> None:
    """On a CUDA device, refuse before any state is computed a plan whose decoder peak exceeds the free memory."""
    dev = torch.device(plan.device)
    if dev.type != "cuda":
        return
    free, _ = torch.cuda.mem_get_info(dev)
    need = plan.decoder_peak_bytes + plan.eval_states_bytes
    if need > free:
        raise MiTasksError(f"the recoverability decoders need {need / GIB:.1f} GiB on {dev} but {free / GIB:.1f} GiB "
                           f"is free; set memory_budget_gb to at most {max(free - plan.eval_states_bytes, 0) / GIB * 0.9:.1f} "
                           "to fit the layers in groups, or run the decoders on the CPU with device='cpu'")
