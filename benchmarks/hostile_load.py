"""The API under a hostile load: 50 concurrent clients for 60 s against `labellake api`.

Starts the real command (`labellake api`, with its runner and the simulated workforce) on a
fresh home with sample clips, on 127.0.0.1. Each client loops over a mix of requests:

- create: a valid one-job batch with a new id (the runner works them off meanwhile);
- show: the batch list, or one batch the client created;
- bad body: malformed JSON, 10,000-deep JSON, a field of the wrong type, a manifest URI
  outside the object store (/etc/passwd, the home's state.db), a body over the size cap;
- sql: POST /model whose `query` is a cross join that only the SQL timeout stops;
- wrong token.

Prints requests/s, p50/p99 latency by kind, the counts of 2xx/4xx/5xx, and the lost-batch
count: every create answered 200 is looked up in the state store at the end.

Run: .venv/bin/python benchmarks/hostile_load.py [--clients 50] [--seconds 60] [--skip sql]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from api_process import api_process

from labellake.lake import ObjectStore
from labellake.portal.api import MAX_BODY_BYTES
from labellake.workflows.samples import synthetic
from labellake.workflows.samples.demo import demo_request

# Ten billion pairs: only the SQL timeout stops it.
CROSS_JOIN = (
    "SELECT count(*) AS seconds, 1 AS x FROM (SELECT unnest(range(100000)) AS a) s1, "
    "(SELECT unnest(range(100000)) AS b) s2 WHERE a * b = 7"
)
KINDS = {"create": 3, "show": 4, "bad_body": 3, "sql": 1, "wrong_token": 2}


def bad_bodies(home: Path, request: dict[str, Any]) -> list[tuple[str, bytes]]:
    """(path, body) pairs a careless or hostile client sends."""
    outside = json.loads(json.dumps(request))
    outside["labelingJobs"][0]["inputConfig"]["inputManifestS3Uri"] = "/etc/passwd"
    state = json.loads(json.dumps(request))
    state["labelingJobs"][0]["labelCategoryConfigS3Uri"] = str(home / "state.db")
    typed = json.loads(json.dumps(request))
    typed["labelingJobs"][0]["jobLevel"] = "1"
    return [
        ("/batch/create", b"{oops"),
        ("/batch/create", b"[" * 10_000 + b"]" * 10_000),
        ("/batch/create", json.dumps(outside).encode()),
        ("/batch/create", json.dumps(state).encode()),
        ("/batch/create", json.dumps(typed).encode()),
        ("/batch/stop", b'{"batchId": true}'),
        ("/model", b'{"csvUri": "/etc/shadow", "target": "seconds"}'),
        ("/batch/create", b" " * (MAX_BODY_BYTES + 1)),
    ]


async def client(
    number: int,
    url: str,
    token: str,
    request: dict[str, Any],
    bodies: list[tuple[str, bytes]],
    until: float,
    seen: list[tuple[str, int, float]],
    accepted: list[str],
) -> None:
    rng = random.Random(number)
    kinds = [kind for kind, weight in KINDS.items() for _ in range(weight)]
    mine: list[str] = []
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        sent = 0
        while time.monotonic() < until:
            kind = rng.choice(kinds)
            started = time.monotonic()
            if kind == "create":
                batch_id = f"load-{number}-{sent}"
                body = json.loads(json.dumps(request))
                body["batchId"] = batch_id
                for job in body["labelingJobs"]:
                    job["jobName"] = f"{batch_id}-{job['jobName'].rsplit('-', 1)[-1]}"
                answer = await http.post("/batch/create", json=body, headers=auth)
                if answer.status_code == 200:
                    mine.append(batch_id)
                    accepted.append(batch_id)
            elif kind == "show":
                params = {"batchId": rng.choice(mine)} if mine and rng.random() < 0.5 else {}
                answer = await http.get("/batch/show", params=params, headers=auth)
            elif kind == "bad_body":
                path, content = rng.choice(bodies)
                answer = await http.post(path, content=content, headers=auth)
            elif kind == "sql":
                query = {"query": CROSS_JOIN, "target": "seconds"}
                answer = await http.post("/model", json=query, headers=auth)
            else:
                answer = await http.get("/batch/show", headers={"Authorization": "Bearer x"})
            seen.append((kind, answer.status_code, time.monotonic() - started))
            sent += 1


def report(seen: list[tuple[str, int, float]], seconds: float, lost: int, accepted: int) -> None:
    by_class = collections.Counter(f"{status // 100}xx" for _, status, _ in seen)
    print(f"requests: {len(seen)} in {seconds:.0f} s = {len(seen) / seconds:.1f} requests/s")
    latencies = sorted(latency for _, _, latency in seen)
    print(
        f"latency: p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms"
    )
    for kind in KINDS:
        mine = sorted(latency for k, _, latency in seen if k == kind)
        statuses = collections.Counter(status for k, status, _ in seen if k == kind)
        if mine:
            print(
                f"  {kind:<12} {len(mine):>6} requests  p50 {statistics.median(mine) * 1000:7.0f} "
                f"ms  p99 {mine[int(len(mine) * 0.99)] * 1000:7.0f} ms  statuses "
                f"{dict(sorted(statuses.items()))}"
            )
    print(f"2xx {by_class['2xx']}  4xx {by_class['4xx']}  5xx {by_class['5xx']}")
    print(f"batches accepted: {accepted}  lost: {lost}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--sql-timeout", type=float, default=2.0)
    parser.add_argument(
        "--skip", action="append", default=[], choices=list(KINDS), help="Leave a kind out."
    )
    args = parser.parse_args()
    for kind in args.skip:
        KINDS.pop(kind)
    with tempfile.TemporaryDirectory(prefix="labellake-load-") as folder:
        home = Path(folder) / "home"
        samples = synthetic.generate(
            ObjectStore.from_uri(home / "objects"), dataset="samples/load", clips=1, frames=6
        )
        request = demo_request("load", samples)
        request["labelingJobs"] = request["labelingJobs"][:1]
        settings = {"simulated_job_seconds": "0.5", "sql_timeout_s": str(args.sql_timeout)}
        with api_process(home, **settings) as (url, auth):
            token = auth["Authorization"].removeprefix("Bearer ")
            seen: list[tuple[str, int, float]] = []
            accepted: list[str] = []
            started = time.monotonic()
            until = started + args.seconds
            bodies = bad_bodies(home, request)

            async def run_all() -> None:
                await asyncio.gather(
                    *(
                        client(n, url, token, request, bodies, until, seen, accepted)
                        for n in range(args.clients)
                    )
                )

            asyncio.run(run_all())
            elapsed = time.monotonic() - started
            health = httpx.get(f"{url}/health").status_code
        with sqlite3.connect(home / "state.db") as con:
            stored = {row[0] for row in con.execute("SELECT batch_id FROM batches")}
        lost = len(set(accepted) - stored)
        report(seen, elapsed, lost, len(accepted))
        print(f"GET /health after the load: {health}")
        print(f"machine: {os.cpu_count()} cores; clients {args.clients}; {args.seconds:.0f} s")
        fivexx = sum(1 for _, status, _ in seen if status >= 500)
        return 1 if lost or fivexx else 0


if __name__ == "__main__":
    sys.exit(main())
