"""Torch's thread count leaves the cores that other processes keep busy, at start-up and while a
training runs."""

import itertools
import os
import subprocess
import sys
import time

import pytest
import torch

from birnn_tag.runtime import threads
from birnn_tag.config import config_from_dict
from birnn_tag.training.events import Message
from birnn_tag.training.loop import train
from conftest import tiny_config_dict

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


@pytest.fixture
def two_free_cores(monkeypatch):
    """Two cores, both free at start-up; torch's thread count restored afterwards."""
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(threads, "busy_cores", lambda: 0)
    original = torch.get_num_threads()
    yield
    torch.set_num_threads(original)


def test_the_controller_drops_a_thread_while_others_are_busy_and_adds_it_back_once_they_stop(two_free_cores):
    applied, changes = [], []
    controller = threads.ThreadController(None, applied.append, lambda *change: changes.append(change), lambda: 0.0)
    # A short command (0.2 of a core) changes nothing; a busy process drops a thread at once; it
    # comes back after RAISE_AFTER (2) checks with the core free.
    counts = [controller.update(others) for others in (0.0, 0.2, 1.0, 0.7, 1.0, 0.0, 0.05, 0.0)]
    assert counts == [2, 2, 1, 1, 1, 1, 2, 2]
    assert applied == [2, 1, 2]
    assert changes == [(2, 1, 1.0), (1, 2, 0.05)]


def test_one_requested_thread_is_never_changed(two_free_cores, monkeypatch):
    monkeypatch.setattr(threads, "CHECK_SECONDS", 0.0)
    applied = []
    controller = threads.ThreadController(1, applied.append, others_load=lambda: pytest.fail("load measured"))
    controller.check()
    assert applied == [1]


@pytest.mark.skipif(CORES < 2, reason="needs 2 cores: one to keep busy, one left")
def test_the_others_load_counts_a_busy_process_and_not_this_one():
    load = threads.OthersLoad()
    end = time.monotonic() + 0.3
    while time.monotonic() < end:  # this process busy: not counted
        pass
    assert load() < CORES - 0.5
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        assert load() > 0.3  # whatever else runs, the loop gets its share of a core
    finally:
        busy.kill()
        busy.wait()


def test_training_adapts_its_thread_count_to_a_load_that_changes_mid_run(two_free_cores, monkeypatch, tmp_path, tiny_conll):
    loads = itertools.chain([1.0, 1.0], itertools.repeat(0.0))  # another process busy for two checks
    monkeypatch.setattr(threads, "OthersLoad", lambda: lambda: next(loads))
    monkeypatch.setattr(threads, "CHECK_SECONDS", 0.0)
    config = config_from_dict(tiny_config_dict(tiny_conll, tmp_path / "run", epochs=2, threads=2))
    events = []
    train(config, on_event=events.append)
    changes = [event.text for event in events if isinstance(event, Message) and event.text.startswith("threads")]
    assert changes == ["threads 2 → 1: other processes keep 1.0 cores busy", "threads 1 → 2: cores are free again"]
    assert torch.get_num_threads() == 2
