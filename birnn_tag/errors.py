"""Exceptions that carry a one-line, user-facing message.

Library code raises these; only the CLI turns them into a message and an exit code.
"""

from __future__ import annotations

import reprlib
from typing import Any


class BirnnTagError(Exception):
    """A problem the user can fix: bad config, bad data file, wrong checkpoint."""


class ConfigError(BirnnTagError):
    """An invalid, unknown or mistyped configuration key."""


class DataError(BirnnTagError):
    """A malformed or unusable data file; the message names the file and line."""


class CheckpointError(BirnnTagError):
    """A checkpoint that is missing, corrupt, or not written by birnn-tag."""


class _ShortRepr(reprlib.Repr):
    """``reprlib`` with tight limits, so that it reads a few items of the top two levels at most:
    a structure that expands to billions of values is described in microseconds."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 2
        self.maxdict = self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = 3
        self.maxstring = self.maxother = 40

    def repr_int(self, x: int, level: int) -> str:
        # Python refuses to print an int of more than 4300 digits, and long ones print slowly.
        return repr(x) if x.bit_length() <= 128 else f"<{x.bit_length()}-bit integer>"

    def repr_instance(self, x: Any, level: int) -> str:
        # reprlib picks its method by exact type name: subclasses (OrderedDict, bool) and types it
        # has no method for would otherwise get the builtin repr, which expands everything.
        for base in (dict, list, tuple, set, frozenset, str, int):
            if isinstance(x, base):
                return getattr(self, f"repr_{base.__name__}")(x, level)
        return super().repr_instance(x, level)


_SHORT_REPR = _ShortRepr()


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to at most ``limit`` characters, without building the full repr."""
    text = _SHORT_REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def first_line(error: BaseException) -> str:
    """The first line of an exception's message, or its type's name: messages from libraries
    (PyYAML, torch, datasets) can be pages long."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
