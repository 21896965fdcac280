"""Load test of `birnn-tag serve` on loopback: concurrency 1 / 8 / 32, bounded in requests and time.

    python benchmarks/load_test_service.py MODEL --data ../shared/data/conll2003/eng.testb \\
        --requests 200 --sentences-per-request 4

Starts the service on MODEL (a run, checkpoint or export folder), sends REQUESTS requests of a few
test sentences (``{"tokens": ...}``) at each concurrency, and checks every answer against the
records ``birnn_tag.load(MODEL).tag_tokens`` gives for the same sentences (what ``predict`` writes):
tags and spans identical, confidences within 1e-3.
Reports requests/s, sentences/s, p50 / p99 latency, errors, and the service's RSS after warm-up and
after each round (a leak grows from round to round; caches fill in the first), then sends SIGTERM
and times the exit. The client threads run on the same machine as the service. Prints a markdown
table for docs/benchmarks.md.

    python benchmarks/load_test_service.py MODEL --sigterm-after 0.3 --clients 16 --texts 1000 [--grace 30]

instead sends one request of TEXTS texts from each of CLIENTS clients at once, SIGTERMs the service
after S seconds, and reports how many requests were accepted, answered (200, every text) and lost
(accepted, not answered), how many were refused (503 or no connection: never accepted), and the
service's exit code and last line. The service must lose none and exit 0 when the grace suffices.
"""

from __future__ import annotations

import argparse
import http.client
import json
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import birnn_tag
from birnn_tag.data.reading.conll import ColumnFormat, read_conll


def machine() -> str:
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def post(url: str, body: dict) -> tuple[int, dict, float]:
    started = time.perf_counter()
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, answer = response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        status, answer = error.code, json.loads(error.read())
    return status, answer, time.perf_counter() - started


def same(got: list[dict], expected: list[dict]) -> bool:
    """Tags and spans (types, offsets) identical, confidences within 1e-3: batched with other
    requests' sentences, a sentence's scores may round differently in the last bits (and so in
    the 4th decimal written), never enough to change a tag."""
    def bare(record: dict) -> tuple:
        return record["tags"], [(s["type"], s["start"], s["end"]) for s in record.get("spans", [])]

    close = all(
        abs(a - b) <= 1e-3
        for g, e in zip(got, expected)
        for a, b in zip(g.get("confidences", []), e.get("confidences", []))
    )
    return len(got) == len(expected) and all(bare(g) == bare(e) for g, e in zip(got, expected)) and close


def outcome(url: str, body: dict, count: int) -> str:
    """One request's fate at shutdown: answered, refused (never accepted: 503 "not taking new
    requests", connection refused, or closed before the service read it), or lost."""
    try:
        status, answer, _ = post(url, body)
    except (ConnectionError, urllib.error.URLError, http.client.RemoteDisconnected):
        return "refused"
    except ValueError:  # not JSON: uvicorn's plain-text 500 for a request it cancelled
        return "lost"
    if status == 200 and len(answer["results"]) == count:
        return "answered"
    return "refused" if status == 503 and "not taking new requests" in answer.get("error", "") else "lost"


def sigterm_under_load(args: argparse.Namespace) -> None:
    """The --sigterm-after mode (see the module docstring)."""
    sentences = [" ".join(tokens) for tokens in read_conll(args.data, ColumnFormat(tag_column=None))["tokens"]]
    texts = [sentences[i % len(sentences)] for i in range(args.texts)]
    grace = [] if args.grace is None else ["--grace", str(args.grace)]
    service, base = start_service(args.model, *grace, stderr=subprocess.PIPE)
    with ThreadPoolExecutor(args.clients) as pool:
        started = time.perf_counter()
        futures = [pool.submit(outcome, base + "/tag", {"texts": texts}, len(texts)) for _ in range(args.clients)]
        time.sleep(max(0.0, args.sigterm_after - (time.perf_counter() - started)))
        service.send_signal(signal.SIGTERM)
        stopping = time.perf_counter()
        outcomes = [future.result() for future in futures]
    code = service.wait(timeout=(args.grace or 30) + 60)
    stop_seconds = time.perf_counter() - stopping
    last = service.stderr.read().strip().splitlines()[-1:]
    answered, lost = outcomes.count("answered"), outcomes.count("lost")
    print(f"machine: {machine()}; model {args.model}; serve {' '.join(grace) or '(default grace)'}")
    print(f"{args.clients} clients x {args.texts} texts, SIGTERM after {args.sigterm_after:g} s: accepted {answered + lost}, "
          f"answered {answered}, lost {lost}, refused {outcomes.count('refused')}; exit code {code} after {stop_seconds:.2f} s; "
          f"service's last line: {last[0] if last else '(none)'}")


