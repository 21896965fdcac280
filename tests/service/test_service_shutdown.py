"""`birnn-tag serve` stopping under load: SIGTERM answers every accepted request within
``--grace`` and exits 0; what the grace cuts is answered 503, counted on stderr, and exits 1.
A busy port is one line of error. Real processes on free loopback ports."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor

from test_service import call, service

TEXT = "Peter Blackburn and Anna Berg flew from Oslo to Paris with Acme on Monday ."
# The requests wait together in the batcher for 6 s (longer than the 5 s grace serve used to have)
# and are then tagged in one batch: they are in flight at SIGTERM however fast or busy the machine.
SLOW_BATCH = ("--max-batch", "100000", "--max-wait-ms", "6000")


def send(base: str, texts: list[str]) -> tuple[str, float]:
    """One request's fate and when it came back: answered (200, every text), refused (never
    accepted: 503 "not taking new requests", or no connection), cut (503 after the grace) or lost."""
    try:
        status, answer = call(base, "/tag", {"texts": texts})
    except (ConnectionError, urllib.error.URLError):
        return "refused", time.perf_counter()
    except ValueError:  # not JSON: the plain-text 500 of a request uvicorn cancelled
        return "lost", time.perf_counter()
    error = answer.get("error", "")
    if status == 200 and len(answer["results"]) == len(texts):
        fate = "answered"
    elif status == 503 and "not taking new requests" in error:
        fate = "refused"
    else:
        fate = "cut" if status == 503 and "grace period" in error else "lost"
    return fate, time.perf_counter()


def sigterm_under_load(process: subprocess.Popen, base: str, clients: int, texts: int) -> tuple[list[str], float, float]:
    """``clients`` requests of ``texts`` texts at once, SIGTERM 0.3 s later: each request's fate,
    when the signal went, and when the last answer came."""
    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(send, base, [TEXT] * texts) for _ in range(clients)]
        time.sleep(0.3)
        signalled = time.perf_counter()
        process.send_signal(signal.SIGTERM)
        outcomes = [future.result() for future in futures]
    return [fate for fate, _ in outcomes], signalled, max(when for _, when in outcomes)


def test_sigterm_under_load_answers_every_accepted_request_and_exits_0(trained_run):
    with service(trained_run, *SLOW_BATCH) as (process, base):
        fates, signalled, last = sigterm_under_load(process, base, clients=16, texts=100)
        code = process.wait(timeout=60)
        log = process.stderr.read()
    assert fates.count("lost") == 0 and fates.count("cut") == 0, (fates, log)
    assert fates.count("answered") >= 1 and last > signalled  # requests were still running at SIGTERM
    assert code == 0, log
    assert log.strip().splitlines()[-1] == "stopped" and "Traceback" not in log, log


def test_requests_cut_by_the_grace_are_answered_503_counted_and_exit_1(trained_run):
    with service(trained_run, "--grace", "0", *SLOW_BATCH) as (process, base):
        fates, _, _ = sigterm_under_load(process, base, clients=16, texts=100)
        code = process.wait(timeout=60)
        log = process.stderr.read()
    cut = fates.count("cut")
    assert cut >= 1 and fates.count("lost") == 0, (fates, log)
    assert code == 1, log
    assert f"error: {cut} accepted request(s) cut: not finished within the grace period of 0 s (--grace)" in log, log
    assert "Traceback" not in log, log


def test_a_busy_port_is_one_line_of_error_and_exit_1(trained_run):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "birnn_tag", "serve", str(trained_run), "--port", str(port), "--device", "cpu"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: 127.0.0.1:{port}: address already in use"], result.stderr


def test_port_0_serves_on_the_free_port_it_prints(trained_run):
    command = [sys.executable, "-m", "birnn_tag", "serve", str(trained_run), "--port", "0", "--device", "cpu"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        line = next(line for line in process.stderr if line.startswith("serving "))
        base = line.split(" on ", 1)[1].split()[0]
        assert base.startswith("http://127.0.0.1:") and not base.endswith(":0"), line
        assert call(base, "/health") == (200, {"status": "ok"})
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
