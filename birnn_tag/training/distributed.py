"""Multi-process training with ``torch.distributed`` (DistributedDataParallel), as set up by torchrun.

    torchrun --nproc_per_node=2 -m birnn_tag train configs/conll2003.yaml            # one machine
    torchrun --nnodes=2 --node_rank=R --rdzv-endpoint=HOST:PORT -m birnn_tag train CONFIG

NCCL on GPUs, gloo on CPUs. Every rank walks the same length-bucketed batch plan and takes its
share of each *global* batch of ``training.batch_size`` sentences, so a config trains the same
model whatever the number of processes (up to float rounding). Only rank 0 writes files.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from birnn_tag.errors import BirnnTagError
from birnn_tag.runs.folder import LOCK_NAME


@dataclass(frozen=True)
class Context:
    """This process's place in the job; a single process is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def setup(device: torch.device) -> tuple[Context, torch.device]:
    """Join the process group torchrun describes (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``), if any."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Context(), device
    if "RANK" not in os.environ:
        raise BirnnTagError(f"WORLD_SIZE={world_size} is set but RANK is not: start several processes with torchrun")
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    if not dist.is_initialized():
        # After an elastic restart torchrun hands the workers the same store, where the last
        # attempt's process group left the addresses of workers now gone: each attempt gets
        # keys of its own, or connecting waits on a dead peer (pytorch/pytorch#167288).
        store, _, _ = next(dist.rendezvous("env://", rank, world_size))
        attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
        dist.init_process_group(
            "nccl" if device.type == "cuda" else "gloo", store=dist.PrefixStore(f"birnn-tag/attempt-{attempt}", store),
            rank=rank, world_size=world_size,
        )
    return Context(rank, world_size, local_rank), device


def shard(indices: list[int], context: Context) -> list[int]:
    """This rank's part of a global batch (round-robin, so parts differ in size by at most one)."""
    return indices[context.rank :: context.world_size]


def wrap(
    model: torch.nn.Module, context: Context, device: torch.device, *, find_unused_parameters: bool = False
) -> torch.nn.Module:
    """The model in DistributedDataParallel when there are several processes; as it is otherwise.

    ``find_unused_parameters``: whether some parameters may get no gradient in a step (the task
    says, see :class:`~birnn_tag.tasks.Task`); looking for them after every backward pass costs time.
    """
    if not context.active:
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=find_unused_parameters)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain model inside a DistributedDataParallel wrapper."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def sum_across(values: list[float], context: Context, device: torch.device) -> list[float]:
    """Element-wise sums of ``values`` over all ranks."""
    if not context.active:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def from_main(value: float, context: Context, device: torch.device) -> float:
    """Rank 0's ``value`` on every rank, so that decisions such as early stopping never diverge."""
    if not context.active:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.broadcast(tensor, src=0)
    return tensor.item()


def check_shared_folder(folder: Path, resume: bool, context: Context) -> None:
    """Refuse, on every rank alike, a run folder that some ranks cannot see: rank 0 has created it
    (its lock file), so a rank that does not find it, or that decided otherwise whether to resume,
    writes to a folder of its own (another node's disk), where resumes would diverge."""
    if not context.active:
        return
    seen = (socket.gethostname(), (folder / LOCK_NAME).is_file(), resume)
    views: list[tuple[str, bool, bool]] = [("", False, False)] * context.world_size
    dist.all_gather_object(views, seen)
    blind = [f"{rank} ({host})" for rank, (host, found, resumed) in enumerate(views) if not found or resumed != views[0][2]]
    if blind:
        raise BirnnTagError(
            f"{folder}: output.dir is not the same folder for every process: rank(s) {', '.join(blind)} do not see "
            f"the one rank 0 ({views[0][0]}) writes; with several nodes, put output.dir on a file system they all mount"
        )


@contextmanager
def local_main_first(context: Context) -> Iterator[None]:
    """Run the block on each node's local rank 0 first, then on the other ranks: work whose
    result lands in a node's cache (frozen contextual features) is then done once per node and
    read by the rest, not done again by every rank."""
    if context.active and context.local_rank != 0:
        dist.barrier()
    yield
    if context.active and context.local_rank == 0:
        dist.barrier()


def barrier(context: Context) -> None:
    if context.active:
        dist.barrier()


def cleanup(context: Context) -> None:
    if context.active and dist.is_initialized():
        dist.destroy_process_group()
