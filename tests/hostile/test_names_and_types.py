"""Names that become paths, partitions or resources match their rule in full (item 3), and
request fields have strict types (item 12).

``re.match`` with ``^...$`` accepts "name\\n"; one such job name once wrote a partition
folder ``job_name=...\\n`` that broke every query over job_name-partitioned tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from labellake.errors import LabellakeError
from labellake.lake import Lake
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.labeling.spec import SpecError, parse_request
from labellake.workflows.models.workflow import parse_run_request
from labellake.workflows.people.accounts import Accounts
from labellake.workflows.people.workforce import Workforce

TRAILING = ["name\n", "name\r\n", "name\x00", "na\nme", "name\t"]


@pytest.mark.parametrize("name", TRAILING, ids=repr)
def test_job_names_and_batch_ids_match_in_full(
    request_for: Callable[..., dict[str, Any]], name: str
) -> None:
    request = request_for("b1")
    request["labelingJobs"][0]["jobName"] = name
    with pytest.raises(SpecError) as caught:
        parse_request(request)
    assert caught.value.problems[0]["field"] == "labelingJobs[0].jobName"
    request = request_for("b1")
    request["batchId"] = name
    with pytest.raises(SpecError) as caught:
        parse_request(request)
    assert caught.value.problems[0]["field"] == "batchId"


@pytest.mark.parametrize("name", TRAILING, ids=repr)
def test_account_team_and_model_names_match_in_full(engine: Engine, name: str) -> None:
    with pytest.raises(LabellakeError):
        Accounts(engine.state).add(name, "a long enough password")
    with pytest.raises(LabellakeError):
        Workforce(engine.state, "us-east-1", "111122223333").add_team(name)
    with pytest.raises(LabellakeError, match="modelName"):
        parse_run_request({"modelName": name}, "TRAIN")


@pytest.mark.parametrize("value", ["job-a\n", "../job-a", "job a", ".hidden", "", "a/b"])
def test_the_lake_writer_refuses_unsafe_partition_values(bare_lake: Lake, value: str) -> None:
    bare_lake.write("annotations", "job-ok", boxes("job-ok"))
    with pytest.raises(LabellakeError, match="cannot name a lake file"):
        bare_lake.write("annotations", "job-b", boxes(value))
    with pytest.raises(LabellakeError, match="cannot name a lake file"):
        bare_lake.write("annotations", value or "x\n", boxes("job-c"))
    # Nothing half-written: the table still reads, with the good unit only.
    assert bare_lake.query("SELECT DISTINCT job_name FROM annotations").column(0).to_pylist() == [
        "job-ok"
    ]
    assert [key for key in bare_lake.store.list("annotations") if "\n" in key] == []


def boxes(job: str) -> pa.Table:
    return pa.table(
        {
            "job_name": [job],
            "source_ref": ["s3://in/clip-1_seq.json"],
            "frame_no": [1],
            "label": ["Vehicle"],
            "shape": ["box"],
        }
    )


@pytest.mark.parametrize(
    "where,value",
    [
        ("jobLevel", True),
        ("jobLevel", "1"),
        ("jobLevel", 1.0),
        ("maxConcurrentTaskCount", "100"),
        ("taskTimeLimitInSeconds", False),
        ("jobName", 7),
        ("labelCategoryConfigS3Uri", ["s3://a/b"]),
    ],
)
def test_job_fields_have_strict_types(
    request_for: Callable[..., dict[str, Any]], where: str, value: object
) -> None:
    request = request_for("b1")
    request["labelingJobs"][0][where] = value
    with pytest.raises(SpecError) as caught:
        parse_request(request)
    assert caught.value.problems[0]["field"] == f"labelingJobs[0].{where}"


@pytest.mark.parametrize(
    "field,value",
    [("downSamplingRate", "50"), ("downSamplingRate", True), ("batchId", 12)],
)
def test_batch_fields_have_strict_types(
    request_for: Callable[..., dict[str, Any]], field: str, value: object
) -> None:
    request = request_for("b1")
    request[field] = value
    with pytest.raises(SpecError) as caught:
        parse_request(request)
    assert caught.value.problems[0]["field"] == field


def test_strict_types_still_take_what_json_means(
    request_for: Callable[..., dict[str, Any]],
) -> None:
    """An integer where a number is asked for is a number; the reference requests parse."""
    request = request_for("b1")
    request["downSamplingRate"] = 50
    request["labelingJobs"][2]["inputConfig"]["downSamplingRate"] = 25.5
    assert parse_request(request).down_sampling_rate == 50


@pytest.mark.parametrize(
    "field,value", [("trials", "5"), ("trials", True), ("seed", 1.5), ("features", "a,b")]
)
def test_model_run_fields_have_strict_types(field: str, value: object) -> None:
    with pytest.raises(LabellakeError, match=field):
        parse_run_request({field: value}, "HPO")
