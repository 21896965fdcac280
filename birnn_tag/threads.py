"""How many threads torch's CPU pool gets: no more than the cores other processes leave free.

Torch runs one OpenMP thread per core, and every parallel region ends at a barrier that waits for
all of them. When another process keeps a core busy, the thread sharing that core runs only in
its time slices, and every region waits for it: on the project's 2-core machine an epoch beside
one busy Python loop took 3.6-4.3× as long with 2 threads, 1.5× with 1 (docs/benchmarks.md).
Spinning less (``OMP_WAIT_POLICY=PASSIVE``, ``GOMP_SPINCOUNT``) did not help as much and slowed
the idle case by up to 2.3×, so the count is chosen at start-up instead.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

SAMPLES = 5  # reads of the run queue, SAMPLE_GAP apart; the fewest busy cores seen counts
SAMPLE_GAP = 0.01  # seconds


def _own_running_threads() -> int:
    """Threads of this process that are running or runnable (state ``R``) right now."""
    running = 0
    for stat in Path("/proc/self/task").glob("*/stat"):
        try:
            # The state follows the parenthesised command name, which may itself hold spaces.
            running += stat.read_text().rsplit(")", 1)[1].split()[0] == "R"
        except (OSError, IndexError):  # the thread ended while we looked
            continue
    return running


def busy_cores() -> int:
    """Cores that other processes keep busy: runnable tasks in ``/proc/loadavg`` (its fourth
    field, ``running/total``) less this process's own, the fewest of :data:`SAMPLES` reads so a
    short-lived command does not count. 0 where ``/proc`` is unavailable."""
    counts = []
    for sample in range(SAMPLES):
        if sample:
            time.sleep(SAMPLE_GAP)
        try:
            running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
        except (OSError, IndexError, ValueError):
            return 0
        counts.append(max(0, running - _own_running_threads()))
    return min(counts)


def thread_count(requested: int | None) -> int:
    """Threads for torch's intra-op pool: ``requested`` (default: every core this process may
    use), capped by the cores not busy with other processes, and at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    wanted = min(requested or cores, cores)
    return max(1, min(wanted, cores - busy_cores()))
