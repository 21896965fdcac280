"""`import birnn_tag` next to a torch older than the declared floor fails with one line that says
what is installed, what is needed and how to upgrade."""

import subprocess
import sys

import pytest


def import_with_torch_version(version: str) -> subprocess.CompletedProcess:
    """Import birnn_tag in a fresh Python whose package metadata reports torch ``version``."""
    code = (
        "from importlib import metadata\n"
        "real = metadata.version\n"
        f"metadata.version = lambda name: {version!r} if name == 'torch' else real(name)\n"
        "import birnn_tag\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("version", ["2.5.1", "2.1.0+cpu", "1.13.1"])
def test_old_torch_is_refused_with_how_to_upgrade(version):
    result = import_with_torch_version(version)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"ImportError: birnn-tag needs torch>=2.6, but torch {version} is installed; "
        "upgrade it with: pip install torch==2.13.0"
    )


@pytest.mark.parametrize("version", ["2.6.0", "2.13.0+cpu", "2.14.0a0+git1234abc", "3.0.0"])
def test_torch_at_or_above_the_floor_imports(version):
    result = import_with_torch_version(version)
    assert result.returncode == 0, result.stderr
