"""Several processes, one result: shard the extraction, replay every batch on every rank in order.

Under ``accelerate launch`` (torch.distributed initialised) each rank runs the forward passes of
its share of batches only (``shard=(rank, world)``: batch k goes to rank k mod world). At every
step the ranks exchange their batch (pooled states, targets, spectra) with ``all_gather_object``,
and each rank feeds the gathered batches to the metrics in the single-process order. Extraction,
the expensive part, is split; decoder statistics, calibration and scores see exactly the batch
sequence a single process sees, so the numbers are the same, not one rank's share. Memory holds
one batch per rank at a time; the cost is moving pooled states (not token states) between ranks.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import MiTasksError

if TYPE_CHECKING:  # a type only: extraction imports this module, not the reverse
    from .extraction import StateBatch


@dataclass(frozen=True)
class ProcessGroup:
    """Rank and world size of this process (world 1 = no communication)."""

    rank: int = 0
    world: int = 1

    @property
    def active(self) -> bool:
        return self.world > 1

    def all_gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order (a list of one object when single-process)."""
        if not self.active:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out


def process_group(rank: int, world: int) -> ProcessGroup:
    """The group for ``rank``/``world`` as lm-eval reports them; checks torch.distributed is ready."""
    if world <= 1:
        return ProcessGroup(0, 1)
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        raise MiTasksError(
            f"lm-eval reports {world} processes but torch.distributed is not initialised; start the run with "
            "`accelerate launch -m lm_eval ...` so the ranks can exchange their statistics"
        )
    if dist.get_world_size() != world or dist.get_rank() != rank:
        raise MiTasksError(f"lm-eval's rank {rank}/{world} does not match torch.distributed's "
                           f"{dist.get_rank()}/{dist.get_world_size()}")
    return ProcessGroup(rank, world)


def gathered_stream(local: Iterator["StateBatch"], n_batches: int, group: ProcessGroup) -> Iterator["StateBatch"]:
    """Interleave the ranks' shards (from ``iter_batches(shard=(rank, world))``) back into batch order."""
    if not group.active:
        yield from local
        return
    steps = -(-n_batches // group.world)
    for _ in range(steps):
        mine = next(local, None)
        for batch in group.all_gather(mine):
            if batch is not None:
                yield batch
    if next(local, None) is not None:
        raise MiTasksError("this rank produced more batches than its share; the ranks disagree on the corpus")
