"""Embedded engine throughput and batch API latency.

1. Batches per minute: N reference batches (vehicle boxes + lane polylines at
   level 1, their audits at level 2) over 2 synthetic clips x 150 frames each,
   submitted together and driven by one embedded runner with the simulated
   workforce (jobs finish as soon as their outputs are written).
2. POST /batch/create latency under 20 concurrent clients against
   `labellake api` in its own process (with its runner on; simulated jobs are
   held open so the runner's labeling work does not share the measurement).

Run: .venv/bin/python benchmarks/engine.py [--batches 12] [--requests 400]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from api_process import api_process

from labellake.settings import Settings
from labellake.workflows.compose import build_engine, open_home
from labellake.workflows.labeling.runner import Runner
from labellake.workflows.samples import synthetic
from labellake.workflows.samples.demo import demo_request


def machine() -> str:
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


def batches_per_minute(home: Path, batches: int) -> dict[str, float]:
    engine = build_engine(open_home(Settings(home=home, simulated_job_seconds=0)))
    samples = synthetic.generate(engine.objects, dataset="bench/2x150", clips=2, frames=150)
    started = time.perf_counter()
    ids = [engine.submit(demo_request(f"bench{i}", samples)) for i in range(batches)]
    submitted = time.perf_counter()
    stop = threading.Event()
    done = lambda: all(engine.state.batch(b)["status"] != "IN_PROGRESS" for b in ids)  # noqa: E731
    Runner(engine, poll_s=0.01).run(stop, until=done)
    elapsed = time.perf_counter() - started
    statuses = {engine.state.batch(b)["status"] for b in ids}
    assert statuses == {"COMPLETE"}, statuses
    return {
        "batches": batches,
        "seconds": elapsed,
        "submit_seconds": submitted - started,
        "batches_per_minute": batches / elapsed * 60,
    }


def create_latency(home: Path, requests: int, clients: int) -> dict[str, float]:
    engine = build_engine(open_home(Settings(home=home)))
    samples = synthetic.generate(engine.objects, dataset="bench/2x150", clips=2, frames=150)
    with api_process(home, simulated_job_seconds="1e9") as (url, auth):
        latencies: list[float] = []
        lock = threading.Lock()

        def client(worker: int) -> None:
            with httpx.Client(base_url=url, timeout=60, headers=auth) as http:
                for i in range(worker, requests, clients):
                    body = demo_request(f"lat{i}", samples)
                    start = time.perf_counter()
                    answer = http.post("/batch/create", json=body)
                    spent = time.perf_counter() - start
                    assert answer.status_code == 200, answer.text
                    with lock:
                        latencies.append(spent)

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(client, range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": requests,
        "clients": clients,
        "p50_ms": statistics.quantiles(latencies, n=100)[49] * 1000,
        "p99_ms": statistics.quantiles(latencies, n=100)[98] * 1000,
        "requests_per_second": requests / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        throughput = batches_per_minute(Path(tmp) / "throughput", args.batches)
    print(
        f"engine: {throughput['batches']} batches (4 jobs, 2 levels, 2 clips x 150 frames) "
        f"in {throughput['seconds']:.1f} s = {throughput['batches_per_minute']:.1f} "
        f"batches/minute"
    )
    with tempfile.TemporaryDirectory() as tmp:
        latency = create_latency(Path(tmp) / "latency", args.requests, args.clients)
    print(
        f"api: POST /batch/create x {latency['requests']} from {latency['clients']} clients: "
        f"p50 {latency['p50_ms']:.0f} ms, p99 {latency['p99_ms']:.0f} ms, "
        f"{latency['requests_per_second']:.1f} requests/s"
    )
    print(json.dumps({"throughput": throughput, "latency": latency}))


if __name__ == "__main__":
    main()
