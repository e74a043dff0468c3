"""QA routing between levels: only the data objects the automated checks flag go on.

Plugged into the engine as its `qa_filter`: for a chained job with
`inputConfig.qaFilter`, the parent's annotations are read from the lake (the
ETL loaded them when the parent completed), the chosen checks run over them,
and the lines of data objects with at least `minFindings` findings are kept.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from labellake.etl import qa
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.labeling.lake_sync import load_completed_job
from labellake.workflows.labeling.spec import QaFilter


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


def install(engine: Engine) -> Engine:
    engine.qa_filter = lambda parent, lines, spec: flagged_lines(engine, parent, lines, spec)
    return engine
