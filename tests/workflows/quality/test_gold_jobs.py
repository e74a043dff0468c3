"""Gold clips (goldManifestS3Uri, goldRate): mixed into a job's tasks unmarked, scored per
worker against their known tracks, and left out of what the next level and the quality
bound see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labellake.settings import Settings
from labellake.workflows.compose import build_engine, open_home
from labellake.workflows.labeling import formats
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.labeling.spec import SpecError
from labellake.workflows.samples import synthetic


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return build_engine(open_home(Settings(home=tmp_path / "h", simulated_job_seconds=0)))


def request(samples: synthetic.SampleSet, gold: str | None, rate: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "batchId": "gb",
        "labelingJobs": [
            {
                "jobName": "gb-vehicle",
                "jobModality": "VideoObjectTracking",
                "jobLevel": 1,
                "labelCategoryConfigS3Uri": samples.vehicle_config_uri,
                "inputConfig": {"inputManifestS3Uri": samples.manifest_uri},
                "goldRate": rate,
            },
            {
                "jobName": "gb-audit",
                "jobModality": "VideoObjectTrackingAudit",
                "jobLevel": 2,
                "inputConfig": {"chainFromJobName": "gb-vehicle"},
            },
        ],
    }
    if gold:
        body["goldManifestS3Uri"] = gold
    return body


@pytest.mark.slow
def test_gold_clips_are_mixed_in_scored_per_worker_and_not_shipped(engine: Engine) -> None:
    work = synthetic.generate(engine.objects, dataset="w", clips=6, frames=20, seed=5)
    gold_set = synthetic.generate(engine.objects, dataset="g", clips=3, frames=20, seed=6)
    gold = synthetic.gold_manifest(engine.objects, gold_set, "g")
    engine.submit(request(work, gold, 0.25))
    assert engine.run_to_end("gb", poll_s=0) == "COMPLETE"
    job = engine.state.job("gb-vehicle")
    # 0.25 of all tasks: 2 gold clips beside the 6, in the manifest like any other line.
    lines = formats.parse_manifest(engine.read(job["input_manifest_uri"]), "input")
    assert job["object_count"] == 8 and all(set(line) == {"source-ref"} for line in lines)
    mixed = {line["source-ref"] for line in lines} - set(work.clips)
    assert len(mixed) == 2 and mixed <= set(gold_set.clips)
    scores = engine.lake.query(
        "SELECT * FROM gold_scores WHERE job_name = 'gb-vehicle'"
    ).to_pylist()
    whole = next(s for s in scores if s["worker_id"] is None)
    assert whole["clips"] == 2 and whole["gold_objects"] > 0
    per_worker = [s for s in scores if s["worker_id"] is not None]
    assert per_worker and sum(s["clips"] for s in per_worker) == 2
    for score in scores:
        assert 0 < score["idf1"] <= 1 and score["mota"] <= 1 and 0 < score["hota"] <= 1
        assert 0.5 < score["box_iou"] <= 1
    # The gold clips count in each worker's reliability: 1 - IDF1 of their known objects.
    gold_evidence = engine.lake.query(
        "SELECT worker_id, evidence, errors FROM worker_reliability "
        "WHERE job_name = 'gb-vehicle' AND error_type = 'gold'"
    ).to_pylist()
    assert {(r["worker_id"], r["evidence"]) for r in gold_evidence} == {
        (s["worker_id"], s["gold_objects"]) for s in per_worker
    }
    for row in gold_evidence:
        score = next(s for s in per_worker if s["worker_id"] == row["worker_id"])
        assert row["errors"] == pytest.approx(score["gold_objects"] * (1 - score["idf1"]))
    # The audit and the bound see the job's own clips only.
    audit = engine.state.job("gb-audit")
    assert audit["object_count"] == 6
    routed = engine.lake.query("SELECT DISTINCT source_ref FROM audit_routing").column(0)
    assert set(routed.to_pylist()) == set(work.clips)


def test_bad_gold_settings_are_refused(engine: Engine, tmp_path: Path) -> None:
    work = synthetic.generate(engine.objects, dataset="w", clips=1, frames=4, seed=5)
    for rate, field, message in (
        (1.5, "labelingJobs[0].goldRate", "give a number in [0, 1]"),
        (-0.1, "labelingJobs[0].goldRate", "give a number in [0, 1]"),
        (0.2, "labelingJobs[0].goldRate", "needs the batch's goldManifestS3Uri"),
    ):
        with pytest.raises(SpecError) as refused:
            engine.submit(request(work, None, rate))
        problems = {p["field"]: p["message"] for p in refused.value.problems}
        assert message in problems[field], problems
    bad = engine.objects.write_text(
        "g/bad.manifest", formats.manifest_text([{"source-ref": work.clips[0]}])
    )
    with pytest.raises(SpecError) as refused:
        engine.submit(request(work, bad, 0.2))
    (problem,) = refused.value.problems
    assert problem["field"] == "goldManifestS3Uri" and "line 1" in problem["message"]
    assert "gold-ref" in problem["message"]
    assert engine.state.batch("gb") is None
