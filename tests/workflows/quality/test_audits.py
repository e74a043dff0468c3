"""Audits as a probability sample, through the engine: routing by risk or by findings up to
a budget, the verdicts, the quality bound of what ships, worker reliability, and the
audit-risk model trained and used by the next batch."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from labellake.lake import Lake
from labellake.settings import Settings
from labellake.workflows.compose import build_engine, model_workflow, open_home
from labellake.workflows.labeling import formats
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.quality import audits
from labellake.workflows.samples import synthetic


def batch(batch_id: str, samples: synthetic.SampleSet, audit: dict[str, Any]) -> dict[str, Any]:
    return {
        "batchId": batch_id,
        "labelingJobs": [
            {
                "jobName": f"{batch_id}-vehicle",
                "jobModality": "VideoObjectTracking",
                "jobLevel": 1,
                "labelCategoryConfigS3Uri": samples.vehicle_config_uri,
                "inputConfig": {"inputManifestS3Uri": samples.manifest_uri},
            },
            {
                "jobName": f"{batch_id}-audit",
                "jobModality": "VideoObjectTrackingAudit",
                "jobLevel": 2,
                "inputConfig": {"chainFromJobName": f"{batch_id}-vehicle", **audit},
            },
        ],
    }


def run(engine: Engine, batch_id: str, audit: dict[str, Any], seed: int) -> None:
    samples = synthetic.generate(
        engine.objects, dataset=f"d{seed}", clips=8, frames=24, seed=seed, vehicle_classes=True
    )
    engine.submit(batch(batch_id, samples, audit))
    assert engine.run_to_end(batch_id, poll_s=0) == "COMPLETE"


def rows(engine: Engine, table: str, job: str) -> list[dict[str, Any]]:
    return engine.lake.query(f"SELECT * FROM {table} WHERE job_name = ?", [job]).to_pylist()


@pytest.fixture
def home(tmp_path: Path):  # type: ignore[no-untyped-def]
    return open_home(
        Settings(home=tmp_path / "home", simulated_job_seconds=0, simulated_team_size=4)
    )


@pytest.mark.slow
def test_a_full_audit_trains_the_model_that_routes_the_next_batch_by_risk(home) -> None:  # type: ignore[no-untyped-def]
    engine = build_engine(home)
    models = model_workflow(home)
    run(engine, "history", {}, seed=1)
    routed = rows(engine, "audit_routing", "history-audit")
    assert routed and {r["mode"] for r in routed} == {"all"}
    assert all(r["routed"] and r["probability"] == 1.0 for r in routed)
    failed = [r for r in routed if r["failed"]]
    assert failed and all(r["error_type"] for r in failed)
    # Everything was audited and fixed: nothing is left, with certainty.
    (quality,) = rows(engine, "dataset_quality", "history-audit")
    assert (quality["objects"], quality["audited"]) == (len(routed), len(routed))
    assert quality["errors_found"] == len(failed)
    assert quality["residual_rate"] == 0.0 and quality["upper_rate"] == 0.0
    reliability = rows(engine, "worker_reliability", "history-audit")
    assert {r["error_type"] for r in reliability} == set(audits.ERROR_TYPES)
    assert len({r["worker_id"] for r in reliability}) == 4
    for r in reliability:
        assert 0 <= r["lower"] <= r["estimate"] <= r["upper"] <= 1
    model = models.registry.endpoint_for(audits.RISK_MODEL)

    run(engine, "next", {"qaFilter": {"mode": "risk", "auditBudget": 0.3}}, seed=2)
    routed = rows(engine, "audit_routing", "next-audit")
    assert {r["mode"] for r in routed} == {"risk"}
    assert {r["risk_source"] for r in routed} == {model["run_id"]}
    # The probabilities spend the budget exactly, with a floor under every object.
    assert sum(r["probability"] for r in routed) == pytest.approx(0.3 * len(routed))
    assert min(r["probability"] for r in routed) == pytest.approx(0.25 * 0.3)
    chosen = [r for r in routed if r["routed"]]
    assert 0 < len(chosen) < len(routed)
    assert all((r["failed"] is None) == (not r["routed"]) for r in routed)
    # The audit saw the data objects holding a routed object, and checked only those.
    audit_job = engine.state.job("next-audit")
    lines = formats.parse_manifest(
        engine.read(audit_job["input_manifest_uri"]), audit_job["input_manifest_uri"]
    )
    listed = {(line["source-ref"], o) for line in lines for o in line[formats.AUDIT_OBJECTS_KEY]}
    assert listed == {(r["source_ref"], r["object_id"]) for r in chosen}
    verdicts = engine.lake.query(
        "SELECT DISTINCT source_ref, object_id FROM annotations "
        "WHERE job_name = 'next-audit' AND audit IS NOT NULL"
    ).to_pylist()
    parent_ids = {(r["source_ref"], r["object_id"]) for r in routed}
    judged = {(v["source_ref"], v["object_id"]) for v in verdicts} & parent_ids
    assert judged <= listed
    (quality,) = rows(engine, "dataset_quality", "next-audit")
    assert quality["audited"] == len(chosen)
    assert quality["errors_found"] == sum(bool(r["failed"]) for r in chosen)
    assert 0 <= quality["residual_rate"] <= quality["upper_rate"] <= 1
    assert "stratified" in quality["method"]
    # The second audit retrained the model; the batch page shows the bound.
    assert models.registry.endpoint_for(audits.RISK_MODEL)["run_id"] != model["run_id"]
    shown = engine.show("next")
    bound = shown["qualityBound"][0]
    assert bound["auditJob"] == "next-audit" and bound["upperRate"] == quality["upper_rate"]


@pytest.mark.slow
def test_findings_with_a_budget_routes_the_most_flagged_objects_first(home) -> None:  # type: ignore[no-untyped-def]
    engine = build_engine(home)
    run(engine, "qa", {"qaFilter": {"auditBudget": 0.25}}, seed=3)
    routed = rows(engine, "audit_routing", "qa-audit")
    assert {r["mode"] for r in routed} == {"findings"} and routed[0]["risk"] is None
    findings = {
        (f["source_ref"], f["object_id"]): f["findings"]
        for f in audits.features(engine.lake, "qa-vehicle").to_dict("records")
    }
    floor = 0.25 * 0.25
    raised = [
        findings[(r["source_ref"], r["object_id"])]
        for r in routed
        if r["probability"] > floor + 1e-9
    ]
    rest = [
        findings[(r["source_ref"], r["object_id"])]
        for r in routed
        if r["probability"] <= floor + 1e-9
    ]
    assert raised and rest and min(raised) >= max(rest)
    (quality,) = rows(engine, "dataset_quality", "qa-audit")
    assert quality["upper_rate"] is not None


@pytest.mark.slow
def test_qa_flagged_data_objects_give_no_bound(home) -> None:  # type: ignore[no-untyped-def]
    engine = build_engine(home)
    run(engine, "flag", {"qaFilter": {"checks": ["size_jump", "iou_drop"]}}, seed=4)
    routed = rows(engine, "audit_routing", "flag-audit")
    assert {r["mode"] for r in routed} == {"flagged"}
    assert {r["probability"] for r in routed} <= {0.0, 1.0}
    (quality,) = rows(engine, "dataset_quality", "flag-audit")
    assert quality["upper_rate"] is None and quality["residual_rate"] is None
    assert "no random share" in quality["method"]


def routing_rows(
    worker: str, job: str, risk: float | None, probability: float, outcomes: list[bool | None]
) -> pa.Table:
    n = len(outcomes)
    return pa.table(
        {
            "job_name": [job] * n,
            "batch_id": ["b"] * n,
            "audited_job": ["parent"] * n,
            "source_ref": [f"clip-{i // 5}" for i in range(n)],
            "object_id": [f"o{i}" for i in range(n)],
            "worker_id": [worker] * n,
            "mode": ["risk" if risk is not None else "sampling"] * n,
            "risk": pa.array([risk] * n, pa.float64()),
            "risk_source": pa.array(["run"] * n if risk is not None else [None] * n, pa.string()),
            "probability": [probability] * n,
            "routed": [o is not None for o in outcomes],
            "failed": pa.array(outcomes, pa.bool_()),
            "error_type": pa.array(["label" if o else None for o in outcomes], pa.string()),
        }
    )


def test_worker_evidence_weights_audits_to_the_whole(bare_lake: Lake) -> None:
    # Worker a: 100 objects of predicted risk 0.5; 10 audited (probability 0.1), 3 failed.
    # Difference estimator: (100 x 0.5 + (3 x 0.5 - 7 x 0.5) / 0.1) / 100 = 0.3.
    outcomes_a: list[bool | None] = [True] * 3 + [False] * 7 + [None] * 90
    bare_lake.write("audit_routing", "audit-1", routing_rows("a", "audit-1", 0.5, 0.1, outcomes_a))
    # Worker b: a clip sample at 20%: 4 of 20 objects seen, 1 failed (Hajek: 0.25).
    outcomes_b: list[bool | None] = [True] + [False] * 3 + [None] * 16
    bare_lake.write("audit_routing", "audit-2", routing_rows("b", "audit-2", None, 0.2, outcomes_b))
    found = {(e.worker, e.error_type): e for e in audits.evidence(bare_lake)}
    assert found[("a", "any")].opportunities == 10
    assert found[("a", "any")].errors == pytest.approx(3.0)
    assert found[("a", "label")].errors == pytest.approx(3.0)  # Hajek: 3 of 10
    assert found[("a", "geometry")].errors == 0
    assert (
        found[("b", "any")].errors == pytest.approx(1.0) and found[("b", "any")].opportunities == 4
    )
    estimates = audits.reliability_rows(
        bare_lake, "audit-2", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    assert len(estimates) == 2 * len(audits.ERROR_TYPES)
    assert not any(estimates.column("drift").to_pylist())


def test_the_bound_counts_only_the_audited_sample(
    bare_lake: Lake,
) -> None:
    table = routing_rows("a", "audit-1", 0.2, 0.5, [True, False, None, None])
    result = audits.quality(table, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)).to_pylist()[0]
    assert (result["objects"], result["audited"], result["errors_found"]) == (4, 2, 1)
    # Half the sample failed: the two unaudited objects hold one error, estimated.
    assert result["residual_errors"] == pytest.approx(1.0)
    assert result["residual_rate"] == pytest.approx(0.25)
    assert result["upper_rate"] >= 0.25
