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

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from labellake import jsontext
from labellake.errors import LabellakeError
from labellake.etl import qa
from labellake.workflows.labeling import chaining, formats, simulation
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.labeling.lake_sync import load_completed_job
from labellake.workflows.labeling.spec import LabelingJobSpec, QaFilter, is_audit
from labellake.workflows.models.workflow import ModelWorkflow
from labellake.workflows.quality import audits, tracks
from labellake.workflows.quality import gold as gold_scores

log = logging.getLogger(__name__)

DEFAULT_MIN_AGREEMENT = 0.8  # qaFilter mode consensus without minAgreement


def flagged_lines(
    engine: Engine, parent: dict[str, Any], lines: list[dict[str, Any]], spec: QaFilter
) -> list[dict[str, Any]]:
    load_completed_job(engine, parent["job_name"])  # no-op when already loaded
    annotations = engine.lake.scan(
        "SELECT * FROM annotations WHERE job_name = ?", [parent["job_name"]]
    )
    findings = qa.run_checks(annotations, checks=spec.checks or None)
    per_object = Counter(findings.column("source_ref").to_pylist())
    return [line for line in lines if per_object[formats.data_object(line)] >= spec.min_findings]


def routed_lines(
    engine: Engine,
    models: Callable[[], ModelWorkflow | None],
    parent: dict[str, Any],
    job: dict[str, Any],
    lines: list[dict[str, Any]],
    spec: QaFilter,
) -> list[dict[str, Any]]:
    if spec.mode == "consensus":
        return disagreed_lines(engine, parent, job, lines, spec)
    if not spec.budgeted:
        return flagged_lines(engine, parent, lines, spec)
    load_completed_job(engine, parent["job_name"])
    assert spec.audit_budget is not None
    routed = audits.route_by_score(
        engine.lake,
        models() if spec.mode == "risk" else None,  # the model store only when needed
        job,
        parent,
        lines,
        spec.mode,
        spec.audit_budget,
        engine.config.seed,
        checks=spec.checks or None,
        exclude=chaining.gold_of(engine, parent),
    )
    engine.lake.write("audit_routing", job["job_name"], routed.rows)
    return routed.lines


def disagreed_lines(
    engine: Engine,
    parent: dict[str, Any],
    job: dict[str, Any],
    lines: list[dict[str, Any]],
    spec: QaFilter,
) -> list[dict[str, Any]]:
    """The data objects with an object its workers agreed on less than minAgreement (or
    one left out of the consolidated answer), listing the objects to check."""
    if not LabelingJobSpec.model_validate_json(parent["spec"]).consensus_count:
        raise LabellakeError(
            f"job {job['job_name']}: qaFilter mode consensus needs a parent with "
            f"consensusCount; {parent['job_name']} has none"
        )
    query = (
        "SELECT source_ref, object_id, agreement, kept FROM consensus_objects WHERE job_name = ?"
    )
    found = engine.lake.scan(query, [parent["job_name"]]).to_pylist()
    if not found:  # loaded when the parent completed, unless a crash came in between
        consensus_completed(engine, parent["job_name"])
        found = engine.lake.scan(query, [parent["job_name"]]).to_pylist()
    threshold = DEFAULT_MIN_AGREEMENT if spec.min_agreement is None else spec.min_agreement
    low: dict[str, list[str]] = {}
    for row in found:
        if not row["kept"]:
            low.setdefault(row["source_ref"], [])
        elif row["agreement"] < threshold:
            low.setdefault(row["source_ref"], []).append(row["object_id"])
    kept = [
        {**line, formats.AUDIT_OBJECTS_KEY: low[formats.data_object(line)]}
        for line in lines
        if formats.data_object(line) in low
    ]
    if is_audit(job["modality"]):
        listed = {
            (formats.data_object(line), str(oid))
            for line in kept
            for oid in line[formats.AUDIT_OBJECTS_KEY]
        }
        rows = audits.route_listed(
            engine.lake, job, parent, listed, "consensus", chaining.gold_of(engine, parent)
        )
        engine.lake.write("audit_routing", job["job_name"], rows)
    return kept


def consensus_completed(engine: Engine, job_name: str) -> bool:
    """Load a consensus job's results into consensus_objects and consensus_agreement (from
    the output lines' consensus files); False for a job without consensus."""
    job = engine.state.job(job_name)
    if job is None or not job["output_manifest_uri"]:
        return False
    spec = LabelingJobSpec.model_validate_json(job["spec"])
    if not spec.consensus_count:
        return False
    lines = formats.parse_manifest(
        engine.read(job["output_manifest_uri"]), job["output_manifest_uri"]
    )
    objects: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    for line in lines:
        uri = line.get(formats.CONSENSUS_KEY)
        if not uri:
            continue
        found = jsontext.loads(engine.read(str(uri)), str(uri))
        objects += [{"batch_id": job["batch_id"], **row} for row in found["objects"]]
        pairs += [{"batch_id": job["batch_id"], **row} for row in found["pairs"]]
    for table, rows in (("consensus_objects", objects), ("consensus_agreement", pairs)):
        schema = engine.lake.table(table).schema
        engine.lake.write(table, job_name, pa.Table.from_pylist(rows, schema=schema))
    refresh_reliability(engine, job_name)
    return True


