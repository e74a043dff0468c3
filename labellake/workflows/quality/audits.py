"""Audits as a probability sample: which objects an audit level sees, what the auditors
found, the errors left in what ships, each worker's error rate, and the audit-risk model.

Every audit job writes one ``audit_routing`` row per object of the job it audits, with
the probability the object had of being audited and whether it was:
- mode ``risk`` (or ``findings``, with an audit budget): the probabilities of
  ``routing.audit_probabilities`` over the objects' predicted risk (or their number of
  QA findings), then a Poisson draw; the audit sees only the drawn objects (listed on
  the manifest line under ``AUDIT_OBJECTS_KEY``);
- mode ``sampling`` (downSamplingRate): every object of a sampled data object, with the
  rate as its probability;
- mode ``all``: every object, with probability 1;
- mode ``flagged`` (QA-flagged data objects, no budget): 1 where flagged and 0
  elsewhere. There is no random share, so no bound can be given for what was not flagged.

When the audit completes, each routed object gets its verdict (``failed``: the auditor
marked it Fail or removed it) and what the auditor changed (``error_type``). From those
come the batch's ``dataset_quality`` (``bound``), every worker's ``worker_reliability``
(``reliability``), and a retrained audit-risk model (the model workflow, on every routed
object of every audit so far).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from labellake import sql
from labellake.errors import LabellakeError, NotFoundError
from labellake.lake import Lake
from labellake.workflows.labeling import formats
from labellake.workflows.labeling.formats import AUDIT_OBJECTS_KEY
from labellake.workflows.models import dataset as datasets
from labellake.workflows.models.workflow import ModelWorkflow, RunRequest
from labellake.workflows.quality import bound, reliability, routing

log = logging.getLogger(__name__)

RISK_MODEL = "audit-risk"
RISK_TARGET = "failed"
RISK_FEATURES = [
    "label",
    "shape",
    "frames",
    "mean_width",
    "mean_height",
    "mean_aspect",
    "findings",
    "finding_checks",
    "finding_frames",
    "clip_objects",
    "seconds_per_shape",
    "worker_error",
]
ERROR_TYPES = ("any", "spurious", "label", "attribute", "geometry")
# Modes whose audits are a probability sample (every object could be audited).
PROBABILITY_MODES = ("risk", "findings", "sampling", "all")
# Before any audit-risk model exists: the worker's error rate (or this, for a worker not
# yet audited), plus this much for an object with QA findings.
PRIOR_WORKER_ERROR, PRIOR_FINDINGS_RISK = 0.3, 0.5
DRIFT_THRESHOLD = 0.05


@dataclass(frozen=True)
class Routed:
    """The lines an audit sees and the routing rows that record why."""

    lines: list[dict[str, Any]]
    rows: pa.Table


def features(lake: Lake, job_name: str, exclude: Iterable[str] = ()) -> pd.DataFrame:
    """One row per labeled object of ``job_name`` (sql/views/object_risk_features.sql),
    but those on the data objects ``exclude`` names (gold clips: they do not ship)."""
    frame = lake.scan(
        "SELECT * FROM object_risk_features WHERE job_name = ? ORDER BY source_ref, object_id",
        [job_name],
    ).to_pandas()
    skip = set(exclude)
    return frame[~frame["source_ref"].isin(skip)].reset_index(drop=True) if skip else frame


def risk_scores(frame: pd.DataFrame, models: ModelWorkflow | None) -> tuple[np.ndarray, str]:
    """Each object's probability of failing an audit, and what gave it (a run id or 'prior')."""
    if frame.empty:
        return np.zeros(0), "prior"
    if models is not None:
        try:
            endpoint, bundle = models.served(RISK_MODEL)
        except NotFoundError:
            bundle = None
        if bundle is not None:
            rows = frame.assign(worker_error=frame["worker_error"].fillna(-1.0))
            wanted = [*bundle["numeric"], *bundle["categorical"]]
            x = rows[wanted].copy()
            for name in bundle["categorical"]:
                x[name] = x[name].astype(str)
            predicted = np.asarray(bundle["model"].predict(x), dtype="float64")
            return np.clip(predicted, 0.0, 1.0), str(endpoint["run_id"])
    worker = frame["worker_error"].fillna(PRIOR_WORKER_ERROR).to_numpy(dtype="float64")
    flagged = (frame["findings"].to_numpy(dtype="float64") > 0) * PRIOR_FINDINGS_RISK
    return np.clip(worker + flagged, 0.0, 1.0), "prior"


