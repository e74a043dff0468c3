from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labellake.lake import ObjectStore
from labellake.workflows.labeling import lake_sync, qa_routing
from labellake.workflows.labeling.engine import Engine


@pytest.fixture
def synced(make_engine: Callable[..., Engine]) -> Engine:
    return qa_routing.install(lake_sync.install(make_engine()))


def summaries(engine: Engine, batch_id: str) -> dict[str, dict[str, Any]]:
    found = {}
    for job in engine.state.jobs(batch_id):
        root = job["output_manifest_uri"].rsplit("/manifests/", 1)[0]
        found[job["job_name"]] = json.loads(Path(root, "simulation/summary.json").read_text())
    return found


def test_the_lake_matches_the_simulated_workforce_record(
    synced: Engine, request_for: Callable[..., dict[str, Any]]
) -> None:
    assert synced.run_to_end(synced.submit(request_for("b1")), poll_s=0) == "COMPLETE"
    record = summaries(synced, "b1")
    per_job = {
        row["job_name"]: row
        for row in synced.lake.query(
            "SELECT job_name, count(*) AS n FROM annotations GROUP BY 1"
        ).to_pylist()
    }
    for job, summary in record.items():
        assert per_job[job]["n"] == summary["shapes"], job

    def count(table: str) -> dict[str, int]:
        rows = synced.lake.query(f"SELECT job_name, count(*) AS n FROM {table} GROUP BY 1")
        return {r["job_name"]: r["n"] for r in rows.to_pylist()}

    assert count("worker_responses") == {j: s["worker_responses"] for j, s in record.items()}
    assert count("worker_events") == {j: s["events"] for j, s in record.items()}
    # Level-1 lines carry one label attribute, audit lines two.
    assert count("labels") == {
        "b1-vehicle": 4,
        "b1-lane": 4,
        "b1-vehicle-audit": 8,
        "b1-lane-audit": 8,
    }
    loads = synced.lake.query("SELECT job_name FROM etl_loads").column(0).to_pylist()
    assert sorted(loads) == sorted(record)
    assert synced.lake.query("SELECT count(*) FROM etl_errors").column(0)[0].as_py() == 0


def test_qa_findings_find_the_injected_errors(
    synced: Engine, objects: ObjectStore, request_for: Callable[..., dict[str, Any]]
) -> None:
    synced.run_to_end(synced.submit(request_for("b1")), poll_s=0)
    job = synced.state.job("b1-vehicle")
    root = job["output_manifest_uri"].rsplit("/manifests/", 1)[0]
    ledger = [
        json.loads(line)
        for line in Path(root, "simulation/injected-errors.jsonl").read_text().splitlines()
    ]
    findings = {
        (f["source_ref"], f["object_id"], f["frame_no"])
        for f in synced.lake.query(
            "SELECT source_ref, object_id, frame_no FROM qa_findings WHERE job_name = 'b1-vehicle'"
        ).to_pylist()
    }
    targeted = [
        e
        for e in ledger
        if e["kind"]
        in {"size_jump", "position_jump", "id_switch", "duplicate", "out_of_image", "gap"}
    ]
    found = [
        e
        for e in targeted
        if {
            (e["source_ref"], e["object_id"], e["frame_no"]),
            (e["source_ref"], e["object_id"], e["frame_no"] + 1),
        }
        & findings
    ]
    assert len(found) >= 0.9 * len(targeted)


