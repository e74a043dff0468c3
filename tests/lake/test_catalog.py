from __future__ import annotations

import pyarrow as pa
import pytest

from labellake.errors import NotFoundError
from labellake.lake import TABLES, get_table, table_names

# The core tables of DESIGN.md and their key columns.
CORE_TABLES = {
    "batches": ["batch_id", "status", "created_at", "completed_at"],
    "jobs": [
        "batch_id",
        "job_name",
        "level",
        "modality",
        "annotation_type",
        "status",
        "workteam",
        "chain_from",
    ],
    "labels": [
        "source_ref",
        "label_attribute",
        "job_name",
        "type",
        "human_annotated",
        "adjustment_status",
    ],
    "annotations": [
        "job_name",
        "source_ref",
        "frame_no",
        "object_id",
        "object_name",
        "class_id",
        "label",
        "shape",
        "box_left",
        "top",
        "width",
        "height",
        "points",
        "attributes",
    ],
    "worker_responses": [
        "job_name",
        "worker_id",
        "acceptance_time",
        "submission_time",
        "time_spent_s",
    ],
    "worker_events": [
        "worker_id",
        "workteam_arn",
        "labeling_job_arn",
        "event_type",
        "task_accepted_time",
        "task_submitted_time",
        "task_returned_time",
        "task_declined_time",
    ],
    "qa_findings": [
        "job_name",
        "source_ref",
        "object_id",
        "frame_no",
        "check_name",
        "value",
        "threshold",
    ],
    "paragraphs": [
        "doc_id",
        "page",
        "paragraph_no",
        "role",
        "header",
        "text",
        "technique",
        "sentiment",
    ],
    "benchmark_results": [
        "model",
        "device",
        "mode",
        "batch_size",
        "throughput",
        "latency_p50",
        "latency_p95",
        "cost_per_million",
        "source",
    ],
}


@pytest.mark.parametrize("name,keys", CORE_TABLES.items())
def test_core_table_is_declared_with_its_key_columns(name: str, keys: list[str]) -> None:
    table = get_table(name)
    assert set(keys) <= set(table.schema.names)


def test_every_column_is_described_and_partitions_are_columns() -> None:
    assert set(table_names()) >= set(CORE_TABLES)
    for table in TABLES:
        assert table.description
        for column in table.columns:
            assert column.description.strip(), f"{table.name}.{column.name}"
        assert set(table.partition_by) <= set(table.schema.names)
        assert table.file_schema.names == [
            n for n in table.schema.names if n not in table.partition_by
        ]


def test_points_are_a_list_of_xy_structs() -> None:
    points = get_table("annotations").schema.field("points").type
    assert points == pa.list_(pa.struct([("x", pa.float64()), ("y", pa.float64())]))


def test_unknown_table_lists_the_known_ones() -> None:
    with pytest.raises(NotFoundError, match="unknown table 'annotation'; known tables: batches"):
        get_table("annotation")