def gold_completed(engine: Engine, job_name: str) -> None:
    """Score a job's workers on the gold clips mixed into it (gold_scores): per worker,
    and for the job as a whole (only that, for a consensus job, whose answers are the
    workers' consolidation)."""
    job = engine.state.job(job_name)
    if job is None or not job["output_manifest_uri"]:
        return
    gold = chaining.gold_of(engine, job)
    if not gold:
        return
    config = formats.parse_label_config(
        engine.read(job["label_config_uri"]), job["label_config_uri"]
    )
    class_map = {str(cid): label for cid, label in formats.class_map(config).items()}
    lines = formats.parse_manifest(
        engine.read(job["output_manifest_uri"]), job["output_manifest_uri"]
    )
    workers = {
        row["source_ref"]: row["worker_id"]
        for row in engine.lake.scan(
            "SELECT source_ref, min(worker_id) AS worker_id FROM worker_responses "
            "WHERE job_name = ? GROUP BY source_ref",
            [job_name],
        ).to_pylist()
    }
    consensus = bool(LabelingJobSpec.model_validate_json(job["spec"]).consensus_count)
    clips: dict[str | None, list[gold_scores.Clip]] = {None: []}
    for line in lines:
        ref = formats.data_object(line)
        if ref not in gold or not line.get(job["label_attribute_name"]):
            continue
        answer = simulation.parse_seqlabel(
            jsontext.loads(engine.read(line[job["label_attribute_name"]]), ref), "box"
        )
        known = simulation.parse_seqlabel(jsontext.loads(engine.read(gold[ref]), gold[ref]), "box")
        clip = gold_scores.Clip(
            max(len(answer), len(known)),
            tracks.from_frames(known, class_map),
            tracks.from_frames(answer, class_map),
        )
        clips[None].append(clip)
        if not consensus:  # a consensus answer is no one worker's: scored as the job's
            clips.setdefault(workers.get(ref), []).append(clip)
    rows = []
    for worker, scored in clips.items():
        if not scored:
            continue
        result = gold_scores.score(scored)
        rows.append(
            {"batch_id": job["batch_id"], "job_name": job_name, "worker_id": worker}
            | dataclasses.asdict(result)
        )
    schema = engine.lake.table("gold_scores").schema
    engine.lake.write("gold_scores", job_name, pa.Table.from_pylist(rows, schema=schema))
    refresh_reliability(engine, job_name)


def refresh_reliability(engine: Engine, job_name: str) -> None:
    """Every worker's error rates, as of the completion of ``job_name`` (an audit, a job
    with gold clips, or a consensus)."""
    rows = audits.reliability_rows(engine.lake, job_name, engine.clock())
    engine.lake.write("worker_reliability", job_name, rows)


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
    rows = audits.route_whole(
        engine.lake, job, parent, kept, mode, rate, chaining.gold_of(engine, parent)
    )
    engine.lake.write("audit_routing", job["job_name"], rows)


def audit_completed(
    engine: Engine, models: Callable[[], ModelWorkflow | None], job_name: str
) -> None:
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
    refresh_reliability(engine, job_name)
    workflow = models()
    if workflow is None:
        return
    try:
        audits.train_risk_model(engine.lake, workflow, engine.config.seed)
    except LabellakeError:
        # Routing goes on with the model it has (or the prior); the run says why.
        log.warning("the audit-risk model could not be retrained", exc_info=True)


def install(
    engine: Engine, models: ModelWorkflow | Callable[[], ModelWorkflow] | None = None
) -> Engine:
    """Install the routing hooks; ``models`` (or a function making it, called when first
    needed) trains and serves the audit-risk model."""
    made: list[ModelWorkflow | None] = []

    def workflow() -> ModelWorkflow | None:
        if not made:
            made.append(models() if callable(models) else models)
        return made[0]

    engine.qa_filter = lambda parent, job, lines, spec: routed_lines(
        engine, workflow, parent, job, lines, spec
    )
    engine.on_routed = lambda parent, job, kept, mode, rate: record_routing(
        engine, parent, job, kept, mode, rate
    )
    engine.on_job_complete.append(lambda engine_, name: audit_completed(engine_, workflow, name))
    engine.on_job_complete.append(consensus_completed)
    engine.on_job_complete.append(gold_completed)
    return engine
