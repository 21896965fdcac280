"""One part of an input, so that N machines (or N jobs) tag it between them.

Parts are contiguous runs of inputs by position, their sizes differing by at most one, so the
outputs of parts 0…N−1 concatenated are the output of the whole input, byte for byte.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from birnn_tag.errors import BirnnTagError

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """Part ``index`` (0-based) of ``count`` parts."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str, setting: str = "--shard") -> Shard:
        """``"I/N"`` → part I of N, with 0 ≤ I < N; anything else is an error naming ``setting``."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if match is None or not 0 <= int(match[1]) < int(match[2]):
            raise BirnnTagError(f"{setting}: expected I/N with 0 <= I < N (part I of N, counted from 0), got {text!r}")
        return cls(int(match[1]), int(match[2]))

    def bounds(self, total: int) -> tuple[int, int]:
        """The positions ``[start, stop)`` of this part of ``total`` inputs."""
        return total * self.index // self.count, total * (self.index + 1) // self.count

    def take(self, read: Callable[[], Iterable[T]]) -> Iterator[T]:
        """This part of what ``read()`` yields; ``read`` is called twice (once to count), so it
        must read the same input again each time."""
        start, stop = self.bounds(sum(1 for _ in read()))
        return itertools.islice(read(), start, stop)
