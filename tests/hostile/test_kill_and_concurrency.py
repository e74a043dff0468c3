"""What already holds, kept holding: `labellake up` killed with SIGKILL mid-batch resumes
with no duplicate job or lake row; concurrent creates all land, and concurrent creates of one
id accept exactly one."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from labellake.lake import Lake, ObjectStore
from labellake.workflows.samples import synthetic
from labellake.workflows.samples.demo import demo_request
from tests.portal.browsing import COMMAND, api_process, free_port, wait_for

ENV = {"LABELLAKE_SIMULATED_JOB_SECONDS": "1.0", "LABELLAKE_RUNNER_POLL_S": "0.05"}


@contextlib.contextmanager
def up(home: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`labellake up` in a process group of its own; yields the API's URL and the process."""
    api, portal = free_port(), free_port()
    process = subprocess.Popen(
        [*COMMAND, "--home", str(home), "up", "--api-port", str(api), "--portal-port", str(portal)],
        env={**os.environ, **ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{api}/health")
        yield f"http://127.0.0.1:{api}", process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def kill_all(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL to `up`, its API and its portal at once: what a crash or an OOM kill does."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    time.sleep(0.2)


def token_header(home: Path) -> dict[str, str]:
    """The header with the token `labellake api` (or `up`) made on its first start."""
    return {"Authorization": f"Bearer {(home / 'api-token').read_text().strip()}"}


def statuses(home: Path) -> dict[str, str]:
    with sqlite3.connect(home / "state.db") as con:
        return dict(con.execute("SELECT job_name, status FROM jobs"))


@pytest.mark.slow
def test_sigkill_up_at_three_moments_then_it_completes_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    objects = ObjectStore.from_uri(home / "objects")
    samples = synthetic.generate(objects, dataset="samples/kill", clips=2, frames=16)
    request = demo_request("killed", samples)
    moments: list[tuple[str, Callable[[dict[str, str]], bool]]] = [
        ("a level-1 job started", lambda s: "WAIT_FOR_SMGT_RESPONSE" in s.values()),
        ("a level-1 job finished", lambda s: "COMPLETE" in (s["killed-vehicle"], s["killed-lane"])),
        (
            "an audit started",
            lambda s: (
                "WAIT_FOR_SMGT_RESPONSE" in (s["killed-vehicle-audit"], s["killed-lane-audit"])
            ),
        ),
    ]
    killed_mid_batch = []
    with contextlib.ExitStack() as running:
        url, process = running.enter_context(up(home))
        auth = token_header(home)
        assert httpx.post(f"{url}/batch/create", json=request, headers=auth).status_code == 200
        for name, reached in moments:
            deadline = time.monotonic() + 60
            while not reached(statuses(home)):
                assert time.monotonic() < deadline, f"never reached: {name}"
                time.sleep(0.01)
            kill_all(process)
            if set(statuses(home).values()) != {"COMPLETE"}:
                killed_mid_batch.append(name)
            # Start again, on new ports: nothing of the killed one may still hold the home.
            url, process = running.enter_context(up(home))
        deadline = time.monotonic() + 90
        while True:
            shown = httpx.get(f"{url}/batch/show", params={"batchId": "killed"}, headers=auth)
            if shown.json()["status"] != "IN_PROGRESS":
                break
            assert time.monotonic() < deadline, "the batch did not finish after the kills"
            time.sleep(0.3)
    assert len(killed_mid_batch) == 3, killed_mid_batch
    assert shown.json()["status"] == "COMPLETE", shown.json()
    with sqlite3.connect(home / "state.db") as con:
        started = con.execute(
            "SELECT count(*) FROM events WHERE kind = 'JobStarted' AND batch_id = 'killed'"
        ).fetchone()[0]
    assert started == 4 and len(objects.list("simulated-jobs")) == 4
    lake = Lake.from_uri(str(home / "lake"))
    assert lake.query("SELECT count(*) FROM batches").column(0)[0].as_py() == 1
    assert lake.query("SELECT count(*) FROM jobs").column(0)[0].as_py() == 4
    twice = lake.query(
        "SELECT job_name, source_ref, frame_no, object_id, count(*) AS n FROM annotations "
        "GROUP BY ALL HAVING count(*) > 1"
    )
    assert twice.num_rows == 0
    assert lake.query("SELECT count(*) FROM annotations").column(0)[0].as_py() > 0


def one_job(batch_id: str, samples: synthetic.SampleSet) -> dict[str, Any]:
    request = demo_request(batch_id, samples)
    request["labelingJobs"] = request["labelingJobs"][:1]
    return request


@pytest.mark.slow
def test_concurrent_creates(tmp_path: Path) -> None:
    home = tmp_path / "home"
    objects = ObjectStore.from_uri(home / "objects")
    samples = synthetic.generate(objects, dataset="samples/many", clips=1, frames=6)
    with (
        api_process(home, **{**ENV, "LABELLAKE_SIMULATED_JOB_SECONDS": "0"}) as (url, _),
        httpx.Client(base_url=url, headers=token_header(home), timeout=60) as client,
    ):

        def create(batch_id: str) -> int:
            return client.post("/batch/create", json=one_job(batch_id, samples)).status_code

        with ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(create, [f"many-{n}" for n in range(40)]))
        assert answers == [200] * 40
        with ThreadPoolExecutor(20) as pool:
            same = list(pool.map(create, ["same-id"] * 20))
        assert sorted(same) == [200] + [400] * 19
        deadline = time.monotonic() + 240
        while True:
            listing = client.get("/batch/show").json()
            if not listing["IN_PROGRESS"]:
                break
            assert time.monotonic() < deadline, f"{len(listing['IN_PROGRESS'])} never finished"
            time.sleep(0.5)
        assert sorted(listing["COMPLETE"]) == sorted([f"many-{n}" for n in range(40)] + ["same-id"])
    with sqlite3.connect(home / "state.db") as con:
        jobs = con.execute("SELECT count(*), count(DISTINCT job_name) FROM jobs").fetchone()
    assert jobs == (41, 41)
