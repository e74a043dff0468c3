"""People who work in Label Studio, played through its own REST API: each signs up on the
server and acts with their own personal access token, as a labeler or an auditor would
from the editor. Their results are written here from the clip's ground truth, in Label
Studio's format, not through labellake's converter."""

from __future__ import annotations

import copy
import time
from typing import Any

from labellake.workflows.labeling.backends.labelstudio_client import LabelStudioClient
from labellake.workflows.labeling.backends.labelstudio_server import LabelStudioServer
from labellake.workflows.samples.truth import ClipTruth, truth_uri


class Person:
    def __init__(self, server: LabelStudioServer, email: str) -> None:
        self.email = email
        self.token = server.sign_up(email)
        self.client = LabelStudioClient(server.url, self.token)
        self.id = int(self.client.get("/api/current-user/whoami")["id"])

    def tasks(self, project_id: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self.client.get(
                "/api/tasks/", project=project_id, page=page, page_size=100, fields="all"
            )
            found += body["tasks"]
            if len(found) >= body["total"]:
                return found
            page += 1

    def annotate(self, task_id: int, result: list[dict[str, Any]], lead_time: float) -> dict:  # type: ignore[type-arg]
        return self.client.post(
            f"/api/tasks/{task_id}/annotations/", {"result": result, "lead_time": lead_time}
        )


def wait_for_project(
    client: LabelStudioClient, title_end: str, tasks: int, timeout_s: float = 120
) -> dict[str, Any]:
    """The project whose title ends with ``title_end``, once all its tasks are in."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for project in client.projects():
            if project["title"].endswith(title_end) and (project.get("task_number") or 0) >= tasks:
                return project
        time.sleep(0.5)
    raise AssertionError(f"no Label Studio project ending in {title_end} with {tasks} tasks")


def truth_of(source_ref: str) -> ClipTruth:
    with open(truth_uri(source_ref)) as text:
        return ClipTruth.from_json(text.read())


def vehicle_result(truth: ClipTruth) -> list[dict[str, Any]]:
    """Every vehicle of the clip as a video rectangle keyed on every frame it is on (a
    disabled keyframe where it leaves), with its attributes, and the vehicle count."""
    frames_count = len(truth.frames)
    tracks: dict[str, list[tuple[int, Any]]] = {}
    for number, frame in enumerate(truth.frames, start=1):
        for obj in frame.objects:
            if obj.kind == "box" and obj.box is not None:
                tracks.setdefault(obj.track_id, []).append((number, obj))
    result: list[dict[str, Any]] = []
    for index, seen in enumerate(tracks.values()):
        region = f"t{index}"
        present = {number for number, _ in seen}
        sequence = []
        for number, obj in seen:
            left, top, width, height = obj.box
            sequence.append(
                {
                    "frame": number,
                    "enabled": number + 1 in present,
                    "rotation": 0,
                    "time": (number - 1) / 10,
                    "x": 100 * left / truth.width,
                    "y": 100 * top / truth.height,
                    "width": 100 * width / truth.width,
                    "height": 100 * height / truth.height,
                }
            )
        result.append(
            {
                "id": region,
                "from_name": "box",
                "to_name": "media",
                "type": "videorectangle",
                "origin": "manual",
                "value": {
                    "framesCount": frames_count,
                    "duration": frames_count / 10,
                    "sequence": sequence,
                    "labels": ["Vehicle"],
                },
            }
        )
        for name, value in seen[0][1].attributes.items():
            result.append(
                {
                    "id": region,
                    "from_name": f"attr_{name}",
                    "to_name": "media",
                    "type": "choices",
                    "value": {"choices": [value]},
                }
            )
    result.append(
        {
            "from_name": "frame_Number_Of_Vehicles",
            "to_name": "media",
            "type": "number",
            "value": {"number": len(tracks)},
        }
    )
    return result


def audit_result(task: dict[str, Any], fail_first: bool) -> list[dict[str, Any]]:
    """The auditor starts from the prediction (the parent's labels), marks every region
    Pass, or, with ``fail_first``, moves the first region's first box and marks it Fail."""
    result = copy.deepcopy(task["predictions"][0]["result"])
    regions = [r for r in result if r["type"] == "videorectangle"]
    for number, region in enumerate(regions):
        verdict = "Pass"
        if fail_first and number == 0:
            region["value"]["sequence"][0]["x"] += 3.0
            verdict = "Fail"
        region["origin"] = "prediction-changed" if verdict == "Fail" else "prediction"
        result.append(
            {
                "id": region["id"],
                "from_name": "audit",
                "to_name": "media",
                "type": "choices",
                "value": {"choices": [verdict]},
            }
        )
    return result
