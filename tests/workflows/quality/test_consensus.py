"""Consensus jobs (consensusCount): k workers per clip, their tracks consolidated, their
agreement recorded, and the objects they disagreed on sent to the next level."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labellake.settings import Settings
from labellake.workflows.compose import build_engine, open_home
from labellake.workflows.labeling import formats
from labellake.workflows.labeling.formats import FrameLabels, Shape
from labellake.workflows.labeling.spec import SpecError
from labellake.workflows.quality.consensus import clip_consensus
from labellake.workflows.samples import synthetic

CLASSES = {"Car": 0, "Truck": 1}


def frames(*tracks: tuple[str, str, float]) -> list[FrameLabels]:
    """Five frames; each track (id, label, x offset) a 20x20 box moving 10 px a frame."""
    out = [FrameLabels(frame_no=i, frame=f"{i:06d}.jpg") for i in range(5)]
    for object_id, label, dx in tracks:
        for frame in out:
            box = (10.0 * frame.frame_no + dx, 0.0, 20.0, 20.0)
            frame.shapes.append(
                Shape(object_id, f"{label}:1", CLASSES[label], "box", box, None, {"Moving": "Yes"})
            )
    return out


def test_two_workers_agree_on_one_object_and_not_on_another() -> None:
    names = [f"{i:06d}.jpg" for i in range(5)]
    result = clip_consensus(
        {"w1": frames(("a", "Car", 0.0), ("x", "Truck", 300.0)), "w2": frames(("b", "Car", 1.0))},
        names,
        CLASSES,
        "job",
        "clip",
    )
    by_label = {row["label"]: row for row in result.objects}
    assert by_label["Car"]["agreement"] > 0.85 and by_label["Car"]["drawn_by"] == ["w1", "w2"]
    assert by_label["Truck"]["agreement"] == 0.0 and by_label["Truck"]["drawn_by"] == ["w1"]
    assert all(row["kept"] for row in result.objects)  # one of two is half: kept for review
    (pair,) = result.pairs
    assert (pair["worker_a"], pair["worker_b"], pair["objects"]) == ("w1", "w2", 2)
    assert pair["agreement"] == pytest.approx(by_label["Car"]["agreement"] / 2)
    # The consolidated car is the median of the two boxes, under a new, stable id.
    car = [s for s in result.frames[0].shapes if s.class_id == 0]
    assert car[0].box == pytest.approx((0.5, 0.0, 20.0, 20.0))
    assert car[0].object_id == by_label["Car"]["object_id"] not in ("a", "b")


def test_an_object_one_of_three_workers_drew_is_left_out() -> None:
    names = [f"{i:06d}.jpg" for i in range(5)]
    result = clip_consensus(
        {
            "w1": frames(("a", "Car", 0.0), ("x", "Truck", 300.0)),
            "w2": frames(("b", "Car", 0.0)),
            "w3": frames(("c", "Truck", 0.0)),  # the same box, another label
        },
        names,
        CLASSES,
        "job",
        "clip",
    )
    kept = [row for row in result.objects if row["kept"]]
    assert [(row["label"], row["label_agreement"]) for row in kept] == [
        ("Car", pytest.approx(2 / 3))
    ]
    dropped = [row for row in result.objects if not row["kept"]]
    assert [row["object_id"] for row in dropped] == [None]
    assert {s.class_id for f in result.frames for s in f.shapes} == {0}  # majority: Car
    assert len(result.pairs) == 3


def request(samples: synthetic.SampleSet, k: Any) -> dict[str, Any]:
    return {
        "batchId": "cons",
        "labelingJobs": [
            {
                "jobName": "cons-vehicle",
                "jobModality": "VideoObjectTracking",
                "jobLevel": 1,
                "labelCategoryConfigS3Uri": samples.vehicle_config_uri,
                "inputConfig": {"inputManifestS3Uri": samples.manifest_uri},
                "consensusCount": k,
            },
            {
                "jobName": "cons-audit",
                "jobModality": "VideoObjectTrackingAudit",
                "jobLevel": 2,
                "inputConfig": {
                    "chainFromJobName": "cons-vehicle",
                    "qaFilter": {"mode": "consensus", "minAgreement": 0.8},
                },
            },
        ],
    }


@pytest.mark.slow
def test_a_consensus_of_two_then_an_audit_of_what_they_disagreed_on(tmp_path: Path) -> None:
    engine = build_engine(open_home(Settings(home=tmp_path / "h", simulated_job_seconds=0)))
    samples = synthetic.generate(engine.objects, dataset="c", clips=4, frames=24, seed=5)
    engine.submit(request(samples, 2))
    assert engine.run_to_end("cons", poll_s=0) == "COMPLETE"
    responses = engine.lake.query(
        "SELECT source_ref, count(DISTINCT worker_id) AS workers FROM worker_responses "
        "WHERE job_name = 'cons-vehicle' GROUP BY source_ref"
    ).to_pylist()
    assert len(responses) == 4 and {r["workers"] for r in responses} == {2}
    objects = engine.lake.query(
        "SELECT * FROM consensus_objects WHERE job_name = 'cons-vehicle'"
    ).to_pylist()
    pairs = engine.lake.query("SELECT * FROM consensus_agreement").to_pylist()
    assert objects and len(pairs) == 4 and all(r["batch_id"] == "cons" for r in objects)
    # The shipped labels are the consolidated ones.
    shipped = (
        engine.lake.query(
            "SELECT DISTINCT object_id FROM annotations WHERE job_name = 'cons-vehicle'"
        )
        .column("object_id")
        .to_pylist()
    )
    assert set(shipped) == {r["object_id"] for r in objects if r["kept"]}
    # The audit saw the objects agreed on less than 0.8, and only those.
    low = {(r["source_ref"], r["object_id"]) for r in objects if r["kept"] and r["agreement"] < 0.8}
    assert low
    audit = engine.state.job("cons-audit")
    lines = formats.parse_manifest(engine.read(audit["input_manifest_uri"]), "audit input")
    listed = {(line["source-ref"], o) for line in lines for o in line[formats.AUDIT_OBJECTS_KEY]}
    assert listed == low
    routing = engine.lake.query(
        "SELECT source_ref, object_id, routed, mode FROM audit_routing"
    ).to_pylist()
    assert {r["mode"] for r in routing} == {"consensus"}
    assert {(r["source_ref"], r["object_id"]) for r in routing if r["routed"]} == low
    (quality,) = engine.show("cons")["qualityBound"]
    assert quality["upperRate"] is None  # chosen by a rule: no bound
    # Going against the majority counts in each worker's reliability.
    against = engine.lake.query(
        "SELECT worker_id, evidence, errors FROM worker_reliability "
        "WHERE job_name = 'cons-vehicle' AND error_type = 'consensus'"
    ).to_pylist()
    labelers = {w for r in objects for w in r["drawn_by"]}
    assert {r["worker_id"] for r in against} == labelers
    assert sum(r["evidence"] for r in against) == sum(
        len({p["worker_a"], p["worker_b"]})
        * sum(1 for o in objects if o["source_ref"] == p["source_ref"])
        for p in pairs
    )
    assert sum(r["errors"] for r in against) == sum(
        1 for o in objects if o["kept"] and len(o["drawn_by"]) == 1
    )


def test_a_consensus_larger_than_the_team_is_refused(tmp_path: Path) -> None:
    engine = build_engine(open_home(Settings(home=tmp_path / "h", simulated_job_seconds=0)))
    samples = synthetic.generate(engine.objects, dataset="c", clips=1, frames=4, seed=5)
    with pytest.raises(SpecError) as refused:
        engine.submit(request(samples, 6))
    assert refused.value.problems == [
        {
            "field": "labelingJobs[0].consensusCount",
            "message": "6 workers per data object, but the work team "
            "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/first-level has "
            "5; lower consensusCount or add workers to the team",
        }
    ]
    assert engine.state.batch("cons") is None
    with pytest.raises(SpecError) as refused:
        engine.submit(request(samples, 2) | {"backend": "labelstudio"})
    problems = {p["field"]: p["message"] for p in refused.value.problems}
    assert "gives each data object to one worker" in problems["labelingJobs[0].consensusCount"]


def test_a_consensus_of_polylines_is_refused(tmp_path: Path) -> None:
    engine = build_engine(open_home(Settings(home=tmp_path / "h", simulated_job_seconds=0)))
    samples = synthetic.generate(engine.objects, dataset="c", clips=1, frames=4, seed=5)
    body = request(samples, 2)
    body["labelingJobs"][0]["labelCategoryConfigS3Uri"] = samples.lane_config_uri
    with pytest.raises(SpecError) as refused:
        engine.submit(body)
    problems = {p["field"]: p["message"] for p in refused.value.problems}
    assert "this job draws polylines" in problems["labelingJobs[0].consensusCount"]
