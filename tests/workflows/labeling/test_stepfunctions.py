"""The stepfunctions engine, executed end to end on moto's ASL interpreter."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from labellake import sql
from labellake.lake import Lake, ObjectStore
from labellake.workflows.aws import tables
from labellake.workflows.labeling import lake_sync, notify
from labellake.workflows.labeling.backends.local import LocalBackend
from labellake.workflows.labeling.backends.simulated import SimulatedBackend, SimulationConfig
from labellake.workflows.labeling.dynamo_store import DynamoBatchStore
from labellake.workflows.labeling.engine import Engine, EngineConfig
from labellake.workflows.labeling.sqlite_store import SqliteBatchStore
from labellake.workflows.labeling.status import (
    FINAL_BATCH_STATUSES,
    BatchStatus,
    LabelingJobStatus,
)
from labellake.workflows.labeling.stepfunctions import StepFunctions, Worker, definition
from labellake.workflows.labeling.store import BatchStore
from labellake.workflows.people.workforce import Workforce
from labellake.workflows.samples import synthetic
from labellake.workflows.samples.demo import demo_request

ROLE = "arn:aws:iam::123456789012:role/labellake-states"


@pytest.mark.parametrize("levels", [1, 2, 3, 5])
def test_the_definition_follows_the_levels(levels: int) -> None:
    machine = definition(levels, "https://sqs/queue", 86400)
    names = list(machine["States"])
    assert names == [*(f"Level{n}" for n in range(1, levels + 1)), "Finish", "BatchError"] + [
        "Complete",
        "Failed",
    ]
    for n in range(1, levels + 1):
        level = machine["States"][f"Level{n}"]
        assert level["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
        assert level["Parameters"]["MessageBody"]["level"] == n
        assert level["TimeoutSeconds"] == 86400 and level["HeartbeatSeconds"] > 0
        assert level["Catch"][0]["Next"] == "BatchError"
    assert machine["States"][f"Level{levels}"]["Next"] == "Finish"


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest) -> str:
    """Every run goes once with the SQLite store and once with the DynamoDB state table."""
    return str(request.param)


class Setup:
    def __init__(
        self, tmp_path: Path, endpoint: str, prefix: str, store: str, timeout_s: int = 86400
    ) -> None:
        kwargs = {"endpoint_url": endpoint, "region_name": "us-east-1"}
        prefix = f"{prefix}-{store}"
        self.prefix = prefix
        self.sfn = boto3.client("stepfunctions", **kwargs)
        self.sqs = boto3.client("sqs", **kwargs)
        self.sqs.create_queue(QueueName=f"{prefix}-tasks")
        self.objects = ObjectStore.from_uri(tmp_path / "objects")
        self.samples = synthetic.generate(self.objects, dataset="s", clips=1, frames=4)
        if store == "dynamodb":
            dynamodb = boto3.client("dynamodb", **kwargs)
            dynamodb.create_table(**tables.state_table(f"{prefix}-state"))
            self.state: BatchStore = DynamoBatchStore(
                tmp_path / "state.db", dynamodb, f"{prefix}-state"
            )
        else:
            self.state = SqliteBatchStore(tmp_path / "state.db")
        simulated = SimulatedBackend(self.objects, SimulationConfig(job_seconds=0))
        simulated.poll_interval_s = 0
        self.local = LocalBackend(self.state, self.objects)
        self.local.poll_interval_s = 0
        self.engine = Engine(
            self.state,
            self.objects,
            Lake(ObjectStore.from_uri(tmp_path / "lake"), views=sql.views()),
            simulated,
            EngineConfig(webhook_url=None),
            backends={"local": self.local},
        )
        lake_sync.install(self.engine)
        self.orchestrator = StepFunctions(
            self.sfn, self.sqs, f"{prefix}-tasks", ROLE, prefix, level_timeout_s=timeout_s
        )
        self.orchestrator.install(self.engine)
        self.worker = Worker(self.engine, self.orchestrator, poll_s=0)

    def work_until(self, batch_id: str, seconds: float = 60) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.worker.step(wait_s=0)
            batch = self.state.batch(batch_id)
            if batch["status"] in FINAL_BATCH_STATUSES:
                return str(batch["status"])
            time.sleep(0.1)
        raise AssertionError(f"batch {batch_id} still {self.state.batch(batch_id)['status']}")

    def execution(self, batch_id: str, seconds: float = 30) -> dict[str, Any]:
        arn = self.state.batch(batch_id)["execution_arn"]
        deadline = time.monotonic() + seconds
        while True:
            self.worker.step(wait_s=0)
            described = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                return described
            time.sleep(0.1)


def test_a_batch_runs_to_completion_on_the_state_machine(
    tmp_path: Path, sfn_endpoint: str, store: str
) -> None:
    setup = Setup(tmp_path, sfn_endpoint, "sfn-ok", store)
    setup.engine.submit(demo_request("sfn1", setup.samples))
    assert setup.state.batch("sfn1")["execution_arn"].endswith(":sfn1")
    assert setup.work_until("sfn1") == BatchStatus.COMPLETE
    assert setup.execution("sfn1")["status"] == "SUCCEEDED"
    assert [j["status"] for j in setup.state.jobs("sfn1")] == [LabelingJobStatus.COMPLETE] * 4
    assert setup.engine.lake.query("select count(*) as n from annotations").column("n")[0].as_py()
    events = [e["kind"] for e in setup.state.events("sfn1")]
    assert events.count("BatchCompleted") == 1
    machines = setup.sfn.list_state_machines()["stateMachines"]
    assert [m["name"] for m in machines if m["name"].startswith(setup.prefix)] == [
        f"{setup.prefix}-batches-2-levels"
    ]


def test_a_failed_job_moves_to_the_batch_error_state(
    tmp_path: Path, sfn_endpoint: str, store: str
) -> None:
    setup = Setup(tmp_path, sfn_endpoint, "sfn-fail", store)
    request = demo_request("sfn2", setup.samples)
    # A clip whose sequence file is gone fails the simulated job when it runs.
    manifest = setup.objects.write_text(
        "s/broken.manifest", json.dumps({"source-ref": setup.samples.clips[0]}) + "\n"
    )
    request["labelingJobs"][0]["inputConfig"]["inputManifestS3Uri"] = manifest
    setup.engine.submit(request)
    setup.objects.delete(setup.samples.clips[0].split("/objects/", 1)[1])
    assert setup.work_until("sfn2") == BatchStatus.INTERNAL_ERROR
    batch = setup.state.batch("sfn2")
    assert batch["error_type"] == "LabelingJobFailed"
    assert {j["status"] for j in setup.state.jobs("sfn2")} == {LabelingJobStatus.INTERNAL_ERROR}
    assert setup.execution("sfn2")["status"] == "FAILED"
    assert [e["kind"] for e in setup.state.events("sfn2")].count("BatchFailed") == 1


def test_a_step_delivered_twice_has_no_second_effect(
    tmp_path: Path, sfn_endpoint: str, store: str
) -> None:
    setup = Setup(tmp_path, sfn_endpoint, "sfn-twice", store)
    setup.engine.submit(demo_request("sfn3", setup.samples))
    assert setup.work_until("sfn3") == BatchStatus.COMPLETE
    finished = json.dumps({"step": "finish", "batchId": "sfn3", "taskToken": "already-used"})
    setup.worker.handle(finished)
    setup.worker.handle(finished)
    failed = json.dumps(
        {"step": "fail", "batchId": "sfn3", "taskToken": "t", "error": {"Error": "X"}}
    )
    setup.worker.handle(failed)
    assert setup.state.batch("sfn3")["status"] == BatchStatus.COMPLETE
    assert [e["kind"] for e in setup.state.events("sfn3")].count("BatchCompleted") == 1
    assert len(notify.notifications(setup.state, "sfn3")) == 0  # no webhook, no topic


def test_a_level_past_its_timeout_fails_the_batch(
    tmp_path: Path, sfn_endpoint: str, store: str
) -> None:
    setup = Setup(tmp_path, sfn_endpoint, "sfn-slow", store, timeout_s=2)
    force = Workforce(setup.state, "us-east-1", "111122223333")
    force.add_team("first-level")
    force.add_team("second-level")
    force.add_worker("first-level", "ann", "ann-password-1")
    setup.engine.submit({**demo_request("sfn4", setup.samples), "backend": "local"})
    setup.worker.step(wait_s=1)
    assert [q["jobName"] for q in setup.local.queue("ann")] == ["sfn4-vehicle", "sfn4-lane"]
    assert setup.work_until("sfn4", seconds=30) == BatchStatus.INTERNAL_ERROR  # nobody labels
    batch = setup.state.batch("sfn4")
    assert batch["error_type"] == "Timeout" and "TimeoutSeconds" in batch["message"]
    assert setup.local.queue("ann") == []  # the failed batch's jobs take no more work


def test_stopping_a_batch_stops_its_execution(
    tmp_path: Path, sfn_endpoint: str, store: str
) -> None:
    setup = Setup(tmp_path, sfn_endpoint, "sfn-stop", store)
    force = Workforce(setup.state, "us-east-1", "111122223333")
    force.add_team("first-level")
    force.add_team("second-level")
    setup.engine.submit({**demo_request("sfn5", setup.samples), "backend": "local"})
    setup.worker.step(wait_s=1)
    sent: list[dict[str, Any]] = []
    setup.sfn.meta.events.register(
        "provide-client-params.states.StopExecution", lambda params, **_: sent.append(params)
    )
    setup.engine.stop("sfn5", actor="ada")
    # moto's interpreter keeps an execution that waits on a task token RUNNING after
    # StopExecution; Step Functions aborts it. The request is what this side controls.
    assert sent == [
        {
            "executionArn": setup.state.batch("sfn5")["execution_arn"],
            "error": "BatchStopped",
            "cause": "stopped by ada",
        }
    ]
    setup.worker.step(wait_s=0)
    assert setup.state.batch("sfn5")["status"] == BatchStatus.STOPPED  # the worker leaves it be
    setup.engine.retry("sfn5")
    assert setup.state.batch("sfn5")["execution_arn"].endswith(":sfn5-2")
