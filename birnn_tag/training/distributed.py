"""Multi-process training with ``torch.distributed`` (DistributedDataParallel), as set up by torchrun.

    torchrun --nproc_per_node=2 -m birnn_tag train configs/conll2003.yaml            # one machine
    torchrun --nnodes=2 --node_rank=R --rdzv-endpoint=HOST:PORT -m birnn_tag train CONFIG

NCCL on GPUs, gloo on CPUs. Every rank walks the same length-bucketed batch plan and takes its
share of each *global* batch of ``training.batch_size`` sentences, so a config trains the same
model whatever the number of processes (up to float rounding). Only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from birnn_tag.errors import BirnnTagError


@dataclass(frozen=True)
class Context:
    """This process's place in the job; a single process is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1

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
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Context(rank, world_size), device


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


def barrier(context: Context) -> None:
    if context.active:
        dist.barrier()


def cleanup(context: Context) -> None:
    if context.active and dist.is_initialized():
        dist.destroy_process_group()
