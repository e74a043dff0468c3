from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from labellake.workflows.labeling.spec import (
    DEFAULT_MAX_CONCURRENT_TASKS,
    SpecError,
    label_attribute_name,
    parse_request,
)

EXAMPLE = json.loads(
    (Path(__file__).parents[2] / "fixtures/examples/batch-create-request.json").read_text()
)


def changed(path: list[Any], value: Any) -> dict[str, Any]:
    """The example request with one value replaced (value None deletes the key)."""
    request = copy.deepcopy(EXAMPLE)
    target = request
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return request


def test_the_reference_request_validates_with_its_defaults() -> None:
    request = parse_request(EXAMPLE)
    assert request.levels == [1, 2]
    lane = request.job("drive-0042-lane")
    assert lane.max_concurrent_task_count == DEFAULT_MAX_CONCURRENT_TASKS
    assert lane.task_time_limit_s == 604800 and lane.task_availability_lifetime_s == 864000
    assert lane.workteam_arn is None  # the engine fills in the level's default team
    assert request.job("drive-0042-vehicle-audit").input_config.down_sampling_rate == 50


@pytest.mark.parametrize(
    "path,value,field,message",
    [
        (["batchId"], "bad_id", "batchId", "batch id rule"),
        (["batchId"], "-lead", "batchId", "batch id rule"),
        (["batchId"], "a" * 64, "batchId", "batch id rule"),
        (["labelingJobs", 0, "jobName"], "has space", "labelingJobs[0].jobName", "name rule"),
        (
            ["labelingJobs", 1, "jobName"],
            "DRIVE-0042-VEHICLE",
            "labelingJobs[1].jobName",
            "used twice",
        ),
        (
            ["labelingJobs", 0, "jobModality"],
            "VideoSegmentation",
            "labelingJobs[0].jobModality",
            "unknown modality",
        ),
        (["labelingJobs", 0, "jobLevel"], 0, "labelingJobs[0].jobLevel", "greater than or equal"),
        (["labelingJobs", 3, "jobLevel"], 4, "labelingJobs[].jobLevel", "without gaps"),
        (
            ["labelingJobs", 0, "inputConfig", "chainFromJobName"],
            "drive-0042-lane",
            "labelingJobs[0].inputConfig",
            "exactly one",
        ),
        (
            ["labelingJobs", 2, "inputConfig", "chainFromJobName"],
            None,
            "labelingJobs[2].inputConfig",
            "exactly one",
        ),
        (
            ["labelingJobs", 2, "inputConfig", "chainFromJobName"],
            "drive-0042-lane-audit",
            "labelingJobs[2].inputConfig.chainFromJobName",
            "lower level",
        ),
        (
            ["labelingJobs", 2, "inputConfig", "chainFromJobName"],
            "drive-0042-vehicle-audit",
            "labelingJobs[2].inputConfig.chainFromJobName",
            "lower level",
        ),
        (
            ["labelingJobs", 2, "inputConfig", "chainFromJobName"],
            "other-batch-job",
            "labelingJobs[2].inputConfig.chainFromJobName",
            "not a job of this batch",
        ),
        (
            ["labelingJobs", 0, "labelCategoryConfigS3Uri"],
            None,
            "labelingJobs[0].labelCategoryConfigS3Uri",
            "required unless",
        ),
        (
            ["labelingJobs", 2, "inputConfig", "downSamplingRate"],
            101,
            "labelingJobs[2].inputConfig.downSamplingRate",
            "less than or equal to 100",
        ),
        (
            ["labelingJobs", 2, "inputConfig", "downSamplingRate"],
            -1,
            "labelingJobs[2].inputConfig.downSamplingRate",
            "greater than or equal to 0",
        ),
        (
            ["labelingJobs", 0, "inputConfig", "qaFilter"],
            {"checks": []},
            "labelingJobs[0].inputConfig.qaFilter",
            "chained job",
        ),
        (
            ["labelingJobs", 2, "inputConfig", "qaFilter"],
            {"mode": "risk", "auditBudget": 0},
            "labelingJobs[2].inputConfig.qaFilter.auditBudget",
            "give a number in (0, 1]",
        ),
        (
            ["labelingJobs", 2, "inputConfig", "qaFilter"],
            {"mode": "risk", "auditBudget": 1.5},
            "labelingJobs[2].inputConfig.qaFilter.auditBudget",
            "give a number in (0, 1]",
        ),
        (
            ["labelingJobs", 2, "inputConfig", "qaFilter"],
            {"auditBudget": -0.2},
            "labelingJobs[2].inputConfig.qaFilter.auditBudget",
            "give a number in (0, 1]",
        ),
        (
            ["labelingJobs", 2, "inputConfig", "qaFilter"],
            {"mode": "risk"},
            "labelingJobs[2].inputConfig.qaFilter.auditBudget",
            "needs an audit budget",
        ),
        (
            ["labelingJobs", 2, "inputConfig", "qaFilter"],
            {"mode": "risk", "auditBudget": True},
            "labelingJobs[2].inputConfig.qaFilter.auditBudget",
            "valid number",
        ),
        (
            ["labelingJobs", 2, "inputConfig", "qaFilter"],
            {"mode": "risk", "auditBudget": 0.2, "checks": ["gap"]},
            "labelingJobs[2].inputConfig.qaFilter.checks",
            "applies to mode findings",
        ),
        (
            ["labelingJobs", 2, "inputConfig", "qaFilter"],
            {"auditBudget": 0.2, "minFindings": 2},
            "labelingJobs[2].inputConfig.qaFilter.minFindings",
            "applies without auditBudget",
        ),
        (
            ["labelingJobs", 2, "inputConfig", "qaFilter"],
            {"mode": "everything"},
            "labelingJobs[2].inputConfig.qaFilter.mode",
            "'findings', 'risk' or 'consensus'",
        ),
        (
            ["labelingJobs", 2, "inputConfig"],
            {
                "chainFromJobName": "drive-0042-vehicle",
                "downSamplingRate": 50,
                "qaFilter": {"mode": "risk", "auditBudget": 0.2},
            },
            "labelingJobs[2].inputConfig.downSamplingRate",
            "leave one of them out",
        ),
        (
            ["labelingJobs", 2, "inputConfig", "qaFilter"],
            {"mode": "consensus", "minAgreement": 1.2},
            "labelingJobs[2].inputConfig.qaFilter.minAgreement",
            "give a number in [0, 1]",
        ),
        (
            ["labelingJobs", 2, "inputConfig", "qaFilter"],
            {"mode": "consensus", "auditBudget": 0.2},
            "labelingJobs[2].inputConfig.qaFilter.mode",
            "takes minAgreement only",
        ),
        (
            ["labelingJobs", 2, "inputConfig"],
            {"chainFromJobName": "drive-0042-vehicle", "qaFilter": {"mode": "consensus"}},
            "labelingJobs[2].inputConfig.qaFilter.mode",
            "consensus needs a parent with consensusCount",
        ),
        (
            ["labelingJobs", 2, "inputConfig", "qaFilter"],
            {"minAgreement": 0.5},
            "labelingJobs[2].inputConfig.qaFilter.minAgreement",
            "applies to mode consensus",
        ),
        (
            ["labelingJobs", 0, "consensusCount"],
            1,
            "labelingJobs[0].consensusCount",
            "at least 2 workers",
        ),
        (
            ["labelingJobs", 0, "consensusCount"],
            0,
            "labelingJobs[0].consensusCount",
            "at least 2 workers",
        ),
        (
            ["labelingJobs", 2, "consensusCount"],
            2,
            "labelingJobs[2].consensusCount",
            "has no consensus",
        ),
        (["labelingJobs", 0, "colour"], "red", "labelingJobs[0].colour", "unknown field"),
        (["labelingJobs"], [], "labelingJobs", "at least 1"),
        (
            ["labelingJobs", 0, "maxConcurrentTaskCount"],
            0,
            "labelingJobs[0].maxConcurrentTaskCount",
            "greater than or equal to 1",
        ),
    ],
)
def test_every_validation_error_names_its_field(
    path: list[Any], value: Any, field: str, message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        parse_request(changed(path, value))
    fields = {problem["field"]: problem["message"] for problem in caught.value.problems}
    assert field in fields, fields
    assert message in fields[field]
    assert str(caught.value).startswith(caught.value.problems[0]["field"])


def test_a_cycle_is_refused() -> None:
    request = copy.deepcopy(EXAMPLE)
    request["labelingJobs"][0]["inputConfig"] = {"chainFromJobName": "drive-0042-vehicle-audit"}
    with pytest.raises(SpecError, match="lower level"):
        parse_request(request)


def test_malformed_json_names_the_position() -> None:
    with pytest.raises(SpecError, match="malformed JSON at line 1 column 15"):
        parse_request('{"batchId": 1,,}')


def test_levels_are_not_limited_to_three() -> None:
    request = copy.deepcopy(EXAMPLE)
    parent = "drive-0042-vehicle-audit"
    for level in (3, 4, 5):
        name = f"drive-0042-vehicle-l{level}"
        request["labelingJobs"].append(
            {
                "jobName": name,
                "jobModality": "VideoObjectTrackingAudit",
                "jobLevel": level,
                "inputConfig": {"chainFromJobName": parent},
            }
        )
        parent = name
    assert parse_request(request).levels == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "job,modality,expected",
    [
        ("v", "VideoObjectTracking", "v-ref"),
        ("v", "PointCloudObjectDetectionAudit", "v-ref"),
        ("img", "BoundingBox", "img"),
    ],
)
def test_label_attribute_name_follows_ground_truth(job: str, modality: str, expected: str) -> None:
    assert label_attribute_name(job, modality) == expected


def test_an_audit_budget_routes_by_risk_or_by_findings() -> None:
    request = changed(
        ["labelingJobs", 2, "inputConfig"],
        {"chainFromJobName": "drive-0042-vehicle", "qaFilter": {"mode": "risk", "auditBudget": 1}},
    )
    qa = parse_request(request).labeling_jobs[2].input_config.qa_filter
    assert qa is not None and qa.mode == "risk" and qa.audit_budget == 1.0 and qa.budgeted
    request = changed(["labelingJobs", 2, "inputConfig", "qaFilter"], {"checks": ["gap"]})
    qa = parse_request(request).labeling_jobs[2].input_config.qa_filter
    assert qa is not None and qa.mode == "findings" and not qa.budgeted
