"""Numeric precision of inference: fp32, or bfloat16 autocast for the embedder and the BiLSTM.

On hardware that multiplies bfloat16 natively (CPUs with AVX512-BF16 or AMX, recent GPUs) an
LSTM's kernels run 1.8× as fast in bf16 on this project's CPU, and tagging CoNLL-2003's test set
1.5–1.7× as fast, with the same F1 as fp32 on the 17 runs compared (docs/benchmarks.md).
Elsewhere bf16 is emulated and slower, which is why ``auto`` checks the hardware. The output head always runs in fp32
(:meth:`~birnn_tag.tagging.tagger.Tagger.decode`).
"""

from __future__ import annotations

import typing
from contextlib import AbstractContextManager, nullcontext

import torch

from birnn_tag.config import Precision
from birnn_tag.devices import has_native_bf16

PRECISIONS: tuple[str, ...] = typing.get_args(Precision)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``fp32`` or ``bf16``: ``auto`` becomes ``bf16`` where the device has native bf16."""
    if precision == "auto":
        return "bf16" if has_native_bf16(device) else "fp32"
    return precision


def inference_autocast(precision: str, device: torch.device) -> AbstractContextManager:
    """The context a model's inference runs in for ``precision`` (one of :data:`PRECISIONS`)."""
    if resolve_precision(precision, device) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()
