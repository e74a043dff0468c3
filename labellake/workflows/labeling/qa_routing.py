"""Routing between levels: what of a parent job's work the next level sees, and, for an
audit, what the auditors found.

Plugged into the engine as its ``qa_filter`` (for a chained job with
``inputConfig.qaFilter``), ``on_routed`` and an ``on_job_complete`` hook:
- mode ``findings``: the parent's annotations are read from the lake (the ETL loaded
  them when the parent completed), the chosen checks run over them, and the lines of
  data objects with at least ``minFindings`` findings are kept; with an audit budget,
  the objects with the most findings, up to the budget, and a random share of all;
- mode ``risk``: the objects most likely to fail an audit, up to the audit budget, and a
  random share of all (``quality.audits.route_by_score``);
- every audit job records its routing in ``audit_routing``; when it completes, the
  verdicts, the batch's ``dataset_quality``, ``worker_reliability`` and the audit-risk
  model follow (``quality.audits``).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from labellake.errors import LabellakeError
from labellake.etl import qa
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.labeling.lake_sync import load_completed_job
from labellake.workflows.labeling.spec import QaFilter, is_audit
from labellake.workflows.models.workflow import ModelWorkflow
from labellake.workflows.quality import audits

log = logging.getLogger(__name__)


def flagged_lines(
    engine: Engine, parent: dict[str, Any], lines: list[dict[str, Any]], spec: QaFilter
) -> list[dict[str, Any]]:
    load_completed_job(engine, parent["job_name"])  # no-op when already loaded
    annotations = engine.lake.scan(
        "SELECT * FROM annotations WHERE job_name = ?", [parent["job_name"]]
    )
    findings = qa.run_checks(annotations, checks=spec.checks or None)
    per_object = Counter(findings.column("source_ref").to_pylist())
    return [
        line
        for line in lines
        if per_object[line.get("source-ref") or line.get("source")] >= spec.min_findings
    ]


def routed_lines(
    engine: Engine,
    models: ModelWorkflow | None,
    parent: dict[str, Any],
    job: dict[str, Any],
    lines: list[dict[str, Any]],
    spec: QaFilter,
) -> list[dict[str, Any]]:
    if not spec.budgeted:
        return flagged_lines(engine, parent, lines, spec)
    load_completed_job(engine, parent["job_name"])
    assert spec.audit_budget is not None
    routed = audits.route_by_score(
        engine.lake,
        models,
        job,
        parent,
        lines,
        spec.mode,
        spec.audit_budget,
        engine.config.seed,
        checks=spec.checks or None,
    )
    engine.lake.write("audit_routing", job["job_name"], routed.rows)
    return routed.lines


def record_routing(
    engine: Engine,
    parent: dict[str, Any],
    job: dict[str, Any],
    kept: list[dict[str, Any]],
    mode: str,
    rate: float,
) -> None:
    """audit_routing rows of an audit that saw whole data objects (not mode risk)."""
    if not is_audit(job["modality"]):
        return
    load_completed_job(engine, parent["job_name"])
    rows = audits.route_whole(engine.lake, job, parent, kept, mode, rate)
    engine.lake.write("audit_routing", job["job_name"], rows)


def audit_completed(engine: Engine, models: ModelWorkflow | None, job_name: str) -> None:
    """An audit job's verdicts, the batch's quality bound, the workers' reliability, and a
    retrained audit-risk model."""
    job = engine.state.job(job_name)
    if job is None or not is_audit(job["modality"]) or not job["chain_from"]:
        return
    rows = engine.lake.scan("SELECT * FROM audit_routing WHERE job_name = ?", [job_name])
    if rows.num_rows == 0:
        return
    rows = rows.select(engine.lake.table("audit_routing").schema.names)
    when = engine.clock()
    rows = audits.verdicts(engine.lake, rows, job_name)
    engine.lake.write("audit_routing", job_name, rows)
    engine.lake.write("dataset_quality", job_name, audits.quality(rows, when))
    engine.lake.write(
        "worker_reliability", job_name, audits.reliability_rows(engine.lake, job_name, when)
    )
    if models is None:
        return
    try:
        audits.train_risk_model(engine.lake, models, engine.config.seed)
    except LabellakeError:
        # Routing goes on with the model it has (or the prior); the run says why.
        log.warning("the audit-risk model could not be retrained", exc_info=True)


def install(engine: Engine, models: ModelWorkflow | None = None) -> Engine:
    engine.qa_filter = lambda parent, job, lines, spec: routed_lines(
        engine, models, parent, job, lines, spec
    )
    engine.on_routed = lambda parent, job, kept, mode, rate: record_routing(
        engine, parent, job, kept, mode, rate
    )
    engine.on_job_complete.append(lambda engine_, name: audit_completed(engine_, models, name))
    return engine
