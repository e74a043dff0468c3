from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labellake.errors import ConflictError, NotFoundError
from labellake.lake import ObjectStore
from labellake.workflows.labeling import chaining, formats
from labellake.workflows.labeling.dynamo_store import DynamoBatchStore
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.labeling.spec import NAME_PATTERN, SpecError
from labellake.workflows.samples.synthetic import SampleSet
from tests.workflows.conftest import FakeClock


@pytest.fixture(params=["sqlite", "dynamodb"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """Every engine test runs on the SQLite store and on the DynamoDB state table."""
    return str(request.param)


def state_dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(engine.state.path) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        dump = {t: sorted(map(tuple, con.execute(f"SELECT * FROM {t}"))) for t in tables}
    if isinstance(engine.state, DynamoBatchStore):
        items = engine.state.items.client.scan(TableName=engine.state.items.table)["Items"]
        dump["dynamodb"] = sorted(json.dumps(item, sort_keys=True) for item in items)
    return dump


def manifest(engine: Engine, uri: str) -> list[dict[str, Any]]:
    return formats.parse_manifest(engine.read(uri), uri)


def test_reference_batch_completes_with_four_jobs_over_two_levels(
    engine: Engine, request_for: Callable[..., dict[str, Any]]
) -> None:
    batch_id = engine.submit(request_for("b1"))
    assert engine.run_to_end(batch_id, poll_s=0) == "COMPLETE"
    detail = engine.show(batch_id)
    assert [level["status"] for level in detail["levels"]] == ["COMPLETE", "COMPLETE"]
    assert detail["firstLevel"]["numChildBatchesComplete"] == 2
    assert detail["thirdLevel"] == {
        "status": "COMPLETE",
        "numChildBatches": 0,
        "numChildBatchesComplete": 0,
        "jobLevels": [],
    }
    jobs = {job["labelingJobName"]: job for level in detail["levels"] for job in level["jobLevels"]}
    assert sorted(jobs) == ["b1-lane", "b1-lane-audit", "b1-vehicle", "b1-vehicle-audit"]
    audit = manifest(engine, jobs["b1-vehicle-audit"]["jobOutputS3Uri"])
    assert len(audit) == 4
    for line in audit:
        assert {
            "b1-vehicle-ref",
            "b1-vehicle-ref-metadata",
            "b1-vehicle-audit-ref",
            "b1-vehicle-audit-ref-metadata",
        } <= set(line)
        assert line["b1-vehicle-audit-ref-metadata"]["adjustment-status"] in (
            "adjusted",
            "unadjusted",
        )
        seqlabel = json.loads(engine.read(line["b1-vehicle-audit-ref"]))
        shapes = [a for f in seqlabel["tracking-annotations"] for a in f["annotations"]]
        assert shapes and all(
            s["label-category-attributes"]["audit"] in ("Pass", "Fail") for s in shapes
        )
    lane = manifest(engine, jobs["b1-lane"]["jobOutputS3Uri"])
    frame = json.loads(engine.read(lane[0]["b1-lane-ref"]))["tracking-annotations"][0]
    assert frame["polylines"] and {"x", "y"} == set(frame["polylines"][0]["vertices"][0])
    config = json.loads(engine.read(jobs["b1-vehicle-audit"]["labelCategoryS3Uri"]))
    assert config["auditLabelAttributeName"] == "b1-vehicle-ref"
    rows = engine.lake.query("SELECT job_name, level, status FROM jobs ORDER BY job_name")
    assert rows.column("status").to_pylist() == ["COMPLETE"] * 4
    assert engine.state.task_count("b1") == 16  # one task per clip and job
    events = [e["kind"] for e in engine.state.events("b1")]
    assert events[0] == "BatchCreated" and events[-1] == "BatchCompleted"
    message = engine.state.events("b1", kind="BatchCompleted")[0]["payload"]
    assert message["status"] == "SUCCESS" and message["batchInfo"]["firstLevel"] == {
        "status": "COMPLETE"
    }


def test_steps_can_be_called_one_at_a_time(
    engine: Engine, request_for: Callable[..., dict[str, Any]]
) -> None:
    batch_id = engine.submit(request_for("b1"))
    engine.start_level(batch_id, 1)
    engine.start_level(batch_id, 1)  # repeating a step changes nothing
    assert {j["status"] for j in engine.state.jobs(batch_id, 1)} == {"WAIT_FOR_SMGT_RESPONSE"}
    engine.poll_level(batch_id, 1)
    assert engine.state.levels(batch_id)[0]["status"] == "COMPLETE"
    engine.start_level(batch_id, 2)
    engine.poll_level(batch_id, 2)
    engine.finish(batch_id)
    engine.finish(batch_id)
    assert engine.state.batch(batch_id)["status"] == "COMPLETE"
    assert len(engine.state.events(batch_id, kind="BatchCompleted")) == 1


def test_downsampling_is_seeded_and_keeps_order(
    engine: Engine, request_for: Callable[..., dict[str, Any]]
) -> None:
    engine.run_to_end(engine.submit(request_for("b1", audit_sampling=50)), poll_s=0)
    audit = engine.state.job("b1-vehicle-audit")
    lines = manifest(engine, audit["input_manifest_uri"])
    parent = [
        line["source-ref"]
        for line in manifest(engine, engine.state.job("b1-vehicle")["output_manifest_uri"])
    ]
    kept = [line["source-ref"] for line in lines]
    assert len(kept) == 2 and kept == [ref for ref in parent if ref in kept]
    assert audit["object_count"] == 2
    seed = engine.config.seed
    assert chaining.sample([{"i": i} for i in range(10)], 50, audit, seed) == chaining.sample(
        [{"i": i} for i in range(10)], 50, audit, seed
    )


def test_job_left_with_no_data_objects_completes_at_once(
    engine: Engine, request_for: Callable[..., dict[str, Any]]
) -> None:
    engine.run_to_end(engine.submit(request_for("b1", audit_sampling=0)), poll_s=0)
    audit = engine.state.job("b1-lane-audit")
    assert audit["status"] == "COMPLETE" and audit["object_count"] == 0
    assert "kept none of the data objects" in audit["message"]
    assert audit["backend_job_id"] is None
    assert engine.read(audit["output_manifest_uri"]) == ""


def test_qa_filter_hook_chooses_what_the_next_level_sees(
    make_engine: Callable[..., Engine], request_for: Callable[..., dict[str, Any]]
) -> None:
    seen: list[dict[str, Any]] = []

    def flag_first(parent, job, lines, qa) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
        seen.append({"parent": parent["job_name"], "job": job["job_name"], "checks": qa.checks})
        return lines[:1]

    engine = make_engine()
    engine.qa_filter = flag_first
    request = request_for("b1")
    request["labelingJobs"][2]["inputConfig"]["qaFilter"] = {"checks": ["size_jump"]}
    engine.run_to_end(engine.submit(request), poll_s=0)
    assert seen == [{"parent": "b1-vehicle", "job": "b1-vehicle-audit", "checks": ["size_jump"]}]
    assert engine.state.job("b1-vehicle-audit")["object_count"] == 1
    assert engine.state.job("b1-lane-audit")["object_count"] == 4  # no filter: everything


def test_four_levels_show_every_level(
    engine: Engine, request_for: Callable[..., dict[str, Any]]
) -> None:
    request = request_for("deep")
    parent = "deep-vehicle-audit"
    for level in (3, 4):
        request["labelingJobs"].append(
            {
                "jobName": f"deep-vehicle-l{level}",
                "jobModality": "VideoObjectTrackingAudit",
                "jobLevel": level,
                "inputConfig": {"chainFromJobName": parent},
            }
        )
        parent = f"deep-vehicle-l{level}"
    assert engine.run_to_end(engine.submit(request), poll_s=0) == "COMPLETE"
    detail = engine.show("deep")
    assert [level["level"] for level in detail["levels"]] == [1, 2, 3, 4]
    assert detail["thirdLevel"]["numChildBatches"] == 1
    assert detail["level4"]["jobLevels"][0]["labelingJobName"] == "deep-vehicle-l4"
    line = manifest(engine, detail["level4"]["jobLevels"][0]["jobOutputS3Uri"])[0]
    assert "deep-vehicle-l4-ref" in line and "deep-vehicle-audit-ref" in line


@pytest.mark.parametrize(
    "breakage,field,message",
    [
        ("missing-manifest", "labelingJobs[0].inputConfig.inputManifestS3Uri", "does not exist"),
        ("manifest-not-json", "labelingJobs[0].inputConfig.inputManifestS3Uri", "line 2: not JSON"),
        ("empty-manifest", "labelingJobs[0].inputConfig.inputManifestS3Uri", "has no lines"),
        ("no-frames", "labelingJobs[0].inputConfig.inputManifestS3Uri", "has no frames"),
        ("missing-config", "labelingJobs[0].labelCategoryConfigS3Uri", "does not exist"),
        ("bad-config", "labelingJobs[0].labelCategoryConfigS3Uri", "needs a non-empty"),
        ("point-cloud", "labelingJobs[0].jobModality", "does not label point clouds"),
    ],
)
def test_bad_inputs_are_refused_and_leave_the_state_store_unchanged(
    engine: Engine,
    request_for: Callable[..., dict[str, Any]],
    objects: ObjectStore,
    samples: SampleSet,
    tmp_path: Path,
    breakage: str,
    field: str,
    message: str,
) -> None:
    engine.run_to_end(engine.submit(request_for("earlier")), poll_s=0)
    before = state_dump(engine)
    request = request_for("b2")
    job = request["labelingJobs"][0]
    bad = Path(objects.root) / "bad"  # requests may name files in the object store
    bad.mkdir()
    if breakage == "missing-manifest":
        job["inputConfig"]["inputManifestS3Uri"] = str(bad / "nothing.manifest")
    elif breakage == "manifest-not-json":
        (bad / "m.manifest").write_text('{"source-ref": "x"}\n{not json\n')
        job["inputConfig"]["inputManifestS3Uri"] = str(bad / "m.manifest")
    elif breakage == "empty-manifest":
        (bad / "m.manifest").write_text("\n")
        job["inputConfig"]["inputManifestS3Uri"] = str(bad / "m.manifest")
    elif breakage == "no-frames":
        (bad / "clip_seq.json").write_text(json.dumps({"prefix": "x/", "frames": []}))
        (bad / "m.manifest").write_text(json.dumps({"source-ref": str(bad / "clip_seq.json")}))
        job["inputConfig"]["inputManifestS3Uri"] = str(bad / "m.manifest")
    elif breakage == "missing-config":
        job["labelCategoryConfigS3Uri"] = str(bad / "nothing.json")
    elif breakage == "bad-config":
        (bad / "c.json").write_text(json.dumps({"labels": []}))
        job["labelCategoryConfigS3Uri"] = str(bad / "c.json")
    elif breakage == "point-cloud":
        job["jobModality"] = "PointCloudObjectTracking"
        request["labelingJobs"][2]["jobModality"] = "PointCloudObjectTrackingAudit"
    with pytest.raises(SpecError) as caught:
        engine.submit(request)
    problems = {p["field"]: p["message"] for p in caught.value.problems}
    assert field in problems and message in problems[field], problems
    assert state_dump(engine) == before


def test_ids_are_never_reused_and_job_names_are_unique_across_batches(
    engine: Engine, request_for: Callable[..., dict[str, Any]]
) -> None:
    engine.run_to_end(engine.submit(request_for("b1")), poll_s=0)
    with pytest.raises(SpecError, match="batchId: batch id 'B1' is already used"):
        engine.submit(request_for("B1"))
    clash = request_for("b2")
    clash["labelingJobs"][0]["jobName"] = "B1-VEHICLE"
    clash["labelingJobs"][2]["inputConfig"]["chainFromJobName"] = "B1-VEHICLE"
    with pytest.raises(SpecError) as caught:
        engine.submit(clash)
    assert caught.value.problems[0]["field"] == "labelingJobs[0].jobName"
    engine.delete("b1")
    with pytest.raises(SpecError, match="never reused"):
        engine.submit(request_for("b1"))


def test_a_failing_job_fails_the_batch_and_every_unfinished_child(
    engine: Engine,
    request_for: Callable[..., dict[str, Any]],
    samples: SampleSet,
    objects: ObjectStore,
) -> None:
    batch_id = engine.submit(request_for("b1"))
    # The clips vanish after validation: the labeling job fails.
    objects.delete("samples/test/clip-02_seq.json")
    assert engine.run_to_end(batch_id, poll_s=0) == "INTERNAL_ERROR"
    batch = engine.state.batch(batch_id)
    assert batch["error_type"] == "LabelingJobFailed"
    assert "Labeling job b1-vehicle failed" in batch["message"] or (
        "Labeling job b1-lane failed" in batch["message"]
    )
    assert {j["status"] for j in engine.state.jobs(batch_id)} == {"INTERNAL_ERROR"}
    assert {lvl["status"] for lvl in engine.state.levels(batch_id)} == {"INTERNAL_ERROR"}
    failed = engine.state.events(batch_id, kind="BatchFailed")[0]["payload"]
    assert set(failed) == {"batchId", "message", "errorType", "errorString", "token", "status"}
    assert failed["status"] == "FAILED" and failed["message"] == "Batch processing failed"


def test_a_job_that_runs_too_long_fails_the_batch(
    make_engine: Callable[..., Engine],
    request_for: Callable[..., dict[str, Any]],
) -> None:
    clock = FakeClock()
    engine = make_engine(job_timeout_s=3600, clock=clock)
    engine.backend.config = type(engine.backend.config)(job_seconds=10**9)  # never finishes
    batch_id = engine.submit(request_for("slow"))
    engine.advance(batch_id)
    engine.advance(batch_id)
    assert engine.state.batch(batch_id)["status"] == "IN_PROGRESS"
    clock.advance(3601)
    engine.advance(batch_id)
    batch = engine.state.batch(batch_id)
    assert batch["status"] == "INTERNAL_ERROR"
    assert "did not complete within" in batch["message"]


def test_stop_and_retry_resume_without_redoing_finished_jobs(
    engine: Engine,
    request_for: Callable[..., dict[str, Any]],
    objects: ObjectStore,
) -> None:
    batch_id = engine.submit(request_for("b1"))
    engine.start_level(batch_id, 1)
    engine.poll_level(batch_id, 1)  # level 1 done
    engine.start_level(batch_id, 2)
    engine.stop(batch_id, actor="ops-lead")
    assert engine.state.batch(batch_id)["status"] == "STOPPED"
    assert {j["job_name"]: j["status"] for j in engine.state.jobs(batch_id)} == {
        "b1-vehicle": "COMPLETE",
        "b1-lane": "COMPLETE",
        "b1-vehicle-audit": "STOPPED",
        "b1-lane-audit": "STOPPED",
    }
    with pytest.raises(ConflictError):
        engine.stop(batch_id)
    level_one_outputs = {
        j["job_name"]: j["output_manifest_uri"] for j in engine.state.jobs(batch_id, 1)
    }
    engine.retry(batch_id, actor="ops-lead")
    assert engine.run_to_end(batch_id, poll_s=0) == "COMPLETE"
    assert {
        j["job_name"]: j["output_manifest_uri"] for j in engine.state.jobs(batch_id, 1)
    } == level_one_outputs
    audit = engine.state.job("b1-vehicle-audit")
    assert audit["backend_job_id"] == "b1-vehicle-audit-2"
    records = objects.list("simulated-jobs")
    assert sorted(records) == sorted(
        f"simulated-jobs/{name}.json"
        for name in [
            "b1-vehicle",
            "b1-lane",
            "b1-vehicle-audit",
            "b1-lane-audit",
            "b1-vehicle-audit-2",
            "b1-lane-audit-2",
        ]
    )
    actors = {e["kind"]: e["actor"] for e in engine.state.events(batch_id)}
    assert actors["BatchStopped"] == actors["BatchRetried"] == "ops-lead"
    with pytest.raises(ConflictError, match="only a batch that is"):
        engine.retry(batch_id)


def test_down_sampling_rate_of_a_running_batch(
    engine: Engine, request_for: Callable[..., dict[str, Any]]
) -> None:
    batch_id = engine.submit(request_for("b1"))
    engine.set_down_sampling_rate(batch_id, 25, actor="ops")
    engine.run_to_end(batch_id, poll_s=0)
    assert engine.state.job("b1-lane-audit")["object_count"] == 1
    assert engine.show(batch_id)["downSamplingRate"] == 25
    with pytest.raises(ConflictError):
        engine.set_down_sampling_rate(batch_id, 50)


def test_delete_removes_everything_below_the_batch(
    engine: Engine, request_for: Callable[..., dict[str, Any]], objects: ObjectStore
) -> None:
    engine.run_to_end(engine.submit(request_for("keep")), poll_s=0)
    engine.run_to_end(engine.submit(request_for("gone")), poll_s=0)
    plan = engine.delete("gone", dry_run=True)
    assert plan["jobs"] == ["gone-vehicle", "gone-lane", "gone-vehicle-audit", "gone-lane-audit"]
    assert (
        plan["levels"] == [1, 2]
        and plan["objects"]
        and sorted(plan["lakeFiles"]) == ["batches/gone.parquet", "jobs/gone.parquet"]
    )
    assert engine.state.batch("gone") is not None  # a dry run changes nothing
    engine.delete("gone", actor="admin")
    assert engine.state.batch("gone") is None and engine.state.jobs("gone") == []
    assert not any("gone-" in key for key in objects.list("batch_manifests"))
    assert engine.lake.query("SELECT batch_id FROM batches").column(0).to_pylist() == ["keep"]
    assert engine.state.batch("keep")["status"] == "COMPLETE"
    assert engine.state.events("gone", kind="BatchDeleted")[0]["actor"] == "admin"
    with pytest.raises(NotFoundError, match="unknown batch 'gone'"):
        engine.show("gone")


def test_a_running_batch_is_not_deleted(
    engine: Engine, request_for: Callable[..., dict[str, Any]]
) -> None:
    batch_id = engine.submit(request_for("b1"))
    with pytest.raises(ConflictError, match="stop it first"):
        engine.delete(batch_id)


def test_list_by_status(engine: Engine, request_for: Callable[..., dict[str, Any]]) -> None:
    engine.run_to_end(engine.submit(request_for("done")), poll_s=0)
    engine.submit(request_for("waiting"))
    assert engine.list_by_status() == {
        "IN_PROGRESS": ["waiting"],
        "VALIDATION_FAIL": [],
        "INTERNAL_ERROR": [],
        "COMPLETE": ["done"],
        "STOPPED": [],
    }


def test_single_image_bounding_boxes_are_inline(engine: Engine, objects: ObjectStore) -> None:
    from labellake.workflows.samples.truth import ClipTruth, TruthFrame, TruthObject

    refs = []
    for name in ("a", "b"):
        objects.write_bytes(f"images/{name}.jpg", b"\xff\xd8 placeholder")
        truth = ClipTruth(
            640,
            360,
            [
                TruthFrame(
                    f"{name}.jpg",
                    [
                        TruthObject("car-1", "Car", "box", box=(10, 20, 100, 50)),
                        TruthObject("truck-1", "Truck", "box", box=(300, 100, 120, 90)),
                    ],
                )
            ],
        )
        objects.write_text(f"images/{name}_gt.json", truth.to_json())
        refs.append(objects.uri(f"images/{name}.jpg"))
    manifest_uri = objects.write_text(
        "images/images.manifest", formats.manifest_text([{"source-ref": ref} for ref in refs])
    )
    config_uri = objects.write_text(
        "images/config.json",
        json.dumps(
            {"document-version": "2020-08-15", "labels": [{"label": "Car"}, {"label": "Truck"}]}
        ),
    )
    engine.run_to_end(
        engine.submit(
            {
                "batchId": "img",
                "labelingJobs": [
                    {
                        "jobName": "img-boxes",
                        "jobModality": "BoundingBox",
                        "jobLevel": 1,
                        "labelCategoryConfigS3Uri": config_uri,
                        "inputConfig": {"inputManifestS3Uri": manifest_uri},
                    }
                ],
            }
        ),
        poll_s=0,
    )
    job = engine.state.job("img-boxes")
    assert job["label_attribute_name"] == "img-boxes" and job["annotation_type"] == "box"
    line = manifest(engine, job["output_manifest_uri"])[0]
    value, metadata = line["img-boxes"], line["img-boxes-metadata"]
    assert value["image_size"] == [{"width": 640, "height": 360, "depth": 3}]
    assert {a["class_id"] for a in value["annotations"]} <= {0, 1}
    assert len(metadata["objects"]) == len(value["annotations"])
    assert metadata["type"] == "groundtruth/object-detection"
    assert metadata["class-map"] == {"0": "Car", "1": "Truck"}


@pytest.mark.parametrize(
    "name,attempt,expected",
    [
        ("job", 1, "job"),
        ("job", 3, "job-3"),
        ("a" * 63, 2, "a" * 61 + "-2"),
        ("a" * 60 + "--bc", 12, "a" * 60 + "-12"),
    ],
)
def test_retried_backend_names_keep_the_name_rule(
    engine: Engine, name: str, attempt: int, expected: str
) -> None:
    backend_name = engine.backend_job_id({"job_name": name, "attempt": attempt})
    assert backend_name == expected
    assert re.match(NAME_PATTERN, backend_name)
