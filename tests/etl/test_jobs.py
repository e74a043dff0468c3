from __future__ import annotations

import json
from pathlib import Path

import pytest

from labellake.etl.jobs import JobOutput, load_job
from labellake.lake import Lake

from .conftest import ground_truth_job

EXAMPLES = Path(__file__).parents[1] / "fixtures/examples"


def counts(lake: Lake) -> dict[str, int]:
    return {t: n for t, n in lake.row_counts().items() if n}


def test_a_job_loads_once(tmp_path: Path, bare_lake: Lake) -> None:
    manifest = ground_truth_job(tmp_path)
    job = JobOutput("drive-0042-vehicle", str(manifest), batch_id="drive-0042")
    report = load_job(job, bare_lake)
    # The clips' bucket cannot be reached from here: said once, and the load goes on.
    assert [p.file for p in report.problems] == ["s3://example-input"] and not report.skipped
    assert report.counts == {
        "labels": 1,
        "annotations": 3,
        "worker_responses": 1,
        "worker_events": 1,
        "qa_findings": 2,
        "annotation_stats": 6,
        "audit_stats": 0,
        "errors": 1,
    }
    first = counts(bare_lake)
    assert load_job(job, bare_lake).skipped
    assert load_job(job, bare_lake, force=True).counts == report.counts
    assert counts(bare_lake) == first
    response = bare_lake.query("SELECT source_ref, data_object_id FROM worker_responses")
    assert response.to_pylist() == [
        {"source_ref": "s3://example-input/drive-0042/clip-07_seq.json", "data_object_id": "0"}
    ]
    # Only this job's activity events: the example file holds another job's too.
    assert bare_lake.query("SELECT DISTINCT job_name FROM worker_events").column(0).to_pylist() == [
        "drive-0042-vehicle"
    ]


def test_a_changed_output_is_reloaded(tmp_path: Path, bare_lake: Lake) -> None:
    manifest = ground_truth_job(tmp_path)
    job = JobOutput("drive-0042-vehicle", str(manifest))
    load_job(job, bare_lake)
    manifest.write_text(manifest.read_text() * 2)
    assert load_job(job, bare_lake).counts["labels"] == 2


def test_bad_inputs_are_recorded_and_the_rest_loads(tmp_path: Path, bare_lake: Lake) -> None:
    manifest = ground_truth_job(tmp_path)
    root = manifest.parents[2]
    good = json.loads(manifest.read_text())
    no_frames = root / "annotations/consolidated-annotation/output/1/SeqLabel.json"
    no_frames.parent.mkdir(parents=True)
    no_frames.write_text(json.dumps({"version": "x"}))
    broken = dict(good, **{"source-ref": "clip-2", "drive-0042-vehicle-ref": str(no_frames)})
    missing = dict(
        good,
        **{"source-ref": "clip-3", "drive-0042-vehicle-ref": str(root / "nowhere/SeqLabel.json")},
    )
    manifest.write_text(
        "\n".join(
            [
                json.dumps(good),
                '{"source-ref": "clip-4", "drive-0',
                json.dumps(broken),
                json.dumps(missing),
            ]
        )
        + "\n"
    )
    empty = root / "annotations/worker-response/iteration-1/1/2026-11-20_11:00:00.json"
    empty.parent.mkdir(parents=True)
    empty.write_text(json.dumps({"answers": []}))
    report = load_job(JobOutput("drive-0042-vehicle", str(manifest)), bare_lake)
    errors = bare_lake.query("SELECT file, line, reason FROM etl_errors ORDER BY file").to_pylist()
    reasons = [(Path(e["file"]).name, e["line"], e["reason"]) for e in errors]
    assert any(f == "output.manifest" and n == 2 and "truncated" in r for f, n, r in reasons)
    assert any(f == "SeqLabel.json" and "no tracking-annotations" in r for f, _, r in reasons)
    assert any(f == "SeqLabel.json" and "does not exist" in r for f, _, r in reasons)
    assert any(f.endswith(".json") and "no answers" in r for f, _, r in reasons)
    assert any(e["file"] == "s3://example-input" and "--map" in e["reason"] for e in errors)
    assert len(errors) == 5 == report.counts["errors"]
    assert report.counts["labels"] == 3 and report.counts["annotations"] == 3


def test_a_missing_manifest_loads_nothing_and_says_so(tmp_path: Path, bare_lake: Lake) -> None:
    report = load_job(
        JobOutput("ghost", str(tmp_path / "ghost/manifests/output/output.manifest")), bare_lake
    )
    assert not report.loaded_anything
    assert "does not exist" in report.problems[0].reason
    assert bare_lake.query("SELECT count(*) FROM etl_errors").column(0)[0].as_py() == 1


