"""Writing files without losing what is there: atomic replacement of regular files, and output
targets that may be devices, FIFOs or symlinks.

A new version of a regular file is written next to it and renamed over it, so a crash or a full
disk leaves the old version or the new one, never a mix. A rename must never be pointed at
anything else: renaming over ``/dev/null`` or a FIFO replaces the special file with a regular one,
and renaming over a symlink replaces the link instead of the file it names.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from birnn_tag.errors import BirnnTagError

TEMPORARY_SUFFIX = ".tmp"


def write_error(path: Path | str, error: OSError) -> BirnnTagError:
    """The one-line error for a failed write (``runs/x/last.pt: cannot write: No space left on device``)."""
    return BirnnTagError(f"{path}: cannot write: {error.strerror or error}")


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every file system allows it)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: written to ``path.tmp``, flushed to disk, then renamed.

    On failure the temporary file is removed and the old ``path`` is left as it was.
    """
    temporary = path.with_name(path.name + TEMPORARY_SUFFIX)
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise write_error(path, error) from None
    _sync_folder(path.parent)


def append_line(path: Path, line: str) -> None:
    """Append one line to ``path`` and flush it to disk."""
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise write_error(path, error) from None


def is_special(path: Path) -> bool:
    """Whether ``path`` is to be written in place: it exists and (after following symlinks) is
    not a regular file (a device, a FIFO, a socket), or it is a name for an open stream such as
    ``/dev/stdout`` or ``/proc/self/fd/1`` (even when that stream is redirected to a file)."""
    if path.is_absolute() and path.parts[1:2] in (("dev",), ("proc",)):
        return True
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def same_file(first: Path, second: Path) -> bool:
    """Whether two names lead to the same existing file (through symlinks and hard links)."""
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


@contextmanager
def open_output(name: str, *, input_name: str | None = None, binary: bool = False) -> Iterator[Any]:
    """A text stream (a byte stream if ``binary``) for a command's output: ``-`` is stdout; devices and FIFOs are written
    directly; a regular file (a symlink to one is followed) is written to ``<file>.partial`` and
    renamed over the file only when everything was written.

    If a :class:`BirnnTagError` stops the writer, what was written so far stays in the
    ``.partial`` file and the error says so; if the disk fails (full, read-only), the ``.partial``
    file is removed. ``input_name`` is refused as the output: the input would be replaced.
    """
    if name == "-":
        yield sys.stdout.buffer if binary else sys.stdout
        sys.stdout.flush()
        return
    path = Path(name)
    if input_name not in (None, "-") and same_file(path, Path(input_name)):
        raise BirnnTagError(f"{path}: is the input file; write the output to another file")
    if path.is_dir():
        raise BirnnTagError(f"{path}: is a folder; give a file name for the output")
    if is_special(path):
        handle = _open(path, binary)
        try:
            with handle:
                yield handle
        except OSError as error:
            raise write_error(path, error) from None
        return
    target = path.resolve()  # write through a symlink, never over it
    partial = target.with_name(target.name + ".partial")
    handle = _open(partial, binary)
    try:
        with handle:
            yield handle
    except BirnnTagError as error:
        raise BirnnTagError(f"{error} (results before this are in {partial})") from None
    except OSError as error:  # a full or failing disk: an incomplete file is of no use
        partial.unlink(missing_ok=True)
        raise write_error(path, error) from None
    try:
        os.replace(partial, target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise write_error(path, error) from None


def _open(path: Path, binary: bool = False) -> Any:
    """``path`` opened for writing text (or bytes), or a one-line error."""
    try:
        return path.open("wb") if binary else path.open("w", encoding="utf-8")
    except OSError as error:
        raise write_error(path, error) from None
