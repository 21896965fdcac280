"""The terminal: the CLI's two streams, its warning line, logging, and :func:`user_errors`, which
turns a library error into one line on stderr and an exit code, so users never see a traceback
for a problem they can fix."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.text import Text

from birnn_tag.errors import BirnnTagError

# Markup off: messages carry user values and install hints ("pip install 'birnn-tag[plots]'")
# whose square brackets rich would otherwise swallow as tags. Styles come as Text instead.
stderr = Console(stderr=True, markup=False)
stdout = Console(markup=False)
ERROR = Text("error:", style="bold red")
WARNING = Text("warning:", style="yellow")


@contextmanager
def user_errors() -> Iterator[None]:
    """Report library errors as ``error: <message>`` and exit 1 (130 on Ctrl-C)."""
    try:
        yield
    except BirnnTagError as error:
        stderr.print(ERROR, str(error), highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        stderr.print("interrupted")
        raise typer.Exit(130) from None
    except BrokenPipeError:  # `birnn-tag predict ... | head`: the reader has all it wants
        _discard_stdout()
        raise typer.Exit(0) from None
    except OSError as error:  # the file system refused (full, read-only...): one line, no traceback
        try:
            sys.stdout.flush()
        except OSError:  # stdout itself failed: it would fail again when Python flushes it at exit
            _discard_stdout()
        where = f"{error.filename}: " if error.filename else ""
        stderr.print(ERROR, f"{where}{error.strerror or error}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _discard_stdout() -> None:
    """Point stdout at the null device, so what is still buffered can be flushed at exit."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def setup_logging() -> None:
    """Library log records (``logging``) as lines on stderr."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[RichHandler(console=stderr, show_path=False)])


def warn(message: str) -> None:
    """``warning: <message>`` on stderr."""
    stderr.print(WARNING, message, highlight=False)