@pytest.mark.parametrize("mapped", [True, False])
def test_refs_can_be_mapped_to_a_local_copy(tmp_path: Path, bare_lake: Lake, mapped: bool) -> None:
    manifest = ground_truth_job(tmp_path / "copy")
    local = str(tmp_path / "copy")
    text = manifest.read_text().replace(local, "s3://old-bucket/jobs")
    manifest.write_text(text)
    job = JobOutput(
        "drive-0042-vehicle",
        str(manifest),
        uri_map={"s3://old-bucket/jobs": local} if mapped else {},
    )
    report = load_job(
        job,
        bare_lake,
        reader=None if mapped else (lambda uri: (_ for _ in ()).throw(OSError("offline"))),
    )
    assert (report.counts.get("annotations", 0) == 3) is mapped


def audit_job(root: Path, audited: str = "drive-0042-vehicle") -> Path:
    """An audit job of ``audited`` on the same clip: the auditor shifts object 1 by 22 px on
    frame 0 and fails it, deletes object 2 and adds object 3."""
    job = f"{audited}-audit"
    out = root / job
    seqlabel = out / "annotations/consolidated-annotation/output/0/SeqLabel.json"
    seqlabel.parent.mkdir(parents=True)
    frames = json.loads((EXAMPLES / "SeqLabel-tracking-boxes.json").read_text())
    first, second = frames["tracking-annotations"]
    kept = dict(first["annotations"][0], left=first["annotations"][0]["left"] + 22)
    added = dict(
        first["annotations"][1], **{"object-id": "added-3", "object-name": "Vehicle:3", "left": 10}
    )
    first["annotations"] = [kept, added]
    for frame in (first, second):
        for box in frame["annotations"]:
            box["label-category-attributes"] = dict(
                box["label-category-attributes"],
                audit="Pass" if box["object-id"] == "added-3" else "Fail",
            )
    seqlabel.write_text(json.dumps(frames))
    line = json.loads(ground_truth_manifest_line(root, audited))
    line[f"{job}-ref"] = str(seqlabel)
    line[f"{job}-ref-metadata"] = dict(
        line[f"{audited}-ref-metadata"],
        **{"job-name": f"labeling-job/{job}", "creation-date": "2026-11-21T09:00:00.000000"},
    )
    manifest = out / "manifests/output/output.manifest"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps(line) + "\n")
    return manifest


def ground_truth_manifest_line(root: Path, job: str) -> str:
    return (root / job / "manifests/output/output.manifest").read_text().splitlines()[0]


AUDITED = {
    "job_name": "drive-0042-vehicle-audit",
    "audited_job": "drive-0042-vehicle",
    "source_ref": "s3://example-input/drive-0042/clip-07_seq.json",
    "objects_audited": 2,
    "objects_unchanged": 0,
    "objects_compared": 1,
    "objects_added": 1,
    "objects_deleted": 1,
    "objects_passed": 0,
    "objects_failed": 1,
}


def audit_rows(lake: Lake) -> list[dict[str, object]]:
    return lake.query(
        "SELECT * EXCLUDE (batch_id, iou_shift_sum), iou_shift_sum FROM audit_stats"
    ).to_pylist()


@pytest.mark.parametrize("audit_first", [False, True])
def test_an_audit_job_is_compared_with_the_job_it_audits(
    tmp_path: Path, bare_lake: Lake, audit_first: bool
) -> None:
    level1 = JobOutput("drive-0042-vehicle", str(ground_truth_job(tmp_path)))
    # Imported: the audited job is read off the audit job's manifest.
    level2 = JobOutput("drive-0042-vehicle-audit", str(audit_job(tmp_path)))
    for job in [level2, level1] if audit_first else [level1, level2]:
        load_job(job, bare_lake)
    [row] = audit_rows(bare_lake)
    # Frame 0: 66 px of 88 overlap, IoU 66 / 110 = 0.6; frame 1 unchanged: mean shift 0.2.
    assert row.pop("iou_shift_sum") == pytest.approx(0.2)
    assert row == AUDITED
    loads = bare_lake.query("SELECT job_name, audits FROM etl_loads ORDER BY job_name")
    assert loads.to_pylist() == [
        {"job_name": "drive-0042-vehicle", "audits": None},
        {"job_name": "drive-0042-vehicle-audit", "audits": "drive-0042-vehicle"},
    ]
    # Reloading the audited job with other work recompares the audit job.
    manifest = Path(level1.output_manifest_uri)
    manifest.write_text(manifest.read_text().replace("clip-07", "clip-08"))
    load_job(level1, bare_lake)
    [row] = audit_rows(bare_lake)
    assert (row["objects_audited"], row["objects_added"], row["objects_deleted"]) == (0, 2, 0)


def test_a_first_level_job_has_no_audit_rows(tmp_path: Path, bare_lake: Lake) -> None:
    report = load_job(JobOutput("drive-0042-vehicle", str(ground_truth_job(tmp_path))), bare_lake)
    assert report.counts["audit_stats"] == 0 and audit_rows(bare_lake) == []


def test_a_load_tells_how_many_label_files_it_has_read(tmp_path: Path, bare_lake: Lake) -> None:
    manifest = ground_truth_job(tmp_path)
    told: list[tuple[int, int]] = []
    load_job(
        JobOutput("drive-0042-vehicle", str(manifest)),
        bare_lake,
        progress=lambda *n: told.append(n),
    )
    assert told == [(0, 1), (1, 1)]
