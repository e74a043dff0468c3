"""The Ground Truth input-side examples read with exactly the values they contain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labellake.errors import LabellakeError
from labellake.workflows.labeling import formats

EXAMPLES = Path(__file__).parents[2] / "fixtures/examples"


def test_input_manifest() -> None:
    lines = formats.parse_manifest((EXAMPLES / "input.manifest").read_text(), "input.manifest")
    assert lines == [
        {"source-ref": "s3://example-input/drive-0042/clip-07_seq.json"},
        {"source-ref": "s3://example-input/drive-0042/clip-08_seq.json"},
    ]
    assert formats.parse_manifest(formats.manifest_text(lines), "again") == lines


def test_sequence_file() -> None:
    sequence = formats.parse_sequence((EXAMPLES / "sequence.json").read_text(), "sequence.json")
    assert sequence == formats.Sequence(
        prefix="s3://example-input/drive-0042/clip-07/img1/",
        frames=((1, "000001.jpg"), (2, "000003.jpg"), (3, "000005.jpg")),
        seq_no=0,
    )


@pytest.mark.parametrize(
    "name,kind,classes",
    [
        ("label-category-vehicle.json", "box", {"0": "Vehicle"}),
        ("label-category-lane.json", "polyline", {"0": "Lane"}),
        ("label-category-vehicle-audit.json", "box", {"0": "Vehicle"}),
    ],
)
def test_label_category_configs(name: str, kind: str, classes: dict[str, str]) -> None:
    config = formats.parse_label_config((EXAMPLES / name).read_text(), name)
    assert formats.annotation_type(config) == kind
    assert formats.class_map(config) == classes


def test_audit_config_derived_from_its_parent() -> None:
    parent = json.loads((EXAMPLES / "label-category-vehicle.json").read_text())
    audit = formats.audit_config(parent, "drive-0042-vehicle-ref")
    assert audit["auditLabelAttributeName"] == "drive-0042-vehicle-ref"
    attributes = {a["name"]: a for a in audit["labels"][0]["attributes"]}
    assert attributes["audit"]["enum"] == ["Pass", "Fail"]
    assert "audit" not in {a["name"] for a in parent["labels"][0]["attributes"]}


@pytest.mark.parametrize(
    "text,message",
    [
        ('{"frames": []}', "has no frames"),
        ("not json", "not JSON"),
        ('{"frames": [{"frame-no": 1}]}', 'needs "frame-no" and "frame"'),
    ],
)
def test_bad_sequence_files(text: str, message: str) -> None:
    with pytest.raises(LabellakeError, match=message):
        formats.parse_sequence(text, "clip_seq.json")


def test_notification_examples_have_the_shapes_the_engine_sends() -> None:
    complete = json.loads((EXAMPLES / "batch-complete-notification.json").read_text())
    failed = json.loads((EXAMPLES / "batch-failed-notification.json").read_text())
    assert set(complete) == {"batchId", "message", "batchInfo", "token", "status"}
    assert set(failed) == {"batchId", "message", "errorType", "errorString", "token", "status"}
