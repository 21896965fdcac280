"""Numeric precision of inference and training: fp32, or bfloat16 autocast for the embedder and
the BiLSTM.

On hardware that multiplies bfloat16 natively (CPUs with AVX512-BF16 or AMX, recent GPUs) an
LSTM's kernels run 1.8× as fast in bf16 on this project's CPU, and tagging CoNLL-2003's test set
1.5–1.7× as fast, with the same F1 as fp32 on the 17 runs compared (docs/benchmarks.md).
Elsewhere bf16 is emulated and slower, which is why ``auto`` checks the hardware. On a CPU
without native bf16, oneDNN has no bf16 LSTM kernel at all ("could not create a primitive
descriptor"), so asking for bf16 there is refused with one line rather than failing mid-run.
The output head always runs in fp32 (:meth:`~birnn_tag.tagging.network.tagger.Tagger.decode`).
"""

from __future__ import annotations

import typing
from contextlib import AbstractContextManager, nullcontext

import torch

from birnn_tag.config import Precision
from birnn_tag.runtime.devices import has_native_bf16
from birnn_tag.errors import ConfigError

PRECISIONS: tuple[str, ...] = typing.get_args(Precision)


def resolve_precision(precision: str, device: torch.device, setting: str = "precision") -> str:
    """``fp32`` or ``bf16``: ``auto`` becomes ``bf16`` where the device has native bf16.

    Raises :class:`~birnn_tag.errors.ConfigError`, naming ``setting``, for ``bf16`` on a CPU
    without native bf16 (its LSTM cannot run there).
    """
    if precision == "auto":
        return "bf16" if has_native_bf16(device) else "fp32"
    if precision == "bf16" and device.type == "cpu" and not has_native_bf16(device):
        raise ConfigError(
            f"{setting}: bf16 needs a CPU that multiplies bfloat16 natively (AVX512-BF16 or AMX), and this one does not; "
            "use auto (bf16 where native, else fp32) or fp32"
        )
    return precision


def precision_autocast(precision: str, device: torch.device, setting: str = "precision") -> AbstractContextManager:
    """The context a model's inference, or a training step, runs in for ``precision`` (one of
    :data:`PRECISIONS`): bf16 autocast keeps the weights in fp32 (the optimizer updates fp32
    master weights) and runs the matrix products in bf16. ``setting`` names where the value
    came from in the error :func:`resolve_precision` raises."""
    if resolve_precision(precision, device, setting) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()
