"""Torch's thread count leaves the cores that other processes keep busy."""

import os
import subprocess
import sys
import time

import pytest

from birnn_tag import threads

CORES = len(os.sched_getaffinity(0))


@pytest.mark.skipif(CORES < 2, reason="needs 2 cores: one to keep busy, one left")
def test_a_busy_process_takes_a_core_from_the_thread_count():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # until the loop runs
        assert threads.busy_cores() >= 1
        assert threads.thread_count(None) <= CORES - 1
        assert threads.thread_count(CORES) <= CORES - 1
    finally:
        busy.kill()
        busy.wait()


@pytest.mark.parametrize(
    ("requested", "busy", "expected"),
    [(None, 0, CORES), (1, 0, 1), (CORES + 8, 0, CORES), (None, CORES, 1), (None, CORES + 3, 1)],
)
def test_the_count_is_the_request_capped_by_free_cores_and_at_least_one(monkeypatch, requested, busy, expected):
    monkeypatch.setattr(threads, "busy_cores", lambda: busy)
    assert threads.thread_count(requested) == expected
