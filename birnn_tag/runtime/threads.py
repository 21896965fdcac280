"""How many threads torch's CPU pool gets: no more than the cores other processes leave free.

Torch runs one OpenMP thread per core, and every parallel region ends at a barrier that waits for
all of them. When another process keeps a core busy, the thread sharing that core runs only in
its time slices, and every region waits for it: on the project's 2-core machine an epoch beside
one busy Python loop took 3.6-4.3× as long with 2 threads, 1.5× with 1 (docs/benchmarks.md).
Spinning less (``OMP_WAIT_POLICY=PASSIVE``, ``GOMP_SPINCOUNT``) did not help as much and slowed
the idle case by up to 2.3×, so the count is chosen at start-up instead, and a training keeps
choosing it while it runs (:class:`ThreadController`): a process that starts mid-run had made
epochs up to 15× slower.

``training.threads`` is a ceiling, never a promise: only 1 fixes the count. Results differ in the
last bits between thread counts, so runs compared bit for bit (``--resume`` against an
uninterrupted run, tests, ``benchmarks/fault_injection.py``) set it to 1.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path

SAMPLES = 5  # reads of the run queue, SAMPLE_GAP apart; the fewest busy cores seen counts
SAMPLE_GAP = 0.01  # seconds
CHECK_SECONDS = 1.0  # how often a running training measures the others' load (38 µs a time)
# A core counts as busy once other processes use this share of it. An estimate, not a measurement:
# beside a process holding a core 30 % of the time, 2 threads lose about what 1 thread costs alone.
BUSY_SHARE = 0.3
RAISE_AFTER = 2  # checks in a row with cores to spare before threads are added back


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


def available_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def thread_count(requested: int | None) -> int:
    """Threads for torch's intra-op pool: ``requested`` (default: every core this process may
    use), capped by the cores not busy with other processes, and at least 1."""
    cores = available_cores()
    return max(1, min(requested or cores, cores - busy_cores()))


class OthersLoad:
    """Cores that other processes kept busy, on average, since the previous call.

    Mid-run, ``/proc/loadavg`` counts this training's own threads, and whether each of them is
    running changes between reading it and reading their states (reading those took 360 µs, too).
    CPU time has no such race: the time spent on this process's cores (``/proc/stat``, all but idle
    and iowait; steal too, since a stolen core stalls the barrier just the same) less this
    process's own (every thread), over the wall time between calls. 0.0 where ``/proc/stat`` is
    unavailable, which leaves the count where it started.
    """

    def __init__(self) -> None:
        self.cpus = {f"cpu{cpu}" for cpu in os.sched_getaffinity(0)} if hasattr(os, "sched_getaffinity") else set()
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.last = self._read()

    def _read(self) -> tuple[float, float, float] | None:
        """(wall seconds, CPU seconds on our cores by everyone, CPU seconds of this process)."""
        ticks = 0
        try:
            with open("/proc/stat") as stat:
                for line in stat:
                    if not line.startswith("cpu"):
                        break  # the per-core lines come first
                    # cpuN user nice system idle iowait irq softirq steal (guest time is in user)
                    name, user, nice, system, _idle, _iowait, irq, softirq, steal = line.split()[:9]
                    ticks += sum(map(int, (user, nice, system, irq, softirq, steal))) if name in self.cpus else 0
        except (OSError, ValueError):
            return None
        return time.monotonic(), ticks / self.tick, time.process_time()

    def __call__(self) -> float:
        now = self._read()
        if now is None or self.last is None or now[0] <= self.last[0]:
            return 0.0
        (wall, everyone, own), (wall_before, everyone_before, own_before) = now, self.last
        self.last = now
        return max(0.0, (everyone - everyone_before - (own - own_before)) / (wall - wall_before))


class ThreadController:
    """Keeps a training's thread count at the cores other processes leave free, while it runs.

    Starts at :func:`thread_count` and calls ``apply`` (``torch.set_num_threads``) with it; then
    :meth:`check`, called between optimiser steps, measures the others' load every
    :data:`CHECK_SECONDS` and moves the count within 1 to ``requested``. It drops as soon as
    another process takes a core (staying costs far more: 4× beside a busy loop at 2 threads) and
    comes back after :data:`RAISE_AFTER` calmer checks, so a short command does not make it flap.
    ``on_change(before, after, others)`` hears of each change.
    """

    def __init__(
        self,
        requested: int | None,
        apply: Callable[[int], None],
        on_change: Callable[[int, int, float], None] | None = None,
        others_load: Callable[[], float] | None = None,
    ) -> None:
        self.cores = available_cores()
        self.ceiling = min(requested or self.cores, self.cores)
        self.apply, self.on_change = apply, on_change
        self.threads = thread_count(requested)
        apply(self.threads)
        self.others_load = others_load if others_load is not None else OthersLoad()
        self.next_check = time.monotonic() + CHECK_SECONDS
        self.calm_checks = 0

    def check(self) -> None:
        """Measure and adapt if :data:`CHECK_SECONDS` have passed; otherwise only reads the clock."""
        if self.ceiling == 1 or time.monotonic() < self.next_check:
            return
        self.update(self.others_load())
        self.next_check = time.monotonic() + CHECK_SECONDS

    def update(self, others: float) -> int:
        """Adapt to ``others``, the cores other processes keep busy; returns the thread count."""
        busy = math.floor(others + 1 - BUSY_SHARE)
        wanted = max(1, min(self.ceiling, self.cores - busy))
        self.calm_checks = self.calm_checks + 1 if wanted > self.threads else 0
        if wanted < self.threads or self.calm_checks >= RAISE_AFTER:
            before, self.threads, self.calm_checks = self.threads, wanted, 0
            self.apply(wanted)
            if self.on_change is not None:
                self.on_change(before, wanted, others)
        return self.threads