def route_by_score(
    lake: Lake,
    models: ModelWorkflow | None,
    job: dict[str, Any],
    parent: dict[str, Any],
    lines: list[dict[str, Any]],
    mode: str,
    budget: float,
    seed: int,
    checks: list[str] | None = None,
    exclude: Iterable[str] = (),
) -> Routed:
    """The objects with the highest score up to ``budget``, and a random share of all
    (``routing``). The score is the predicted risk (mode risk) or the number of QA
    findings of ``checks`` on the object (mode findings)."""
    frame = features(lake, parent["job_name"], exclude)
    if mode == "risk":
        risk_, source = risk_scores(frame, models)
        risk: np.ndarray | None = risk_
        # An audit fixes every error of an object it fails: rank by the errors it is
        # expected to fix, the risk times one more than the object's QA findings.
        score = risk_ * (1.0 + frame["findings"].to_numpy(dtype="float64"))
    else:
        score, source, risk = finding_counts(lake, parent["job_name"], frame, checks), None, None
    probability = routing.audit_probabilities(score, budget)
    rng = np.random.default_rng(
        [seed, *(ord(c) for c in f"{job['batch_id']}:{job['job_name']}".lower())]
    )
    drawn = routing.draw(probability, rng)
    chosen: dict[str, list[str]] = defaultdict(list)
    for ref, oid, take in zip(frame["source_ref"], frame["object_id"], drawn, strict=True):
        if take:
            chosen[ref].append(str(oid))
    kept = [
        {**line, AUDIT_OBJECTS_KEY: chosen[formats.data_object(line)]}
        for line in lines
        if chosen.get(formats.data_object(line))
    ]
    rows = _rows(job, parent, frame, mode, risk, source, probability, drawn)
    return Routed(kept, rows)


def finding_counts(
    lake: Lake, job_name: str, frame: pd.DataFrame, checks: list[str] | None
) -> np.ndarray:
    """The QA findings on each object of ``frame`` (of ``checks``; all when None)."""
    if not checks:
        return frame["findings"].to_numpy(dtype="float64")
    marks = ", ".join("?" for _ in checks)
    counted = lake.scan(
        "SELECT source_ref, object_id, count(*) AS n FROM qa_findings "
        f"WHERE job_name = ? AND check_name IN ({marks}) GROUP BY source_ref, object_id",
        [job_name, *checks],
    ).to_pylist()
    by_object = {(r["source_ref"], r["object_id"]): r["n"] for r in counted}
    return np.array(
        [
            float(by_object.get((ref, oid), 0))
            for ref, oid in zip(frame["source_ref"], frame["object_id"], strict=True)
        ],
        dtype="float64",
    )


def route_whole(
    lake: Lake,
    job: dict[str, Any],
    parent: dict[str, Any],
    kept: list[dict[str, Any]],
    mode: str,
    rate: float,
    exclude: Iterable[str] = (),
) -> pa.Table:
    """Routing rows where whole data objects were chosen (modes all, sampling, flagged)."""
    frame = features(lake, parent["job_name"], exclude)
    taken = {formats.data_object(line) for line in kept}
    routed = frame["source_ref"].isin(taken).to_numpy()
    # flagged: certain where flagged, never elsewhere; else the sampling rate
    probability = routed.astype("float64") if mode == "flagged" else np.full(len(frame), rate)
    return _rows(job, parent, frame, mode, None, None, probability, routed)


def route_listed(
    lake: Lake,
    job: dict[str, Any],
    parent: dict[str, Any],
    listed: set[tuple[str, str]],
    mode: str,
    exclude: Iterable[str] = (),
) -> pa.Table:
    """Routing rows where the audited objects were chosen, with certainty, by a rule that
    leaves the others no chance (mode consensus: the objects its workers disagreed on)."""
    frame = features(lake, parent["job_name"], exclude)
    routed = np.array(
        [
            (str(ref), str(oid)) in listed
            for ref, oid in zip(frame["source_ref"], frame["object_id"], strict=True)
        ],
        dtype=bool,
    )
    return _rows(job, parent, frame, mode, None, None, routed.astype("float64"), routed)


