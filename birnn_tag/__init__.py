"""birnn-tag: stacked bidirectional-LSTM sequence taggers driven by YAML configs."""

import re
from importlib import metadata

__version__ = "0.1.0"

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
