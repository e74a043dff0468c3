"""The runner survives being killed at any point and resumes without duplicating work."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labellake.lake import ObjectStore
from labellake.workflows.labeling import formats
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.samples import synthetic
from labellake.workflows.samples.demo import demo_request


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing handles it."""


def assert_done_once(engine: Engine, batch_id: str, objects: ObjectStore) -> None:
    assert engine.state.batch(batch_id)["status"] == "COMPLETE"
    jobs = engine.state.jobs(batch_id)
    assert len(jobs) == 4 and {j["status"] for j in jobs} == {"COMPLETE"}
    assert [j["backend_job_id"] for j in jobs] == [j["job_name"] for j in jobs]
    assert len(objects.list("simulated-jobs")) == 4
    kinds = Counter(e["kind"] for e in engine.state.events(batch_id))
    assert kinds["JobStarted"] == 4 and kinds["JobCompleted"] == 4
    assert kinds["BatchCompleted"] == 1
    for job in jobs:
        lines = formats.parse_manifest(engine.read(job["output_manifest_uri"]), "out")
        assert len(lines) == job["object_count"] > 0


@pytest.mark.parametrize("crash_on", [1, 2, 3, 4, 5, 6, 8, 10, 12])
def test_crash_inside_any_step_then_resume(
    make_engine: Callable[..., Engine],
    request_for: Callable[..., dict[str, Any]],
    objects: ObjectStore,
    monkeypatch: pytest.MonkeyPatch,
    crash_on: int,
) -> None:
    """Die on the Nth state transaction or backend call, then start over with a new engine."""
    engine = make_engine()
    batch_id = engine.submit(request_for("b1"))
    calls = {"n": 0}
    originals = {
        "transaction": type(engine.state.db).transaction,
        "create_job": type(engine.backend).create_job,
        "describe_job": type(engine.backend).describe_job,
    }

    def counting(name: str):  # type: ignore[no-untyped-def]
        def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            if calls["n"] == crash_on:
                raise Crash(f"killed at call {crash_on} ({name})")
            return originals[name](self, *args, **kwargs)

        return wrapper

    for name in originals:
        owner = type(engine.state.db) if name == "transaction" else type(engine.backend)
        monkeypatch.setattr(owner, name, counting(name))
    with pytest.raises(Crash):
        engine.run_to_end(batch_id, poll_s=0)
    monkeypatch.undo()
    fresh = make_engine()
    assert fresh.run_to_end(batch_id, poll_s=0) == "COMPLETE"
    assert_done_once(fresh, batch_id, objects)


@pytest.mark.slow
def test_sigkill_the_runner_process_at_several_points(tmp_path: Path) -> None:
    home = tmp_path / "home"
    objects = ObjectStore.from_uri(home / "objects")
    samples = synthetic.generate(objects, dataset="samples/kill", clips=2, frames=20)
    request = tmp_path / "request.json"
    request.write_text(json.dumps(demo_request("killed", samples)))
    env = {
        **os.environ,
        "LABELLAKE_HOME": str(home),
        "LABELLAKE_SIMULATED_JOB_SECONDS": "1.0",
        "LABELLAKE_RUNNER_POLL_S": "0.05",
    }
    command = [sys.executable, "-m", "labellake.portal.cli"]
    subprocess.run(
        [*command, "batch", "create", "--file", str(request)],
        env=env,
        check=True,
        capture_output=True,
    )
    state_db = home / "state.db"

    def statuses() -> dict[str, str]:
        with sqlite3.connect(state_db) as con:
            return dict(con.execute("SELECT job_name, status FROM jobs"))

    # Kill the runner the moment the batch reaches each of these points, then restart it.
    kill_points: list[tuple[str, Callable[[dict[str, str]], bool]]] = [
        ("a level-1 job started", lambda s: "WAIT_FOR_SMGT_RESPONSE" in s.values()),
        ("a level-1 job finished", lambda s: "COMPLETE" in (s["killed-vehicle"], s["killed-lane"])),
        (
            "an audit started",
            lambda s: (
                "WAIT_FOR_SMGT_RESPONSE" in (s["killed-vehicle-audit"], s["killed-lane-audit"])
            ),
        ),
        (
            "an audit finished",
            lambda s: "COMPLETE" in (s["killed-vehicle-audit"], s["killed-lane-audit"]),
        ),
    ]
    killed_at = []
    for name, reached in kill_points:
        runner = subprocess.Popen(
            [*command, "runner"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while not reached(statuses()) and time.monotonic() < deadline:
            time.sleep(0.01)
        runner.send_signal(signal.SIGKILL)
        runner.wait()
        if set(statuses().values()) != {"COMPLETE"}:
            killed_at.append(name)
    runner = subprocess.Popen(
        [*command, "runner"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            shown = subprocess.run(
                [*command, "batch", "show", "--batch-id", "killed"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            if json.loads(shown.stdout)["status"] != "IN_PROGRESS":
                break
            assert time.monotonic() < deadline, "the batch did not finish after the kills"
            time.sleep(0.3)
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(timeout=30)
    assert len(killed_at) >= 3, killed_at
    from labellake.settings import Settings
    from labellake.workflows.compose import build_engine, open_home

    engine = build_engine(open_home(Settings(home=home)))
    assert_done_once(engine, "killed", objects)
