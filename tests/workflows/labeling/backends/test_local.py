"""The local backend: task queue, leases, Ground Truth files, a batch end to end."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from labellake import sql
from labellake.lake import Lake, ObjectStore
from labellake.workflows.labeling import formats, lake_sync
from labellake.workflows.labeling.backends.local import DraftRejected, LocalBackend, TaskError
from labellake.workflows.labeling.backends.simulated import SimulatedBackend, SimulationConfig
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.labeling.spec import SpecError
from labellake.workflows.labeling.sqlite_store import SqliteBatchStore
from labellake.workflows.labeling.status import BatchStatus, LabelingJobStatus
from labellake.workflows.people.workforce import Workforce
from labellake.workflows.samples import synthetic
from labellake.workflows.samples.demo import demo_request
from tests.workflows.conftest import FakeClock


class Setup:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = FakeClock()
        self.objects = ObjectStore.from_uri(tmp_path / "objects")
        self.samples = synthetic.generate(
            self.objects, dataset="samples/one", clips=1, frames=10, seed=5
        )
        self.state = SqliteBatchStore(tmp_path / "state.db")
        self.local = LocalBackend(self.state, self.objects, clock=lambda: self.clock().timestamp())
        self.local.poll_interval_s = 0
        simulated = SimulatedBackend(self.objects, SimulationConfig(job_seconds=0))
        simulated.poll_interval_s = 0
        self.engine = Engine(
            self.state,
            self.objects,
            Lake(ObjectStore.from_uri(tmp_path / "lake"), views=sql.views()),
            simulated,
            clock=self.clock,
            backends={"local": self.local},
        )
        lake_sync.install(self.engine)
        force = Workforce(self.state, "us-east-1", "111122223333")
        force.add_team("first-level")
        force.add_team("second-level")
        for name in ("ann", "al"):
            force.add_worker("first-level", name, f"{name}-password-1")
        force.add_worker("second-level", "bea", "bea-password-1")

    def request(self, batch_id: str = "walk", **extra: Any) -> dict[str, Any]:
        return {**demo_request(batch_id, self.samples), "backend": "local", **extra}

    def start(self, batch_id: str = "walk", **extra: Any) -> str:
        self.engine.submit(self.request(batch_id, **extra))
        self.engine.advance(batch_id)
        return batch_id


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def _box(draft: dict[str, Any], frame: int, object_id: str, box: list[float], **attrs: str) -> None:
    draft["frames"][frame]["objects"].append(
        {
            "id": object_id,
            "name": f"Vehicle:{object_id}",
            "label": "Vehicle",
            "kind": "box",
            "box": box,
            "attributes": attrs,
            "keyframe": True,
        }
    )


def _vehicle_draft(setup: Setup, key: str) -> dict[str, Any]:
    draft = setup.local.open("ann", key).draft
    for frame in range(10):
        _box(draft, frame, "v1", [10 + frame, 20, 50, 40], Moving="Dynamic")
        _box(draft, frame, "v2", [200, 100, 80, 60], Moving="Stationary")
    return draft


def _lane_draft(setup: Setup, key: str, account: str = "ann") -> dict[str, Any]:
    draft = setup.local.open(account, key).draft
    draft["frames"][0]["objects"].append(
        {
            "id": "l1",
            "name": "Lane:1",
            "label": "Lane",
            "kind": "polyline",
            "points": [[100, 350], [300, 200], [320, 180]],
            "attributes": {"Marking": "Dashed"},
            "keyframe": True,
        }
    )
    return draft


def test_a_batch_labeled_and_audited_by_people(setup: Setup) -> None:
    batch = setup.start()
    queue = setup.local.queue("ann")
    assert [(q["jobName"], q["waiting"]) for q in queue] == [("walk-vehicle", 1), ("walk-lane", 1)]
    assert setup.local.queue("bea") == []  # level 2 has not started

    vehicle = setup.local.claim("ann")
    assert vehicle.job_name == "walk-vehicle" and vehicle.worker == "ann"
    [shown] = [
        job
        for level in setup.engine.show(batch)["levels"]
        for job in level["jobLevels"]
        if job["labelingJobName"] == "walk-vehicle"
    ]
    assert shown["taskProgress"] == {"waiting": 0, "held": 1, "submitted": 0, "total": 1}
    setup.clock.advance(95)
    result = setup.local.submit("ann", vehicle.key, _vehicle_draft(setup, vehicle.key), 640, 360)
    assert result["timeSpentInSeconds"] == 95
    lane = setup.local.claim("ann")
    assert lane.job_name == "walk-lane"
    setup.clock.advance(30)
    setup.local.submit("ann", lane.key, _lane_draft(setup, lane.key), 640, 360)

    setup.engine.advance(batch)
    setup.engine.advance(batch)
    assert [j["status"] for j in setup.state.jobs(batch, 1)] == [LabelingJobStatus.COMPLETE] * 2

    audit = setup.local.claim("bea")
    assert audit.job_name == "walk-vehicle-audit" and audit.audit
    work = setup.local.open("bea", audit.key)
    first = work.draft["frames"][0]["objects"]
    assert sorted(o["id"] for o in first) == ["v1", "v2"]  # the first level's labels
    assert all("audit" not in o["attributes"] for o in first)
    draft = work.draft
    for frame in draft["frames"]:
        for obj in frame["objects"]:
            obj["attributes"]["audit"] = "Pass" if obj["id"] == "v1" else "Fail"
            if obj["id"] == "v2":
                obj["box"] = [obj["box"][0] + 15, obj["box"][1], 80, 60]
    setup.clock.advance(40)
    assert setup.local.submit("bea", audit.key, draft, 640, 360)["adjustmentStatus"] == "adjusted"
    lane_audit = setup.local.claim("bea")
    draft = setup.local.open("bea", lane_audit.key).draft
    draft["frames"][0]["objects"][0]["attributes"]["audit"] = "Pass"
    setup.clock.advance(20)
    out = setup.local.submit("bea", lane_audit.key, draft, 640, 360)
    assert out["adjustmentStatus"] == "unadjusted"

    for _ in range(4):
        setup.engine.advance(batch)
    assert setup.state.batch(batch)["status"] == BatchStatus.COMPLETE
    assert [e["kind"] for e in setup.state.events(batch)].count("BatchCompleted") == 1

    # What a job leaves behind is what Ground Truth writes.
    job = setup.state.job("walk-vehicle-audit")
    [line] = formats.parse_manifest(
        setup.objects.read_text(job["output_manifest_uri"].split("/objects/", 1)[1]), "out"
    )
    metadata = line["walk-vehicle-audit-ref-metadata"]
    assert metadata["adjustment-status"] == "adjusted"
    assert metadata["job-name"] == "labeling-job/walk-vehicle-audit"
    seq = json.loads(Path(line["walk-vehicle-audit-ref"]).read_text())
    boxes = seq["tracking-annotations"][0]["annotations"]
    assert {b["object-id"]: b["label-category-attributes"]["audit"] for b in boxes} == {
        "v1": "Pass",
        "v2": "Fail",
    }
    assert {b["object-id"]: b["left"] for b in boxes}["v2"] == 215
    root = Path(job["output_manifest_uri"]).parents[2]
    [response] = list((root / "annotations/worker-response").rglob("*.json"))
    answer = json.loads(response.read_text())["answers"][0]
    assert answer["workerId"] == "local.bea" and answer["timeSpentInSeconds"] == 40
    events = [
        json.loads(e) for e in (root / "worker-activity/events.jsonl").read_text().splitlines()
    ]
    assert [e["event_type"] for e in events] == ["TasksAccepted", "TasksSubmitted"]
    assert events[1]["task_submitted_time"].endswith("UTC 2026")

    # The ETL landed the people's work in the lake.
    rows = setup.engine.lake.query(
        "select worker_id, count(*) as n from worker_responses group by 1 order by 1"
    ).to_pylist()
    assert rows == [{"worker_id": "local.ann", "n": 2}, {"worker_id": "local.bea", "n": 2}]
    shapes = setup.engine.lake.query(
        "select shape, count(*) as n from annotations where job_name = 'walk-vehicle' group by 1"
    ).to_pylist()
    assert shapes == [{"shape": "box", "n": 20}]


def test_bad_labels_are_rejected_and_nothing_is_written(setup: Setup) -> None:
    setup.start()
    task = setup.local.claim("ann")
    good = _vehicle_draft(setup, task.key)

    def rejected(change, match: str) -> None:  # type: ignore[no-untyped-def]
        draft = json.loads(json.dumps(good))
        change(draft)
        with pytest.raises(DraftRejected, match=match):
            setup.local.submit("ann", task.key, draft, 640, 360)

    def objects(draft: dict[str, Any]) -> list[dict[str, Any]]:
        return draft["frames"][2]["objects"]

    rejected(
        lambda d: objects(d)[0].update(box=[10, 20, -5, 40]), "frame 3, Vehicle:v1: .*negative"
    )
    rejected(lambda d: objects(d)[0].update(box=[600, 20, 80, 40]), "outside the 640 x 360 image")
    rejected(
        lambda d: objects(d)[0]["attributes"].update(Moving="Flying"),
        "'Moving' is 'Flying', which is not one of Stationary, Dynamic",
    )
    rejected(lambda d: objects(d)[0].update(label="Tree"), "label 'Tree' is not in")
    job_root = Path(setup.state.job("walk-vehicle")["input_manifest_uri"]).parent
    assert not list(job_root.parent.rglob("SeqLabel.json"))

    lane = setup.local.claim("al")
    draft = _lane_draft(setup, lane.key, "al")
    draft["frames"][0]["objects"][0]["points"] = [[100, 350]]
    with pytest.raises(DraftRejected, match="polyline needs at least 2 vertices, this one has 1"):
        setup.local.submit("al", lane.key, draft, 640, 360)
    assert setup.local.held("al")[0].key == lane.key  # still held, still unsubmitted


def test_another_teams_task_and_an_expired_lease(setup: Setup) -> None:
    setup.start()
    task = setup.local.claim("ann")
    with pytest.raises(TaskError, match="belongs to team first-level, and bea is not in it"):
        setup.local.open("bea", task.key)
    with pytest.raises(TaskError, match="belongs to team first-level"):
        setup.local.claim("bea", task.job_id)
    with pytest.raises(TaskError, match="you do not hold task"):
        setup.local.open("al", task.key)

    draft = _vehicle_draft(setup, task.key)
    setup.clock.advance(604800)  # the default taskTimeLimitInSeconds
    with pytest.raises(TaskError, match="expired|do not hold"):
        setup.local.submit("ann", task.key, draft, 640, 360)
    job_root = Path(setup.state.job("walk-vehicle")["input_manifest_uri"]).parent
    assert not list(job_root.parent.rglob("SeqLabel.json"))
    assert not list(job_root.parent.rglob("worker-response"))
    events = [e["event_type"] for e in setup.local.events(task.job_id)]
    assert events == ["TasksAccepted", "TasksReturned"]  # the expiry, in the activity log
    again = setup.local.claim("al", task.job_id)
    assert again.key == task.key  # back in the queue for anyone in the team


def test_return_decline_and_max_concurrent_tasks(setup: Setup) -> None:
    request = setup.request()
    for job in request["labelingJobs"]:
        job["maxConcurrentTaskCount"] = 1
    setup.engine.submit(request)
    setup.engine.advance("walk")
    vehicle_job = setup.state.job("walk-vehicle")["backend_job_id"]
    task = setup.local.claim("ann", vehicle_job)
    with pytest.raises(TaskError, match="every task slot of walk-vehicle is taken"):
        setup.local.claim("al", vehicle_job)
    assert setup.local.claim("ann", vehicle_job).key == task.key  # resumes what ann holds
    setup.clock.advance(60)
    setup.local.return_task("ann", task.key)
    assert setup.local.claim("al", vehicle_job).key == task.key
    setup.local.decline_task("al", task.key)
    with pytest.raises(TaskError, match="no task is waiting"):
        setup.local.claim("al", vehicle_job)  # al declined the only one
    types = [e["event_type"] for e in setup.local.events(vehicle_job)]
    assert types == [
        "TasksAccepted",
        "TasksReturned",
        "TasksAccepted",
        "TasksDeclined",
    ]
    returned = setup.local.events(vehicle_job)[1]
    assert returned["task_accepted_time"] and returned["task_returned_time"]


def test_two_workers_never_hold_the_same_task(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    force = Workforce(setup.state, "us-east-1", "111122223333")
    workers = [f"w{i}" for i in range(8)]
    for name in workers:
        force.add_worker("first-level", name, f"{name}-password-1")
    manifest = formats.manifest_text([{"source-ref": setup.samples.clips[0]} for _ in range(5)])
    uri = setup.objects.write_text("samples/one/five.manifest", manifest)
    request = setup.request()
    request["labelingJobs"] = request["labelingJobs"][:1]
    request["labelingJobs"][0]["inputConfig"]["inputManifestS3Uri"] = uri
    setup.engine.submit(request)
    setup.engine.advance("walk")
    got: dict[str, str] = {}
    errors: list[str] = []

    def claim(name: str) -> None:
        try:
            got[name] = setup.local.claim(name).key
        except TaskError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=claim, args=(name,)) for name in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 5 and len(set(got.values())) == 5
    assert len(errors) == 3 and all("no task is waiting" in e for e in errors)


def test_requests_that_cannot_run_locally_are_refused(setup: Setup) -> None:
    with pytest.raises(SpecError) as error:
        setup.engine.submit(setup.request(backend="mturk"))
    assert error.value.problems[0]["field"] == "backend"
    request = setup.request("b2")
    request["labelingJobs"][2]["workteamArn"] = (
        "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/experts"
    )
    with pytest.raises(SpecError) as error:
        setup.engine.submit(request)
    assert error.value.problems[0]["field"] == "labelingJobs[2].workteamArn"
    assert "labellake workforce add-team experts" in error.value.problems[0]["message"]
    assert setup.state.batch("b2") is None
    # One job on the simulated workforce, the others local.
    request = setup.request("b3")
    request["labelingJobs"][1]["backend"] = "simulated"
    setup.engine.submit(request)
    assert [j["backend"] for j in setup.state.jobs("b3")] == [
        "local",
        "simulated",
        "local",
        "local",
    ]


def test_deleting_a_batch_empties_its_queue(setup: Setup) -> None:
    setup.start()
    setup.engine.stop("walk")
    assert setup.local.queue("ann") == []  # stopped jobs take no work
    setup.engine.delete("walk")
    with setup.state.db.connect() as con:
        assert con.execute("select count(*) from work_tasks").fetchone()[0] == 0


def test_tasks_left_past_their_availability_fail_the_batch(setup: Setup) -> None:
    request = setup.request()
    for job in request["labelingJobs"]:
        job["taskAvailabilityLifetimeInSeconds"] = 3600
        job["taskTimeLimitInSeconds"] = 600
    setup.engine.submit(request)
    setup.engine.advance("walk")
    setup.clock.advance(3601)
    setup.engine.advance("walk")
    batch = setup.state.batch("walk")
    assert batch["status"] == BatchStatus.INTERNAL_ERROR
    assert (
        "1 of 1 tasks were not submitted within taskAvailabilityLifetimeInSeconds"
        in (batch["message"])
    )
    assert setup.local.queue("ann") == []  # the failed batch's jobs were stopped


def test_a_consensus_of_two_people(setup: Setup) -> None:
    request = setup.request("pair")
    request["labelingJobs"] = request["labelingJobs"][:1]
    request["labelingJobs"][0]["consensusCount"] = 2
    setup.engine.submit(request)
    setup.engine.advance("pair")
    assert setup.local.queue("ann")[0]["tasks"] == 2  # one clip, two workers
    first = setup.local.claim("ann")
    assert setup.local.claim("ann") == first  # the task ann holds, handed back

    def label(account: str, task: Any, dx: int) -> None:
        draft = setup.local.open(account, task.key).draft
        for frame in range(10):
            _box(draft, frame, "v1", [10 + frame + dx, 20, 50, 40], Moving="Dynamic")
        if account == "ann":  # only ann sees the second car
            for frame in range(10):
                _box(draft, frame, "v2", [200, 100, 80, 60], Moving="Stationary")
        setup.clock.advance(60)
        setup.local.submit(account, task.key, draft, 640, 360)

    label("ann", first, 0)
    with pytest.raises(TaskError, match="no task is waiting"):
        setup.local.claim("ann")  # the clip's other task needs another worker
    second = setup.local.claim("al")
    assert first.source_ref == second.source_ref and first.key != second.key
    label("al", second, 3)
    assert setup.engine.run_to_end("pair", poll_s=0) == BatchStatus.COMPLETE
    job = setup.state.job("pair-vehicle")
    (line,) = formats.parse_manifest(setup.engine.read(job["output_manifest_uri"]), "out")
    found = json.loads(setup.engine.read(line[formats.CONSENSUS_KEY]))
    agreements = sorted(round(o["agreement"], 2) for o in found["objects"])
    assert agreements[0] == 0.0 and agreements[1] > 0.8  # the second car: ann's alone
    assert [(p["worker_a"], p["worker_b"]) for p in found["pairs"]] == [("local.al", "local.ann")]
    seqlabel = json.loads(setup.engine.read(line["pair-vehicle-ref"]))
    boxes = seqlabel["tracking-annotations"][0]["annotations"]
    assert sorted(b["left"] for b in boxes) == [12, 200]  # the median of 10 and 13, rounded
    rows = setup.engine.lake.query(
        "SELECT worker_id FROM worker_responses WHERE job_name = 'pair-vehicle' ORDER BY 1"
    ).column(0)
    assert rows.to_pylist() == ["local.al", "local.ann"]
