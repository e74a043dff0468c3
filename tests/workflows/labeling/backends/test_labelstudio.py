"""The labelstudio backend against a real Label Studio server (the session's
``label_studio``), with labelers and auditors played through Label Studio's REST API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from labellake.errors import LabellakeError
from labellake.lake import Lake
from labellake.workflows.labeling.backends.labelstudio_client import LabelStudioClient
from labellake.workflows.labeling.backends.labelstudio_server import LabelStudioServer
from tests.portal.browsing import COMMAND, free_port, wait_for
from tests.workflows.labeling.backends.labelstudio_people import (
    Person,
    audit_result,
    truth_of,
    vehicle_result,
    wait_for_project,
)
from tests.workflows.labeling.test_notify import Webhook


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def ops(label_studio: LabelStudioServer) -> Person:
    """The labeling-ops lead whose personal access token labellake acts with."""
    return Person(label_studio, f"{unique('ops')}@example.com")


@pytest.fixture
def home(label_studio: LabelStudioServer) -> Path:
    """A labellake home inside the folder Label Studio serves files from."""
    path = label_studio.files_root / unique("home")
    path.mkdir()
    return path


def settings_env(home: Path, server: LabelStudioServer, ops: Person, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "LABELLAKE_HOME": str(home),
        "LABELLAKE_LABELSTUDIO_URL": server.url,
        "LABELLAKE_LABELSTUDIO_TOKEN": ops.token,
        "LABELLAKE_LABELSTUDIO_FILES_ROOT": str(server.files_root),
        "LABELLAKE_RUNNER_POLL_S": "0.2",
        "LABELLAKE_SIMULATED_JOB_SECONDS": "0.2",
        **{f"LABELLAKE_{k.upper()}": v for k, v in more.items()},
    }


@pytest.fixture
def notifications() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def test_the_demo_batch_runs_on_label_studio(
    label_studio: LabelStudioServer,
    ops: Person,
    home: Path,
    notifications: Webhook,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    labeler = Person(label_studio, f"{unique('ann')}@example.com")
    auditor = Person(label_studio, f"{unique('audrey')}@example.com")
    port = free_port()
    env = settings_env(
        home,
        label_studio,
        ops,
        # Only the webhooks can make labellake look again before ten minutes are up.
        labelstudio_webhook_url=f"http://127.0.0.1:{port}/labelstudio/webhook",
        labelstudio_poll_s="600",
        notify_webhook_url=notifications.url,
    )
    api = subprocess.Popen(
        [*COMMAND, "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health")
        batch = unique("ls")
        demo = subprocess.Popen(
            [*COMMAND, "demo", "--backend", "labelstudio", "--batch-id", batch, "--clips", "2"]
            + ["--frames", "12"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Level 1: the vehicle boxes go to Label Studio; the lane polylines cannot.
        vehicles = wait_for_project(ops.client, f"{batch}-vehicle", tasks=2)
        boxes = 0
        for number, task in enumerate(labeler.tasks(vehicles["id"])):
            result = vehicle_result(truth_of(task["data"]["source_ref"]))
            boxes += sum(
                len(r["value"]["sequence"]) for r in result if r["type"] == "videorectangle"
            )
            labeler.annotate(task["id"], result, lead_time=40.0 + number)
        # Level 2: the audit of the boxes, with the labeler's boxes as predictions.
        audits = wait_for_project(ops.client, f"{batch}-vehicle-audit", tasks=2)
        for number, task in enumerate(auditor.tasks(audits["id"])):
            assert task["predictions"], "the audit task carries the parent's labels"
            auditor.annotate(task["id"], audit_result(task, fail_first=number == 0), 25.0)
        out, err = demo.communicate(timeout=300)
    finally:
        api.send_signal(signal.SIGTERM)
        api.wait(timeout=30)
    assert demo.returncode == 0, err
    assert f"batch {batch} COMPLETE" in out
    assert f"{batch}-lane runs on the simulated backend" in err
    assert "Label Studio labels only rectangles on video" in err
    titles = [p["title"] for p in ops.client.projects()]
    assert not [t for t in titles if f"{batch}-lane" in t]
    # Label Studio called labellake's API for the annotations (nothing else moves a job
    # on within the ten-minute poll).
    assert list((home / "objects/labelstudio/webhooks").glob("*.json"))
    assert [m for m in notifications.received if batch in json.dumps(m)]

    lake = Lake.from_uri(str(home / "lake"))
    responses = lake.query(
        "SELECT job_name, worker_id, time_spent_s FROM worker_responses "
        f"WHERE job_name LIKE '{batch}-vehicle%' ORDER BY job_name, time_spent_s"
    ).to_pylist()
    assert responses == [
        {
            "job_name": f"{batch}-vehicle",
            "worker_id": f"labelstudio.{labeler.id}",
            "time_spent_s": 40.0,
        },
        {
            "job_name": f"{batch}-vehicle",
            "worker_id": f"labelstudio.{labeler.id}",
            "time_spent_s": 41.0,
        },
        {
            "job_name": f"{batch}-vehicle-audit",
            "worker_id": f"labelstudio.{auditor.id}",
            "time_spent_s": 25.0,
        },
        {
            "job_name": f"{batch}-vehicle-audit",
            "worker_id": f"labelstudio.{auditor.id}",
            "time_spent_s": 25.0,
        },
    ]
    shapes = lake.query(
        f"SELECT count(*) AS n FROM annotations WHERE job_name = '{batch}-vehicle'"
    ).to_pylist()[0]["n"]
    assert shapes == boxes  # every keyframe of every track is a box on its frame
    verdicts = lake.query(
        "SELECT adjustment_status, count(*) AS n FROM labels "
        f"WHERE job_name = '{batch}-vehicle-audit' "
        f"AND label_attribute = '{batch}-vehicle-audit-ref' GROUP BY 1 ORDER BY 1"
    ).to_pylist()
    assert verdicts == [
        {"adjustment_status": "adjusted", "n": 1},
        {"adjustment_status": "unadjusted", "n": 1},
    ]
    lanes = lake.query(
        f"SELECT count(*) AS n FROM annotations WHERE job_name = '{batch}-lane'"
    ).to_pylist()[0]["n"]
    assert lanes > 0

    # The Workforce page names the Label Studio users.
    from streamlit.testing.v1 import AppTest

    for key in ("HOME", "LABELSTUDIO_URL", "LABELSTUDIO_TOKEN", "LABELSTUDIO_FILES_ROOT"):
        monkeypatch.setenv(f"LABELLAKE_{key}", env[f"LABELLAKE_{key}"])
    app = AppTest.from_file(
        str(Path(__file__).parents[4] / "labellake/portal/app.py"), default_timeout=60
    )
    app.run()
    app.switch_page("screens/workforce.py")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    shown = " ".join(str(frame.value.to_dict()) for frame in app.dataframe)
    assert labeler.email in shown and auditor.email in shown


def submit_one_job(home: Path, env: dict[str, str], job: str, lanes: bool) -> tuple[int, str]:
    """Submit one job of the demo's clips on Label Studio through the CLI: lane polylines,
    or vehicle boxes; returns the exit status and stderr."""
    from labellake.lake import ObjectStore
    from labellake.workflows.samples import synthetic

    objects = ObjectStore.from_uri(str(home / "objects"))
    samples = synthetic.generate(objects, dataset="samples/one", clips=1, frames=4, seed=0)
    request = home / f"{job}.json"
    request.write_text(
        json.dumps(
            {
                "batchId": unique("one"),
                "backend": "labelstudio",
                "labelingJobs": [
                    {
                        "jobName": job,
                        "jobModality": "VideoObjectTracking",
                        "jobLevel": 1,
                        "labelCategoryConfigS3Uri": samples.lane_config_uri
                        if lanes
                        else samples.vehicle_config_uri,
                        "inputConfig": {"inputManifestS3Uri": samples.manifest_uri},
                    }
                ],
            }
        )
    )
    done = subprocess.run(
        [*COMMAND, "batch", "create", "--file", str(request)],
        env=env,
        capture_output=True,
        text=True,
    )
    return done.returncode, done.stderr


def test_polylines_on_video_are_refused_before_anything_is_made(
    label_studio: LabelStudioServer, ops: Person, home: Path
) -> None:
    before = len(list(ops.client.projects()))
    code, err = submit_one_job(home, settings_env(home, label_studio, ops), "lanes-on-ls", True)
    assert code == 2
    assert "lanes-on-ls" in err and "VideoObjectTracking" in err and "polyline" in err
    assert len(err.strip().splitlines()) == 1
    assert len(list(ops.client.projects())) == before


@pytest.mark.parametrize(
    ("url", "token", "says"),
    [
        ("not-a-url", None, "labelstudio_url 'not-a-url' is not an http(s) URL"),
        (None, "wrong.token.value", "refused labelstudio_token"),
        ("closed", None, "cannot reach Label Studio"),
        (None, "", "labelstudio_token is not set"),
    ],
)
def test_bad_settings_are_one_line_errors_before_anything_is_made(
    label_studio: LabelStudioServer,
    ops: Person,
    home: Path,
    url,
    token,
    says,  # type: ignore[no-untyped-def]
) -> None:
    env = settings_env(home, label_studio, ops)
    if url == "closed":
        url = f"http://127.0.0.1:{free_port()}"
    if url is not None:
        env["LABELLAKE_LABELSTUDIO_URL"] = url
    if token is not None:
        env["LABELLAKE_LABELSTUDIO_TOKEN"] = token
    if token == "":
        del env["LABELLAKE_LABELSTUDIO_TOKEN"]
    before = len(list(ops.client.projects()))
    code, err = submit_one_job(home, env, unique("boxes"), False)
    assert code == 2
    assert says in err
    assert len(err.strip().splitlines()) == 1
    assert len(list(ops.client.projects())) == before
    assert not (home / "objects/labelstudio/jobs").exists()


def test_a_legacy_token_works_and_a_wrong_one_is_refused(label_studio: LabelStudioServer) -> None:
    assert LabelStudioClient(label_studio.url, label_studio.legacy_token).check()["email"] == (
        label_studio.admin
    )
    with pytest.raises(LabellakeError, match="refused"):
        LabelStudioClient(label_studio.url, "f" * 40).check()
