"""Issue 15, item 8: an error in a background loop never kills its thread.

The embedded runner's state store is damaged for real (junk written over state.db):
the runner logs every failed pass with its traceback, backs off, keeps its thread,
and carries on once the file is whole again. A Step Functions worker whose queue is
gone does the same. GET /health reports the runner's heartbeat and last error, and
answers 503 once the heartbeat is older than ``runner_stale_s``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from labellake.portal.api import create_app
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.labeling.runner import Runner
from labellake.workflows.labeling.status import BatchStatus
from labellake.workflows.loop import Backoff, Pulse, keep_running
from labellake.workflows.samples.demo import demo_request
from tests.workflows.labeling.test_stepfunctions import Setup

QUICK = Backoff(first_s=0.05, max_s=0.2)  # the production 1 s .. 60 s, shrunk for a test
DAMAGED = ("database disk image is malformed", "file is not a database")  # SQLite's words


def says_damaged(text: object) -> bool:
    return any(words in str(text) for words in DAMAGED)


def wait_for(
    condition: Callable[[], bool], seconds: float = 30, detail: Callable[[], object] = str
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"the condition never held {detail()}"
        time.sleep(0.02)


@contextmanager
def running(work: Any) -> Iterator[threading.Thread]:
    """``work.run`` in a thread of its own, stopped and joined at the end."""
    stop = threading.Event()
    thread = threading.Thread(target=work.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=10)


def damage(path: Path) -> bytes:
    """Checkpoint the WAL into ``path``, then write junk over every page but the header;
    returns the bytes that were there."""
    with sqlite3.connect(path) as con:
        busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert not busy, "the WAL could not be emptied into the file"
    whole = path.read_bytes()
    path.write_bytes(whole[:4096] + b"\xff" * (len(whole) - 4096))
    return whole


def failures_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The loop's failed passes, each logged with its traceback."""
    return [
        r
        for r in caplog.records
        if r.name == "labellake.workflows.loop" and r.levelno >= logging.ERROR and r.exc_info
    ]


def test_a_damaged_state_store_never_kills_the_runner(
    engine: Engine,
    request_for: Callable[..., dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner = Runner(engine, poll_s=0.01, backoff=QUICK)
    health = TestClient(create_app(engine, runner=runner.pulse, stale_s=0.5))
    caplog.set_level(logging.ERROR)
    with running(runner) as thread:
        wait_for(lambda: runner.pulse.heartbeat is not None)
        wait_for(lambda: health.get("/health").status_code == 200)

        whole = damage(engine.state.path)
        wait_for(lambda: runner.pulse.failures >= 3)  # it tried again, and again
        assert thread.is_alive()
        assert says_damaged(runner.pulse.last_error)
        logged = failures_logged(caplog)
        assert len(logged) >= 3 and all(says_damaged(r.exc_info[1]) for r in logged)

        wait_for(lambda: health.get("/health").status_code == 503)  # no good pass lately
        answer = health.get("/health").json()
        assert answer["status"] == "stale"
        assert answer["runner"]["secondsSinceHeartbeat"] > 0.5
        assert says_damaged(answer["runner"]["lastError"])

        engine.state.path.write_bytes(whole)  # the cause is gone
        engine.submit(request_for("b1"))
        wait_for(
            lambda: engine.state.batch("b1")["status"] == BatchStatus.COMPLETE,
            seconds=60,
            detail=lambda: (engine.state.batch("b1"), runner.pulse.report()),
        )
        wait_for(lambda: runner.pulse.failures == 0)  # the pass that finished it has ended
        assert thread.is_alive()
        answer = health.get("/health")
        assert answer.status_code == 200
        assert answer.json()["runner"]["failuresInARow"] == 0
        assert says_damaged(answer.json()["runner"]["lastError"])  # kept for the record

    time.sleep(0.6)  # the runner is stopped: nothing beats any more
    assert health.get("/health").status_code == 503


def test_health_without_a_runner_answers_as_before(engine: Engine) -> None:
    answer = TestClient(create_app(engine)).get("/health")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    assert "runner" not in answer.json()


def test_a_step_functions_worker_outlives_its_lost_queue(
    tmp_path: Path, sfn_endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    setup = Setup(tmp_path, sfn_endpoint, "loop-queue", "sqlite")
    worker = setup.worker
    worker.backoff = QUICK
    queue = f"{setup.prefix}-tasks"
    caplog.set_level(logging.ERROR)
    with running(worker) as thread:
        wait_for(lambda: worker.pulse.heartbeat is not None)
        setup.sqs.delete_queue(QueueUrl=worker.orchestrator.queue_url)
        wait_for(lambda: worker.pulse.failures >= 3)
        assert thread.is_alive() and "ReceiveMessage" in (worker.pulse.last_error or "")
        assert len(failures_logged(caplog)) >= 3

        setup.sqs.create_queue(QueueName=queue)  # the same name gives the same URL
        setup.engine.submit(demo_request("after", setup.samples))
        wait_for(lambda: setup.state.batch("after")["status"] == BatchStatus.COMPLETE, seconds=60)
        wait_for(lambda: worker.pulse.failures == 0)
        assert thread.is_alive()


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (50, 60.0)],
)
def test_the_backoff_doubles_from_one_second_to_a_minute(failures: int, delay: float) -> None:
    assert Backoff().delay(failures) == delay


def test_a_good_pass_resets_the_backoff(caplog: pytest.LogCaptureFixture) -> None:
    outcomes: list[bool | Exception] = [
        OSError("disk gone"),
        OSError("disk gone"),
        True,
        OSError("again"),
        False,
    ]
    waits: list[float] = []
    pulse = Pulse()

    class Stop(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waits.append(round(timeout or 0, 3))
            return False

    def one_pass() -> bool:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    caplog.set_level(logging.ERROR)
    keep_running(one_pass, Stop(), 0.5, until=lambda: not outcomes, pulse=pulse, backoff=QUICK)
    assert waits == [0.05, 0.1, 0.05]  # doubled, then back to the first delay
    assert pulse.failures == 0 and pulse.last_error == "OSError: again"
    assert len(failures_logged(caplog)) == 3


def test_a_runner_that_never_had_a_good_pass_is_stale(engine: Engine) -> None:
    runner = Runner(engine, poll_s=0.01, backoff=QUICK)
    damage(engine.state.path)
    health = TestClient(create_app(engine, runner=runner.pulse, stale_s=0.3))
    with running(runner) as thread:
        wait_for(lambda: runner.pulse.failures >= 2)
        wait_for(lambda: health.get("/health").status_code == 503)
        assert thread.is_alive() and runner.pulse.heartbeat is None