def start_service(model: str, *options: str, stderr: int = subprocess.DEVNULL) -> tuple[subprocess.Popen, str]:
    """`birnn-tag serve MODEL` on a free loopback port, once /health answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "birnn_tag", "serve", model, "--port", str(port), "--device", "cpu", *options]
    service = subprocess.Popen(command, stderr=stderr, stdout=subprocess.DEVNULL, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(base + "/health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    return service, base


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--data", default="../shared/data/conll2003/eng.testb")
    parser.add_argument("--requests", type=int, default=200, help="requests per concurrency level")
    parser.add_argument("--sentences-per-request", type=int, default=4)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per concurrency level at most")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over the concurrency levels (RSS read after each)")
    parser.add_argument("--sigterm-after", type=float, help="SIGTERM under load instead (see above), after this many seconds")
    parser.add_argument("--clients", type=int, default=16, help="--sigterm-after: clients, one request each")
    parser.add_argument("--texts", type=int, default=1000, help="--sigterm-after: texts per request")
    parser.add_argument("--grace", type=float, help="--sigterm-after: serve --grace (default: serve's)")
    args = parser.parse_args()
    if args.sigterm_after is not None:
        sigterm_under_load(args)
        return

    sentences = read_conll(args.data, ColumnFormat(tag_column=None))["tokens"]
    size = args.sentences_per_request
    bodies = [sentences[(i * size) % len(sentences) :][:size] for i in range(args.requests)]
    reference = birnn_tag.load(args.model, device="cpu")
    expected = [[p.to_record() for p in reference.tag_tokens(body)] for body in bodies]
    del reference

    service, base = start_service(args.model)
    post(base + "/tag", {"tokens": bodies[0]})  # warm-up
    rss = [rss_mb(service.pid)]
    rows = []
    for round_number, concurrency in ((r, c) for r in range(1, args.rounds + 1) for c in args.concurrency):
        started = time.perf_counter()
        deadline = started + args.time_limit

        def one(index: int) -> tuple[bool, bool, float]:
            if time.perf_counter() > deadline:
                return False, False, 0.0
            status, answer, seconds = post(base + "/tag", {"tokens": bodies[index]})
            return True, status == 200 and same(answer["results"], expected[index]), seconds

        with ThreadPoolExecutor(concurrency) as pool:
            outcomes = list(pool.map(one, range(args.requests)))
        elapsed = time.perf_counter() - started
        sent = [o for o in outcomes if o[0]]
        latencies = [o[2] for o in sent]
        rows.append((round_number, concurrency, len(sent), sum(not o[1] for o in sent), len(sent) / elapsed,
                     len(sent) * size / elapsed, percentile(latencies, 0.5), percentile(latencies, 0.99)))
        if concurrency == args.concurrency[-1]:
            rss.append(rss_mb(service.pid))
    status, bad, _ = post(base + "/tag", {"texts": "not a list"})
    stopping = time.perf_counter()
    service.send_signal(signal.SIGTERM)
    code = service.wait(timeout=30)
    stop_seconds = time.perf_counter() - stopping

    print(f"machine: {machine()}; model {args.model}; {size} sentences per request ({args.data})\n")
    print("| round | clients | requests | errors (non-200, other tags or spans) | requests/s | sentences/s | p50 latency | p99 latency |")
    print("|---|---|---|---|---|---|---|---|")
    for round_number, concurrency, count, errors, per_second, sentences_per_second, p50, p99 in rows:
        print(f"| {round_number} | {concurrency} | {count} | {errors} | {per_second:,.1f} | {sentences_per_second:,.0f} | {1000 * p50:.1f} ms | {1000 * p99:.1f} ms |")
    after = ", ".join(f"{value:,.0f} MB after round {i}" for i, value in enumerate(rss[1:], start=1))
    print(f"\nRSS {rss[0]:,.0f} MB after warm-up, {after}; a malformed request got {status} {bad}")
    print(f"SIGTERM: exit code {code} after {stop_seconds:.2f} s")


if __name__ == "__main__":
    main()
