"""A job's rows pass through a staging file; memory does not grow with the job."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from labellake.etl import labeling, qa, staging
from labellake.etl.jobs import JobOutput, load_job
from labellake.lake import Lake, get_table

VIDEO = Path(__file__).parents[1] / "fixtures/groundtruth/video-quality-metrics/SeqLabel.json"


def rows(refs: int, per_ref: int) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "job_name": "j",
                "source_ref": f"clip-{r:03d}",
                "frame_no": f,
                "object_id": "a",
                "shape": "box",
                "box_left": float(f),
                "top": 1.0,
                "width": 5.0,
                "height": 5.0,
            }
            for r in range(refs)
            for f in range(per_ref)
        ],
        schema=get_table("annotations").schema,
    )


def test_groups_hold_whole_data_objects(tmp_path: Path) -> None:
    staged = staging.StagedAnnotations(tmp_path)
    for part in rows(30, 7).to_batches(max_chunksize=11):  # chunks cut data objects apart
        staged.add(pa.Table.from_batches([part]))
    groups = list(staged.by_data_object(rows=20))
    assert sum(g.num_rows for g in groups) == 30 * 7
    refs = [set(g["source_ref"].to_pylist()) for g in groups]
    assert all(not (a & b) for i, a in enumerate(refs) for b in refs[i + 1 :])
    assert max(g.num_rows for g in groups) <= 20 + 7
    assert len(groups) > 5


def test_sink_hands_over_rows_in_chunks() -> None:
    seen: list[int] = []
    rows_ = labeling.AnnotationRows(sink=lambda t: seen.append(t.num_rows), chunk_rows=4)
    for n in range(10):
        rows_.add(job_name="j", frame_no=n)
    rows_.flush()
    assert seen == [4, 4, 2] and rows_.total == 10 and len(rows_) == 0


def test_a_job_checked_in_groups_finds_what_one_pass_finds(
    tmp_path: Path, bare_lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = []
    for clip in range(6):
        seqlabel = tmp_path / f"SeqLabel-{clip}.json"
        document = json.loads(VIDEO.read_text())
        for frame in document["tracking-annotations"][::7]:  # gaps and jumps to find
            frame["annotations"] = frame["annotations"][:1]
        seqlabel.write_text(json.dumps(document))
        lines.append(
            {
                "source-ref": f"clip-{clip}_seq.json",
                "vehicles-ref": str(seqlabel),
                "vehicles-ref-metadata": {"job-name": "labeling-job/vehicles"},
            }
        )
    manifest = tmp_path / "vehicles/manifests/output/output.manifest"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    monkeypatch.setattr(staging, "GROUP_ROWS", 500)  # several groups of whole clips
    groups: list[int] = []
    checks = qa.run_checks

    def counted(table: pa.Table, config: qa.QaConfig | None = None) -> pa.Table:
        groups.append(table.num_rows)
        return checks(table, config)

    monkeypatch.setattr(qa, "run_checks", counted)
    report = load_job(JobOutput("vehicles", str(manifest)), bare_lake)
    assert len(groups) > 3 and max(groups) < report.counts["annotations"]
    whole = checks(bare_lake.read_unit("annotations", "vehicles"))
    found = bare_lake.read_unit("qa_findings", "vehicles")
    key = ["source_ref", "object_id", "frame_no", "check_name"]
    assert sorted(found.select(key).to_pylist(), key=str) == sorted(
        whole.select(key).to_pylist(), key=str
    )
    assert found.num_rows and pc.all(pc.is_valid(found["check_name"])).as_py()
    shutil.rmtree(tmp_path / "vehicles")
