"""birnn-tag: stacked bidirectional-RNN (LSTM, GRU or plain RNN) sequence taggers and cloze
models driven by YAML configs.

The public API (:mod:`birnn_tag.api`): ``birnn_tag.load(path)`` → a model that ``.tag(texts)``
or ``.fill(lines)``; ``birnn_tag.train(config_path)`` → the run folder. Its names are imported
on first use, so that ``import birnn_tag`` (and ``birnn-tag --help``) does not import torch.
"""

import importlib
import re
from importlib import metadata
from typing import Any

from birnn_tag.version import __version__

# Public name → the module that defines it.
_API = {
    "load": "birnn_tag.api",
    "train": "birnn_tag.api",
    "export": "birnn_tag.api",
    "compare": "birnn_tag.api",
    "check_data": "birnn_tag.api",
    "calibrate": "birnn_tag.api",
    "select": "birnn_tag.api",
    "tune": "birnn_tag.api",
    "push": "birnn_tag.api",
    "Pushed": "birnn_tag.hub.upload",
    "TaggingModel": "birnn_tag.tagging.public.pytorch",
    "ClozeModel": "birnn_tag.cloze.public",
    "OnnxTaggingModel": "birnn_tag.tagging.onnx.runtime",
    "BatchTagger": "birnn_tag.tagging.public.batches",
    "Shard": "birnn_tag.data.sharding",
    "Prediction": "birnn_tag.tagging.prediction.streaming",
    "Span": "birnn_tag.tagging.prediction.streaming",
    "format_prediction": "birnn_tag.tagging.prediction.streaming",
    "Answer": "birnn_tag.cloze.prediction",
    "Blank": "birnn_tag.cloze.prediction",
    "Candidate": "birnn_tag.cloze.prediction",
    "format_answer": "birnn_tag.cloze.prediction",
    "BirnnTagError": "birnn_tag.errors",
}
__all__ = ["__version__", *_API]

# The oldest torch with everything birnn-tag calls: torch.nn.utils.get_total_norm and
# clip_grads_with_norm_ (epoch.py) first shipped in 2.6; the rest is older (fused CPU SGD and
# Adam: 2.4; is_bf16_supported(including_emulation=...); the torch.lstm call). Keep in step with
# the requirement in pyproject.toml.
TORCH_FLOOR = (2, 6)


def _check_torch() -> None:
    """Refuse to load next to a torch older than :data:`TORCH_FLOOR`, with a message saying how
    to upgrade, rather than fail mid-run on a missing function.

    The version is read from the installed package's metadata, so that this costs milliseconds,
    not the second it takes to import torch (``birnn-tag --help`` never imports it). Without
    metadata (no torch, or a build that records none) the import of torch speaks for itself.
    """
    try:
        installed = metadata.version("torch")
    except metadata.PackageNotFoundError:
        return
    match = re.match(r"(\d+)\.(\d+)", installed)
    if match and tuple(map(int, match.groups())) < TORCH_FLOOR:
        # ImportError: raised while `import birnn_tag` runs, before any command's error handling,
        # and it is what callers probing for a usable package (`except ImportError`) expect.
        required = ".".join(map(str, TORCH_FLOOR))
        raise ImportError(
            f"birnn-tag needs torch>={required}, but torch {installed} is installed; "
            "upgrade it with: pip install torch==2.13.0"
        )


_check_torch()


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'birnn_tag' has no attribute {name!r}")
    return getattr(importlib.import_module(_API[name]), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
