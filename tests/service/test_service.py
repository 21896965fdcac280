"""`birnn-tag serve`: answers as predict does, batches concurrent requests, refuses bad ones with
4xx JSON naming the field and keeps running, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from birnn_tag.cli.app import app
from birnn_tag.runs.loading import load_model
from birnn_tag.service.batcher import Busy, MicroBatcher
from birnn_tag.tagging.onnx.export import export_model

TEXTS = ["Peter Blackburn lives in Paris .", "Anna Berg visited Oslo .", "", "EU rejects German call to boycott British lamb ."]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def service(model: Path, *options: str):
    """A `birnn-tag serve` process on a free loopback port; yields (process, base URL)."""
    port = free_port()
    command = [sys.executable, "-m", "birnn_tag", "serve", str(model), "--port", str(port), "--device", "cpu", *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                raise AssertionError(f"serve exited: {process.stderr.read()}")
            try:
                urllib.request.urlopen(base + "/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def call(base: str, path: str, body: object | bytes | None = None) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def predict_records(run: Path, tmp_path: Path, texts: list[str] = TEXTS) -> list[dict]:
    source = tmp_path / "in.txt"
    source.write_text("\n".join(texts) + "\n")
    result = CliRunner().invoke(app, ["predict", str(run), str(source), "--format", "jsonl", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def test_the_service_answers_as_predict_under_concurrency_and_stops_on_sigterm(trained_run, tmp_path):
    expected = predict_records(trained_run, tmp_path)
    with service(trained_run, "--max-wait-ms", "20") as (process, base):
        assert call(base, "/health") == (200, {"status": "ok"})
        status, info = call(base, "/info")
        assert status == 200 and info["task"] == "tagging" and info["labels"] and info["backend"] == "pytorch"
        assert call(base, "/tag", {"texts": TEXTS}) == (200, {"results": expected})
        tokens = [text.split() for text in TEXTS]
        assert call(base, "/tag", {"tokens": tokens})[1]["results"] == expected  # these texts are their tokens
        # 8 clients × 50 requests, batched with whatever else arrives: each answer equals predict's
        # records exactly, confidences included (sentences of up to 240 tokens, whose CRF marginals
        # once depended on their batch neighbours).
        texts = TEXTS + [" ".join([TEXTS[0]] * n) for n in (10, 40)]
        expected = predict_records(trained_run, tmp_path, texts)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: call(base, "/tag", {"texts": [texts[i % len(texts)]]}), range(400)))
        assert all(answer == (200, {"results": [expected[i % len(texts)]]}) for i, answer in enumerate(answers))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0


@pytest.mark.parametrize(
    "body,status,message",
    [
        (b"", 400, "body: empty"),
        (b"{not json", 400, "body: not valid JSON"),
        ([1, 2], 422, "body: expected a JSON object, got list"),
        ({}, 422, "expected exactly one of the fields texts or tokens"),
        ({"texts": ["a"], "extra": 1}, 422, "'extra': unknown field"),
        ({"texts": "Peter lives"}, 422, "texts: expected a list of strings, got str"),
        ({"texts": ["ok", 5]}, 422, "texts[1]: expected a string, got int"),
        ({"tokens": [["a"], "b"]}, 422, "tokens[1]: expected a list of strings, got str"),
        ({"tokens": [["a", " "]]}, 422, "tokens[0][1]: empty token"),
        ({"tokens": [["a", ""]]}, 422, "tokens[0][1]: empty token"),
        ({"tokens": [["Peter", "  Paris"]]}, 422, "tokens[0][1]: whitespace in token '  Paris'"),
        ({"tokens": [["a"], ["New York"]]}, 422, "tokens[1][0]: whitespace in token 'New York'"),
        ({"texts": ["x"] * 6}, 413, "texts: 6 items, more than the limit of 5"),
        ({"texts": ["x" * 101]}, 413, "texts: 101 characters, more than the limit of 100"),
    ],
)
def test_bad_requests_get_a_4xx_naming_the_field(served, body, status, message):
    base = served
    got_status, answer = call(base, "/tag", body)
    assert got_status == status and message in answer["error"], answer
    assert call(base, "/tag", {"texts": ["Peter lives in Paris ."]})[0] == 200  # still serving


@pytest.fixture(scope="module")
def served(trained_run):
    with service(trained_run, "--max-texts", "5", "--max-chars", "100") as (_, base):
        yield base


def test_an_export_is_served_like_its_run(trained_run, tmp_path):
    folder = export_model(load_model(trained_run), tmp_path / "export")
    expected = predict_records(trained_run, tmp_path)
    with service(folder) as (_, base):
        status, answer = call(base, "/tag", {"texts": TEXTS})
        assert status == 200 and [r["tags"] for r in answer["results"]] == [r["tags"] for r in expected]
        assert call(base, "/info")[1]["backend"] == "onnxruntime"


def test_a_cloze_run_fills_blanks(cloze_run):
    with service(cloze_run / "run") as (_, base):
        status, answer = call(base, "/fill", {"texts": ["joe likes ___ , especially fried , scrambled or poached ."], "top_k": 3})
        assert status == 200 and len(answer["results"][0]["blanks"][0]["candidates"]) == 3
        status, answer = call(base, "/fill", {"texts": ["joe likes ___ ."], "choices": ["eggs", "cars"]})
        assert [c["word"] for c in answer["results"][0]["blanks"][0]["candidates"]] == ["eggs", "cars"]
        assert call(base, "/fill", {"texts": ["a ___"], "top_k": 0})[0] == 422
        assert call(base, "/tag", {"texts": ["a"]})[0] == 404


def test_concurrent_requests_are_run_as_one_batch():
    calls = []

    def run(items):
        calls.append(list(items))
        return [item * 10 for item in items]

    async def scenario():
        batcher = MicroBatcher(run, max_batch=100, max_wait=0.2)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit([i, i + 1]) for i in range(0, 16, 2)))
        small = MicroBatcher(run, max_batch=4, max_wait=0.2)  # a full batch does not wait
        small.start()
        started = time.perf_counter()
        await asyncio.gather(small.submit([1, 2]), small.submit([3, 4]))
        waited = time.perf_counter() - started
        await batcher.stop()
        await small.stop()
        return results, waited

    results, waited = asyncio.run(scenario())
    assert results == [[10 * i, 10 * (i + 1)] for i in range(0, 16, 2)]
    assert calls[0] == list(range(16)) and calls[1] == [1, 2, 3, 4]
    assert waited < 0.15


def test_a_failing_request_fails_alone_and_the_batcher_restarts_on_another_loop():
    def run(items):
        if "bad" in items:
            raise ValueError("boom")
        return items

    async def scenario():
        batcher = MicroBatcher(run, max_batch=10, max_wait=0.2)  # started by the first request
        results = await asyncio.gather(batcher.submit(["bad"]), batcher.submit(["good"]), return_exceptions=True)
        await batcher.stop()
        return batcher, results

    batcher, results = asyncio.run(scenario())
    assert isinstance(results[0], ValueError) and results[1] == ["good"]  # batched together, failed apart

    async def again():
        result = await batcher.submit(["fine"])
        await batcher.stop()
        return result

    assert asyncio.run(again()) == ["fine"]  # a new event loop: a new queue and model thread


def test_stopping_answers_every_request_already_submitted_and_refuses_new_ones():
    def run(items):
        time.sleep(0.02)
        return [item * 10 for item in items]

    async def scenario():
        batcher = MicroBatcher(run, max_batch=2, max_wait=0.01)
        waiting = [asyncio.ensure_future(batcher.submit([i])) for i in range(6)]
        await asyncio.sleep(0)  # all six are queued
        stopping = asyncio.ensure_future(batcher.stop())
        await asyncio.sleep(0)
        with pytest.raises(Busy, match="stopping"):
            await batcher.submit([9])
        await stopping
        return [job.result() for job in waiting], batcher.batches

    results, batches = asyncio.run(scenario())
    assert results == [[10 * i] for i in range(6)] and batches == 3
