"""The Models page in headless Chromium: `labellake up` on a demo lake with history, an
HPO run and a TRAIN run from the command line, one more run started in the form, and
inference through the page and through POST /infer."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.portal.browsing import (
    COMMAND,
    api_call,
    needs_chromium,
    serve,
    wait_ready,
)

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    home = tmp_path_factory.mktemp("models-home")
    for argv in (
        ["demo", "--batch-id", "demo1", "--clips", "1", "--frames", "6", "--history", "1"],
        ["model", "hpo", "--trials", "6"],
    ):
        subprocess.run([*COMMAND, "--home", str(home), *argv], check=True, capture_output=True)
    with serve(home, model_endpoints_max="2") as urls:
        yield urls


def _runs(served: dict[str, object]) -> dict[str, dict[str, object]]:
    return {run["runId"]: run for run in api_call(served, "/model")[1]["runs"]}


def _trained(served: dict[str, object]) -> list[dict[str, object]]:
    """TRAIN runs of the labeling-effort model (the demo's audits train audit-risk ones)."""
    return [
        run
        for run in _runs(served).values()
        if run["mode"] == "TRAIN" and run["modelName"] == "labeling-effort"
    ]


def test_the_models_page_shows_it_all(served, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1400, "height": 2600})
    page.goto(f"{served['portal']}/models")
    page.get_by_role("heading", name="Models").first.wait_for(timeout=60_000)
    wait_ready(page, "Models", timeout_ms=120_000)  # all the page draws is in it
    # The HPO search: the objective by trial and the parameter importance.
    page.get_by_text("Objective by trial").wait_for(timeout=60_000)
    page.get_by_text("Parameter importance").wait_for(timeout=30_000)
    # Inference on the READY endpoint, with the sweep chart.
    page.get_by_test_id("stMetricLabel").get_by_text("Predicted seconds").wait_for(timeout=60_000)
    page.locator(".vega-embed").nth(2).wait_for(timeout=60_000)  # charts draw after the text
    assert page.locator(".vega-embed").count() >= 3
    # A TRAIN run started in the form goes to READY while the page follows it.
    page.get_by_text("Start a run").click()
    page.get_by_label("Model name").fill("labeling-effort")
    page.get_by_role("button", name="Start run").click()
    try:
        page.get_by_text("started; its status follows below").wait_for(timeout=20_000)
    except PlaywrightTimeout:
        # The page's live runs table reruns every 3 s, and a rerun can swallow a click; the
        # app's own record says whether the run started. Click again only if it did not.
        if not _trained(served):
            page.get_by_role("button", name="Start run").click()
            page.get_by_text("started; its status follows below").wait_for(timeout=60_000)
    deadline = time.monotonic() + 120
    while True:
        trained = _trained(served)
        if trained and trained[0]["status"] in ("READY", "ERROR"):
            break
        assert time.monotonic() < deadline, "the run started in the form did not finish"
        time.sleep(1)
    assert trained[0]["status"] == "READY", trained[0]["cause"]
    # The runs grid is a canvas; its cells are in the page for assistive technology.
    page.get_by_text(str(trained[0]["runId"])).first.wait_for(state="attached", timeout=30_000)
    wait_ready(page, "Models")
    assert page.get_by_text("Traceback").count() == 0
    page.screenshot(path=str(tmp_path / "models.png"), full_page=True)
    page.close()

    row = {
        "frames": 24,
        "objects": 3,
        "level": 1,
        "shape_type": "box",
        "modality": "VideoObjectTracking",
        "team": "first-level",
        "worker": "nobody",
    }
    status, answer = api_call(served, "/infer", {"modelName": "labeling-effort", "input": row})
    assert status == 200 and answer["predictions"][0] > 0
    status, answer = api_call(
        served, "/infer", {"modelName": "labeling-effort", "input": {"frames": 2}}
    )
    assert status == 400 and "missing feature(s) objects" in str(answer["message"])
    # With at most 2 endpoints, a third deployment deletes the oldest.
    status, started = api_call(served, "/model", {"modelName": "third", "params": {"max_iter": 20}})
    assert status == 200
    deadline = time.monotonic() + 120
    while _runs(served)[str(started["runId"])]["status"] not in ("READY", "ERROR"):
        assert time.monotonic() < deadline
        time.sleep(1)
    endpoints = api_call(served, "/model")[1]["endpoints"]
    live = [e for e in endpoints if e["status"] == "InService"]
    assert len(live) == 2 and started["runId"] in {e["runId"] for e in live}
    evicted = [e for e in endpoints if "oldest of 3 endpoints" in str(e["deletedReason"])]
    assert evicted and all(e["status"] == "Deleted" for e in evicted)