def _rows(
    job: dict[str, Any],
    parent: dict[str, Any],
    frame: pd.DataFrame,
    mode: str,
    risk: np.ndarray | None,
    risk_source: str | None,
    probability: np.ndarray,
    routed: np.ndarray,
) -> pa.Table:
    n = len(frame)
    return pa.table(
        {
            "job_name": [job["job_name"]] * n,
            "batch_id": [job["batch_id"]] * n,
            "audited_job": [parent["job_name"]] * n,
            "source_ref": frame["source_ref"].astype(str).tolist(),
            "object_id": frame["object_id"].astype(str).tolist(),
            "worker_id": [None if pd.isna(w) else str(w) for w in frame["worker_id"]],
            "mode": [mode] * n,
            "risk": pa.nulls(n, pa.float64())
            if risk is None
            else pa.array(risk.tolist(), pa.float64()),
            "risk_source": pa.array([risk_source] * n, pa.string()),
            "probability": [float(p) for p in probability],
            "routed": [bool(r) for r in routed],
            "failed": pa.nulls(n, pa.bool_()),
            "error_type": pa.nulls(n, pa.string()),
        }
    )


# -- when the audit completes ------------------------------------------------------------


def _objects(lake: Lake, job_name: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(source_ref, object_id) -> its class, attributes, verdicts and boxes by frame."""
    table = lake.scan(
        "SELECT source_ref, object_id, frame_no, class_id, attributes, audit, box_left, top, "
        "width, height FROM annotations WHERE job_name = ?",
        [job_name],
    ).to_pylist()
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for row in table:
        key = (str(row["source_ref"]), str(row["object_id"]))
        item = found.setdefault(
            key, {"classes": set(), "attributes": set(), "audit": set(), "boxes": {}}
        )
        item["classes"].add(row["class_id"])
        attributes = dict(row["attributes"] or [])
        attributes.pop("audit", None)
        item["attributes"].add(tuple(sorted(attributes.items())))
        if row["audit"]:
            item["audit"].add(row["audit"])
        item["boxes"][row["frame_no"]] = (row["box_left"], row["top"], row["width"], row["height"])
    return found


def verdicts(lake: Lake, routing_rows: pa.Table, audit_job: str) -> pa.Table:
    """The routing rows with each routed object's verdict and what the auditor changed."""
    if routing_rows.num_rows == 0:
        return routing_rows
    audited_job = routing_rows.column("audited_job")[0].as_py()
    before = _objects(lake, audited_job)
    after = _objects(lake, audit_job)
    failed: list[bool | None] = []
    kinds: list[str | None] = []
    for row in routing_rows.select(["source_ref", "object_id", "routed"]).to_pylist():
        if not row["routed"]:
            failed.append(None)
            kinds.append(None)
            continue
        key = (row["source_ref"], row["object_id"])
        seen, was = after.get(key), before.get(key, {})
        if seen is None:
            failed.append(True)
            kinds.append("spurious")
        elif "Fail" in seen["audit"]:
            failed.append(True)
            if seen["classes"] != was.get("classes"):
                kinds.append("label")
            elif seen["attributes"] != was.get("attributes"):
                kinds.append("attribute")
            else:
                kinds.append("geometry")
        else:
            failed.append(False)
            kinds.append(None)
    routing_rows = routing_rows.set_column(
        routing_rows.schema.get_field_index("failed"), "failed", pa.array(failed, pa.bool_())
    )
    return routing_rows.set_column(
        routing_rows.schema.get_field_index("error_type"),
        "error_type",
        pa.array(kinds, pa.string()),
    )


def quality(rows: pa.Table, as_of: dt.datetime) -> pa.Table:
    """The dataset_quality row of one audit job (from its routing rows with verdicts)."""
    data = rows.to_pandas()
    mode = str(data["mode"].iloc[0]) if len(data) else "all"
    sampled = data[data["routed"]]
    errors = int(sampled["failed"].fillna(False).astype(bool).sum())
    if mode in PROBABILITY_MODES and len(data):
        result = bound.bound(
            data["probability"].to_numpy(dtype="float64"),
            [
                bound.Audited(float(p), bool(f))
                for p, f in zip(sampled["probability"], sampled["failed"], strict=True)
            ],
        )
        residual, rate, upper, method = (
            result.residual_errors,
            result.residual_rate,
            result.upper_rate,
            result.method,
        )
    else:
        residual = rate = upper = None
        method = (
            "none: the audited objects were chosen by a rule (QA flags or disagreement), "
            "with no random share"
        )
    first = rows.slice(0, 1).to_pylist()[0] if rows.num_rows else {}
    return pa.table(
        {
            "batch_id": [first.get("batch_id")],
            "job_name": [first.get("job_name")],
            "audited_job": [first.get("audited_job")],
            "mode": [mode],
            "objects": [len(data)],
            "audited": [len(sampled)],
            "errors_found": [errors],
            "residual_errors": pa.array([residual], pa.float64()),
            "residual_rate": pa.array([rate], pa.float64()),
            "upper_rate": pa.array([upper], pa.float64()),
            "method": [method],
            "as_of": pa.array([as_of], pa.timestamp("us", tz="UTC")),
        }
    )


def evidence(lake: Lake) -> list[reliability.Evidence]:
    """Per worker and error type: how many of the worker's objects were audited, and how
    many errors that sample stands for, from every probability-sampled audit in the lake.

    Within one audit, a worker's error rate over all their objects is estimated
    - for ``any`` error, where the objects had a predicted risk r (mode risk), with the
      difference estimator: the mean over all the worker's objects of
      r + routed (failed - r) / probability. It is unbiased whatever the model, and
      close where the model predicts well;
    - otherwise with the Hajek ratio: failed / probability over 1 / probability, over the
      audited objects.
    The audits' rates are averaged weighted by the worker's objects in each; the evidence
    is that rate times the objects audited (so the interval stays as wide as the sample
    is small)."""
    # Summed per worker and audit in the query: the lake holds a row per routed object.
    by_type = ", ".join(
        f"sum(CASE WHEN routed AND failed AND coalesce(error_type, 'geometry') = '{kind}' "
        f"THEN 1 / probability ELSE 0 END) AS {kind}_weight"
        for kind in ERROR_TYPES[1:]
    )
    audits_ = lake.scan(
        "SELECT worker_id, job_name, count(*) AS objects, "
        "CAST(sum(CASE WHEN routed THEN 1 ELSE 0 END) AS BIGINT) AS audited, "
        "CAST(sum(CASE WHEN risk IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS unrisked, "
        "sum(risk) AS risk_sum, "
        "sum(CASE WHEN routed THEN ((CASE WHEN failed THEN 1 ELSE 0 END) - risk) / probability "
        "ELSE 0 END) AS residual, "
        "sum(CASE WHEN routed THEN 1 / probability ELSE 0 END) AS weight, "
        "sum(CASE WHEN routed AND failed THEN 1 / probability ELSE 0 END) AS any_weight, "
        f"{by_type} "
        "FROM audit_routing WHERE worker_id IS NOT NULL AND probability > 0 "
        f"AND mode IN ({', '.join(repr(m) for m in PROBABILITY_MODES)}) "
        "AND (failed IS NOT NULL OR NOT routed) "
        "GROUP BY worker_id, job_name ORDER BY worker_id, job_name"
    ).to_pylist()
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for audit in audits_:
        if not audit["audited"]:
            continue
        seen = totals[audit["worker_id"]]
        for error_type in ERROR_TYPES:
            if error_type == "any" and not audit["unrisked"]:
                rate = (audit["risk_sum"] + audit["residual"]) / audit["objects"]
            else:
                rate = audit[f"{error_type}_weight"] / audit["weight"]
            seen[error_type] += min(max(rate, 0.0), 1.0) * audit["objects"]
        seen["objects"] += audit["objects"]
        seen["audited"] += audit["audited"]
    return [
        reliability.Evidence(
            worker,
            error_type,
            seen[error_type] / seen["objects"] * seen["audited"],
            int(seen["audited"]),
        )
        for worker, seen in sorted(totals.items())
        for error_type in ERROR_TYPES
    ]


def gold_evidence(lake: Lake) -> list[reliability.Evidence]:
    """Per worker, error type ``gold``: the known objects of the gold clips they labeled,
    and the share of them their tracks missed or mixed up (1 - IDF1 of those objects)."""
    rows = lake.scan(
        "SELECT worker_id, sum(gold_objects) AS objects, "
        "sum(gold_objects * (1 - coalesce(idf1, 0))) AS wrong FROM gold_scores "
        "WHERE worker_id IS NOT NULL AND gold_objects > 0 GROUP BY worker_id"
    ).to_pylist()
    return [
        reliability.Evidence(
            r["worker_id"], "gold", min(max(r["wrong"], 0.0), r["objects"]), int(r["objects"])
        )
        for r in rows
    ]


def consensus_evidence(lake: Lake) -> list[reliability.Evidence]:
    """Per worker, error type ``consensus``: the objects of the clips they labeled in a
    consensus, and those where they went against the majority: an object kept that they
    did not draw, or one they drew that too few others did to keep."""
    pairs = lake.scan(
        "SELECT job_name, source_ref, worker_a, worker_b FROM consensus_agreement"
    ).to_pylist()
    workers: dict[tuple[str, str], set[str]] = defaultdict(set)
    for pair in pairs:
        workers[(pair["job_name"], pair["source_ref"])] |= {pair["worker_a"], pair["worker_b"]}
    seen: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # worker -> [errors, objects]
    for row in lake.scan(
        "SELECT job_name, source_ref, drawn_by, kept FROM consensus_objects"
    ).to_pylist():
        drawn = set(row["drawn_by"] or [])
        for worker in workers.get((row["job_name"], row["source_ref"]), set()):
            seen[worker][1] += 1
            seen[worker][0] += (worker not in drawn) if row["kept"] else (worker in drawn)
    return [
        reliability.Evidence(worker, "consensus", errors, objects)
        for worker, (errors, objects) in sorted(seen.items())
    ]


def reliability_rows(lake: Lake, audit_job: str, as_of: dt.datetime) -> pa.Table:
    """Every worker's error rates as of now (from audits, gold clips and consensus),
    flagged where they drifted since the last."""
    stamp = as_of.isoformat()
    now = reliability.estimate(
        [*evidence(lake), *gold_evidence(lake), *consensus_evidence(lake)], as_of=stamp
    )
    # Drift compares with each worker's previous estimate only.
    previous = lake.scan(
        "SELECT * FROM (SELECT worker_id, error_type, estimate, lower, upper, evidence, "
        "errors, as_of, row_number() OVER (PARTITION BY worker_id, error_type "
        "ORDER BY as_of DESC, job_name DESC) AS newest FROM worker_reliability "
        "WHERE job_name <> ?) WHERE newest = 1",
        [audit_job],
    ).to_pylist()
    history = [
        reliability.Reliability(
            r["worker_id"],
            r["error_type"],
            r["estimate"],
            r["lower"],
            r["upper"],
            r["evidence"],
            r["errors"],
            r["as_of"].isoformat(),
        )
        for r in previous
    ]
    drifted = {
        (r.worker, r.error_type)
        for r in reliability.drifting([*history, *now], threshold=DRIFT_THRESHOLD)
        if r.as_of == stamp
    }
    return pa.table(
        {
            "job_name": [audit_job] * len(now),
            "worker_id": [r.worker for r in now],
            "error_type": [r.error_type for r in now],
            "estimate": [r.estimate for r in now],
            "lower": [r.lower for r in now],
            "upper": [r.upper for r in now],
            "evidence": [r.evidence for r in now],
            "errors": [float(r.errors) for r in now],
            "drift": [(r.worker, r.error_type) in drifted for r in now],
            "as_of": pa.array([as_of] * len(now), pa.timestamp("us", tz="UTC")),
        }
    )


def train_risk_model(lake: Lake, models: ModelWorkflow, seed: int = 0) -> str | None:
    """Train (or retrain) the audit-risk model on every routed object audited so far; the
    run id, or None while there are too few audited objects."""
    table = lake.scan(sql.load("models/audit_risk"))
    if table.num_rows < datasets.MIN_ROWS:
        return None
    data = datasets.from_arrow(table, RISK_TARGET, "the audit-risk query", RISK_FEATURES)
    request = RunRequest(
        model_name=RISK_MODEL,
        estimator="gradient_boosting",
        params={"max_iter": 150, "min_samples_leaf": 20, "learning_rate": 0.05},
        query="models/audit_risk",
        target=RISK_TARGET,
        features=RISK_FEATURES,
        seed=seed,
    )
    run_id = models.submit(request, data, actor="labellake")
    models.execute(run_id, request, data, replace=True)  # one live audit-risk endpoint
    run = models.registry.run(run_id)
    if run["status"] != "READY":
        raise LabellakeError(f"the audit-risk model run {run_id} failed: {run.get('cause')}")
    return run_id