def test_qa_routing_sends_only_flagged_objects_to_the_audit(
    synced: Engine, request_for: Callable[..., dict[str, Any]]
) -> None:
    request = request_for("b1")
    request["labelingJobs"][2]["inputConfig"]["qaFilter"] = {
        "checks": ["duplicate_box", "size_jump"]
    }
    request["labelingJobs"][3]["inputConfig"]["qaFilter"] = {
        "checks": ["polyline_self_intersection"]
    }
    synced.run_to_end(synced.submit(request), poll_s=0)
    flagged = set(
        synced.lake.query(
            "SELECT DISTINCT source_ref FROM qa_findings WHERE job_name = 'b1-vehicle' "
            "AND check_name IN ('duplicate_box', 'size_jump')"
        )
        .column(0)
        .to_pylist()
    )
    audit = synced.state.job("b1-vehicle-audit")
    assert 0 < len(flagged) < 4, flagged
    assert audit["object_count"] == len(flagged)
    lane_audit = synced.state.job("b1-lane-audit")
    assert lane_audit["object_count"] == 0 and "flagged no data object" in lane_audit["message"]
    assert synced.state.batch("b1")["status"] == "COMPLETE"


def test_etl_catches_up_after_a_lost_load(
    synced: Engine, request_for: Callable[..., dict[str, Any]]
) -> None:
    synced.on_job_complete.clear()  # as if the process died right after each job completed
    synced.run_to_end(synced.submit(request_for("b1")), poll_s=0)
    assert len(synced.lake.query("SELECT job_name FROM etl_loads")) == 4  # done at batch end
    jobs = lake_sync.completed_jobs(synced)
    assert len(jobs) == 4


def test_views_over_a_finished_batch(
    synced: Engine, request_for: Callable[..., dict[str, Any]]
) -> None:
    synced.run_to_end(synced.submit(request_for("b1")), poll_s=0)
    perf = synced.lake.query_user("SELECT * FROM worker_performance").to_pylist()
    by_job: dict[str, list[dict[str, Any]]] = {}
    for row in perf:
        by_job.setdefault(row["job_name"], []).append(row)
    assert {j: sum(r["tasks"] for r in rows) for j, rows in by_job.items()} == {
        "b1-vehicle": 4,
        "b1-lane": 4,
        "b1-vehicle-audit": 4,
        "b1-lane-audit": 4,
    }
    for row in by_job["b1-vehicle"]:
        assert row["objects_audited"] > 0 and 0 <= row["share_unchanged"] <= 1
        assert row["pass_rate"] + row["fail_rate"] == pytest.approx(1)
        assert row["median_seconds_per_task"] > 60  # hours of virtual work, not seconds
    teams = {
        r["team"]: r for r in synced.lake.query_user("SELECT * FROM team_performance").to_pylist()
    }
    assert {team: row["tasks"] for team, row in teams.items()} == {
        row["team"]: 8 for row in perf
    }  # each team did its level's two jobs of four tasks
    for team, row in teams.items():
        mine = [r for r in perf if r["team"] == team]
        assert row["objects_labeled"] == sum(r["objects_labeled"] for r in mine)
        audited = [r["objects_audited"] for r in mine if r["objects_audited"] is not None]
        assert row["objects_audited"] == (sum(audited) if audited else None)
    outcomes = {
        r["job_name"]: r for r in synced.lake.query_user("SELECT * FROM audit_outcomes").to_pylist()
    }
    assert outcomes["b1-vehicle-audit"]["data_objects"] == 4
    assert outcomes["b1-vehicle-audit"]["objects"] == (
        outcomes["b1-vehicle-audit"]["objects_passed"]
        + outcomes["b1-vehicle-audit"]["objects_failed"]
    )
    progress = synced.lake.query_user("SELECT job_name, share_labeled FROM job_progress")
    assert set(progress.column("share_labeled").to_pylist()) == {1.0}
    classes = synced.lake.query_user(
        "SELECT label, shape FROM class_distribution WHERE job_name = 'b1-lane'"
    ).to_pylist()
    assert classes == [{"label": "Lane", "shape": "polyline"}]
    # Every finding is on a data object some worker submitted, so none is lost per worker.
    per_worker = synced.lake.query_user("SELECT sum(findings) AS n FROM qa_findings_per_worker")
    total = synced.lake.query_user("SELECT count(*) AS n FROM qa_findings")
    assert per_worker.column("n")[0].as_py() == total.column("n")[0].as_py() > 0
