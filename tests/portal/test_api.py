from __future__ import annotations

import copy
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from labellake.portal.api import create_app
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.labeling.runner import Runner
from tests.workflows import conftest as workflow_fixtures

# The workflow tests' fixtures: sample clips, the engine over tmp_path, the batch request.
engine = workflow_fixtures.engine
make_engine = workflow_fixtures.make_engine
objects = workflow_fixtures.objects
request_for = workflow_fixtures.request_for
samples = workflow_fixtures.samples
state_store = workflow_fixtures.state_store
store_kind = workflow_fixtures.store_kind


class Served:
    def __init__(self, engine: Engine, token: str | None = None) -> None:
        config = uvicorn.Config(
            create_app(engine, token=token), host="127.0.0.1", port=0, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def api(engine: Engine) -> Iterator[httpx.Client]:
    served = Served(engine)
    with httpx.Client(base_url=served.url, timeout=30) as client:
        yield client
    served.close()


def state_rows(engine: Engine) -> int:
    with sqlite3.connect(engine.state.path) as con:
        return sum(
            con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("batches", "levels", "jobs", "tasks", "events")
        )


def test_create_show_and_list(
    api: httpx.Client, engine: Engine, request_for: Callable[..., dict[str, Any]]
) -> None:
    answer = api.post("/batch/create", json=request_for("b1"))
    assert answer.status_code == 200 and answer.json() == {"batchId": "b1", "status": "IN_PROGRESS"}
    assert api.get("/batch/show").json()["IN_PROGRESS"] == ["b1"]
    engine.run_to_end("b1", poll_s=0)
    listing = api.get("/batch/show").json()
    assert listing["COMPLETE"] == ["b1"] and listing["IN_PROGRESS"] == []
    detail = api.get("/batch/show", params={"batchId": "b1"}).json()
    assert detail["status"] == "COMPLETE"
    assert {"firstLevel", "secondLevel", "thirdLevel", "levels", "inputLabelingJobs"} <= set(detail)
    job = detail["firstLevel"]["jobLevels"][0]
    assert job["batchId"] == "b1-first_level-b1-vehicle"
    assert job["jobOutputS3Uri"].endswith("/b1-vehicle/manifests/output/output.manifest")
    assert job["jobInputS3Url"].startswith("file://")


def test_metadata_stop_retry_and_delete(
    api: httpx.Client, engine: Engine, request_for: Callable[..., dict[str, Any]]
) -> None:
    api.post("/batch/create", json=request_for("b1"))
    answer = api.post("/batch-metadata/post", json={"batchId": "b1", "downSamplingRate": 50})
    assert answer.status_code == 200 and engine.state.batch("b1")["down_sampling_rate"] == 50
    assert api.delete("/batch", params={"batchId": "b1"}).status_code == 409
    assert api.post("/batch/stop", json={"batchId": "b1"}).json()["status"] == "STOPPED"
    assert api.post("/batch/stop", json={"batchId": "b1"}).status_code == 409
    assert api.post("/batch/retry", json={"batchId": "b1"}).json()["status"] == "IN_PROGRESS"
    engine.run_to_end("b1", poll_s=0)
    plan = api.delete("/batch", params={"batchId": "b1", "dryRun": "true"}).json()
    assert plan["dryRun"] is True and len(plan["jobs"]) == 4
    assert engine.state.batch("b1") is not None
    gone = api.delete("/batch", params={"batchId": "b1"})
    assert gone.status_code == 200 and engine.state.batch("b1") is None
    assert api.get("/batch/show", params={"batchId": "b1"}).status_code == 404


def test_workforce(api: httpx.Client, engine: Engine) -> None:
    teams = api.get("/workforce/show").json()["workteams"]
    assert [t["workteamName"] for t in teams] == ["first-level", "second-level"]
    assert all(t["workers"] for t in teams)
    from labellake.workflows.people.workforce import Workforce

    local = Workforce(engine.state, engine.config.region, engine.config.account)
    local.add_team("night-shift")
    local.add_worker("night-shift", "nia", "nia-password")
    teams = api.get("/workforce/show").json()["workteams"]
    assert teams[-1]["workteamName"] == "night-shift" and teams[-1]["source"] == "local"
    assert [w["workerId"] for w in teams[-1]["workers"]] == ["local.nia"]


def test_openapi_docs(api: httpx.Client) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert {
        "/batch/create",
        "/batch/show",
        "/batch-metadata/post",
        "/batch/stop",
        "/batch/retry",
        "/batch",
        "/workforce/show",
    } <= set(paths)
    assert api.get("/docs").status_code == 200


def _bad(request: dict[str, Any], case: str) -> bytes | dict[str, Any]:
    request = copy.deepcopy(request)
    jobs = request["labelingJobs"]
    if case == "malformed-json":
        return b'{"batchId": "b2", "labelingJobs": [}'
    if case == "unknown-modality":
        jobs[0]["jobModality"] = "VideoSegmentation"
    elif case == "cycle":
        jobs[0]["inputConfig"] = {"chainFromJobName": "b2-vehicle-audit"}
    elif case == "forward-chain":
        jobs[2]["inputConfig"]["chainFromJobName"] = "b2-lane-audit"
    elif case == "missing-manifest":
        jobs[0]["inputConfig"]["inputManifestS3Uri"] = "/nonexistent/clips.manifest"
    elif case == "missing-config":
        jobs[1]["labelCategoryConfigS3Uri"] = "/nonexistent/config.json"
    elif case == "audit-budget":
        jobs[2]["inputConfig"]["qaFilter"] = {"mode": "risk", "auditBudget": 0}
    elif case == "gold-rate":
        request["goldManifestS3Uri"] = jobs[0]["inputConfig"]["inputManifestS3Uri"]
        jobs[0]["goldRate"] = 1.5
    elif case == "consensus-one":
        jobs[0]["consensusCount"] = 1
    elif case == "consensus-over-team":
        jobs[0]["consensusCount"] = 50
    return request


@pytest.mark.parametrize(
    "case,field",
    [
        ("malformed-json", "request"),
        ("unknown-modality", "labelingJobs[0].jobModality"),
        ("cycle", "labelingJobs[0]"),
        ("forward-chain", "labelingJobs[2].inputConfig.chainFromJobName"),
        ("missing-manifest", "labelingJobs[0].inputConfig.inputManifestS3Uri"),
        ("missing-config", "labelingJobs[1].labelCategoryConfigS3Uri"),
        ("audit-budget", "labelingJobs[2].inputConfig.qaFilter.auditBudget"),
        ("gold-rate", "labelingJobs[0].goldRate"),
        ("consensus-one", "labelingJobs[0].consensusCount"),
        ("consensus-over-team", "labelingJobs[0].consensusCount"),
    ],
)
def test_bad_requests_answer_400_naming_the_field(
    api: httpx.Client,
    engine: Engine,
    request_for: Callable[..., dict[str, Any]],
    case: str,
    field: str,
) -> None:
    before = state_rows(engine)
    body = _bad(request_for("b2"), case)
    answer = (
        api.post("/batch/create", content=body)
        if isinstance(body, bytes)
        else api.post("/batch/create", json=body)
    )
    assert answer.status_code == 400
    problems = answer.json()["errors"]
    assert any(p["field"].startswith(field) for p in problems), problems
    assert answer.json()["message"]
    assert state_rows(engine) == before


def test_bad_manifest_lines_and_empty_sequences(
    api: httpx.Client,
    engine: Engine,
    request_for: Callable[..., dict[str, Any]],
) -> None:
    before = state_rows(engine)
    request = request_for("b2")
    folder = Path(engine.objects.root)  # requests may name files in the object store
    lines = folder / "lines.manifest"
    lines.write_text('{"source-ref": "a"}\nnot json\n')
    request["labelingJobs"][0]["inputConfig"]["inputManifestS3Uri"] = str(lines)
    answer = api.post("/batch/create", json=request).json()
    assert "line 2: not JSON" in answer["message"]
    seq = folder / "c_seq.json"
    seq.write_text(json.dumps({"prefix": "x/", "frames": []}))
    lines.write_text(json.dumps({"source-ref": str(seq)}) + "\n")
    answer = api.post("/batch/create", json=request)
    assert answer.status_code == 400 and "has no frames" in answer.json()["message"]
    assert state_rows(engine) == before


@pytest.mark.parametrize(
    "method,path,body,status,text",
    [
        ("post", "/batch/stop", b"{oops", 400, "malformed JSON"),
        ("post", "/batch/stop", b"[]", 400, "JSON object"),
        ("post", "/batch/stop", b"{}", 400, "batchId: required"),
        ("post", "/batch/retry", b'{"batchId": "nope"}', 404, "unknown batch 'nope'"),
        (
            "post",
            "/batch-metadata/post",
            b'{"batchId": "nope", "downSamplingRate": "x"}',
            400,
            "downSamplingRate: expected",
        ),
        (
            "post",
            "/batch-metadata/post",
            b'{"batchId": "nope", "downSamplingRate": 5}',
            404,
            "unknown batch",
        ),
        ("get", "/batch/show?batchId=nope", None, 404, "unknown batch 'nope'"),
        ("delete", "/batch", None, 400, "batchId"),
        ("delete", "/batch?batchId=nope&dryRun=maybe", None, 400, "dryRun"),
    ],
)
def test_other_endpoints_reject_bad_input(
    api: httpx.Client, method: str, path: str, body: bytes | None, status: int, text: str
) -> None:
    answer = api.request(method.upper(), path, content=body)
    assert answer.status_code == status
    assert text in answer.json()["message"]


def test_token_auth(engine: Engine) -> None:
    served = Served(engine, token="s3cret")
    try:
        with httpx.Client(base_url=served.url) as client:
            assert client.get("/batch/show").status_code == 401
            assert (
                client.get("/batch/show", headers={"Authorization": "Bearer wrong"}).status_code
                == 401
            )
            assert (
                client.get("/batch/show", headers={"Authorization": "Bearer s3cret"}).status_code
                == 200
            )
            assert client.get("/health").status_code == 200
    finally:
        served.close()


def test_served_with_the_runner_a_batch_completes(
    engine: Engine, request_for: Callable[..., dict[str, Any]]
) -> None:
    served = Served(engine)
    stop = threading.Event()
    runner = threading.Thread(target=Runner(engine, poll_s=0.02).run, args=(stop,), daemon=True)
    runner.start()
    try:
        with httpx.Client(base_url=served.url) as client:
            client.post("/batch/create", json=request_for("live"))
            deadline = time.monotonic() + 30
            while client.get("/batch/show").json()["COMPLETE"] != ["live"]:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        stop.set()
        runner.join(timeout=10)
        served.close()
