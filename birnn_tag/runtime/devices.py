"""Which device a command runs on, and what that device can do."""

from __future__ import annotations

import torch

from birnn_tag.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available; asking for CUDA without one is an error, and so is a
    name torch does not know."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("training.device: 'cuda' requested but no CUDA device is available")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device: unknown device {name!r}; expected auto, cpu, cuda or e.g. cuda:1") from None


def has_native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 in hardware rather than emulating it."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    # Private probes of torch's CPU feature detection; absent ones count as "no".
    probes = (getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return any(probe() for probe in probes if probe is not None)
