"""The reference walkthrough with people, in headless Chromium, on the local workforce.

A batch (vehicle boxes and lane polylines at level 1, their audits at level 2,
backend local, one clip of 10 frames; the vehicle boxes with a consensus of 2) is
created through the API. A first-level worker signs in, draws two boxes and a
polyline with real mouse events and submits both tasks; a second first-level worker
draws the two boxes too, and the vehicle job consolidates the two answers. A
second-level worker sees the consolidated labels, moves a box, marks Pass and Fail
and submits. The batch completes, its notification arrives at a
webhook on 127.0.0.1, and the Workforce dashboard lists both workers with their
measured task times. Screenshots land in the test's temporary folder.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from labellake import sql
from labellake.lake import Lake, ObjectStore
from labellake.workflows.labeling.sqlite_store import SqliteBatchStore
from labellake.workflows.samples import synthetic
from labellake.workflows.samples.demo import demo_request
from tests.portal.browsing import (
    COMMAND,
    api_call,
    free_port,
    needs_chromium,
    run_number,
    serve,
    wait_ready,
)

pytestmark = needs_chromium

PASSWORDS = {
    "ann": "ann-labels-boxes",
    "cal": "cal-labels-boxes-too",
    "bea": "bea-audits-boxes",
    "ada": "ada-runs-the-lake",
}


@pytest.fixture
def webhook() -> Iterator[list[dict[str, Any]]]:
    """An HTTP server on 127.0.0.1 that keeps every JSON body posted to it."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server hook
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    received.append({"url": f"http://127.0.0.1:{server.server_address[1]}/hook"})
    yield received
    server.shutdown()


def _cli(home: Path, *args: str, password: str | None = None) -> None:
    subprocess.run(
        [*COMMAND, "--home", str(home), *args],
        input=None if password is None else password + "\n",
        text=True,
        check=True,
        capture_output=True,
    )


def _until(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def _sign_in(page: Any, portal: str, name: str) -> None:
    page.goto(portal)
    page.get_by_role("heading", name="Sign in to labellake").wait_for(timeout=60_000)
    page.get_by_role("textbox", name="Account").fill(name)
    page.get_by_role("textbox", name="Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {name}").wait_for(timeout=60_000)


def _open_task(page: Any, job: str) -> Any:
    page.get_by_role("button", name=f"Start labeling {job}", exact=True).click()
    canvas = page.frame_locator('iframe[title*="labeler"]')
    canvas.get_by_text("Frame 1 / 10").wait_for(timeout=60_000)
    _until(lambda: _frames_loaded(page) == 10, "the frame images to load", seconds=30)
    return canvas


def _drag(
    page: Any, origin: dict[str, float], start: tuple[int, int], end: tuple[int, int]
) -> None:
    before = run_number(page)
    page.mouse.move(origin["x"] + start[0], origin["y"] + start[1])
    page.mouse.down()
    page.mouse.move(origin["x"] + end[0], origin["y"] + end[1], steps=8)
    page.mouse.up()
    wait_ready(page, "Tasks", after=before)  # the canvas posted the draft; Streamlit saved it


def _frames_loaded(page: Any) -> int:
    """How many frame images the canvas holds (evaluated inside its iframe)."""
    for frame in page.frames:
        if "labeler" in frame.url:
            return int(frame.evaluate("images.filter(i => i.complete).length"))
    return 0


def _submit(page: Any, canvas: Any, job: str) -> str:
    canvas.get_by_role("button", name="Submit task").click()
    message = page.get_by_text(f"Submitted {job} /")
    message.wait_for(timeout=60_000)
    return str(message.inner_text())


def test_the_reference_walkthrough_with_people(  # type: ignore[no-untyped-def]
    browser, webhook, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    samples = synthetic.generate(
        ObjectStore.from_uri(home / "objects"), dataset="samples/walk", clips=1, frames=10
    )
    _cli(home, "workforce", "add-team", "first-level")
    _cli(home, "workforce", "add-team", "second-level")
    _cli(home, "workforce", "add-worker", "--team", "first-level", "--name", "ann",
         "--password-stdin", password=PASSWORDS["ann"])  # fmt: skip
    _cli(home, "workforce", "add-worker", "--team", "first-level", "--name", "cal",
         "--password-stdin", password=PASSWORDS["cal"])  # fmt: skip
    _cli(home, "workforce", "add-worker", "--team", "second-level", "--name", "bea",
         "--password-stdin", password=PASSWORDS["bea"])  # fmt: skip
    _cli(home, "account", "add", "ada", "--role", "analyst", "--password-stdin",
         password=PASSWORDS["ada"])  # fmt: skip
    hook = webhook.pop(0)["url"]
    state = SqliteBatchStore(home / "state.db")
    shots = tmp_path / "screenshots"
    shots.mkdir()

    with serve(home, portal_auth="1", notify_webhook_url=hook) as urls:
        request = {**demo_request("walk", samples), "backend": "local"}
        request["labelingJobs"][0]["consensusCount"] = 2  # the vehicle boxes
        code, posted = api_call(urls, "/batch/create", request)
        assert code == 200, posted

        def started(level: int) -> bool:
            jobs = state.jobs("walk", level)
            return bool(jobs) and all(j["status"] == "WAIT_FOR_SMGT_RESPONSE" for j in jobs)

        _until(lambda: started(1), "the level-1 jobs to start")
        page = browser.new_page(viewport={"width": 1400, "height": 1300})

        # Level 1: ann draws two boxes and a lane.
        _sign_in(page, str(urls["portal"]), "ann")
        page.get_by_role("heading", name="Tasks").first.wait_for(timeout=60_000)
        assert page.get_by_role("link", name="SQL").count() == 0  # workers see their tasks only
        canvas = _open_task(page, "walk-vehicle")
        origin = canvas.locator("canvas").bounding_box()
        _drag(page, origin, (100, 100), (180, 160))
        _drag(page, origin, (300, 150), (400, 230))
        canvas.locator("#objects div", has_text="Vehicle:2").wait_for(timeout=30_000)
        page.keyboard.press("d")  # the next frame, from the keyboard
        canvas.get_by_text("Frame 2 / 10").wait_for(timeout=30_000)
        canvas.get_by_role("button", name="Copy previous").click()
        canvas.locator("#objects div", has_text="Vehicle:2").wait_for(
            timeout=30_000
        )  # copied by the server
        page.keyboard.press("a")
        canvas.get_by_text("Frame 1 / 10").wait_for(timeout=30_000)
        # Leaving the task and opening it again keeps the work and reloads the frames.
        page.get_by_role("button", name="Back to the queue (keep the task)").click()
        page.get_by_role("button", name="Open").click()
        canvas = page.frame_locator('iframe[title*="labeler"]')
        canvas.locator("#objects div", has_text="Vehicle:2").wait_for(timeout=60_000)
        _until(lambda: _frames_loaded(page) == 10, "the frames to load again", seconds=30)
        page.screenshot(path=str(shots / "labeling-boxes.png"))
        _submit(page, canvas, "walk-vehicle")

        canvas = _open_task(page, "walk-lane")
        origin = canvas.locator("canvas").bounding_box()
        for x, y in [(60, 330), (220, 220), (330, 160)]:
            page.mouse.click(origin["x"] + x, origin["y"] + y)
            page.wait_for_timeout(150)  # clicks apart, not one double click
        before = run_number(page)
        page.keyboard.press("Enter")
        canvas.locator("#objects div", has_text="Lane:1").wait_for(timeout=30_000)
        wait_ready(page, "Tasks", after=before)
        page.screenshot(path=str(shots / "labeling-polyline.png"))
        _submit(page, canvas, "walk-lane")
        page.get_by_role("button", name="Sign out").click()

        # The consensus: cal draws the two boxes too (the clip's other vehicle task).
        _sign_in(page, str(urls["portal"]), "cal")
        canvas = _open_task(page, "walk-vehicle")
        origin = canvas.locator("canvas").bounding_box()
        _drag(page, origin, (102, 98), (182, 162))
        _drag(page, origin, (300, 152), (398, 230))
        canvas.locator("#objects div", has_text="Vehicle:2").wait_for(timeout=30_000)
        page.keyboard.press("d")
        canvas.get_by_text("Frame 2 / 10").wait_for(timeout=30_000)
        canvas.get_by_role("button", name="Copy previous").click()
        canvas.locator("#objects div", has_text="Vehicle:2").wait_for(timeout=30_000)
        _submit(page, canvas, "walk-vehicle")
        page.get_by_role("button", name="Sign out").click()

        # Level 2: bea sees ann's labels, moves a box, marks Pass and Fail.
        _until(lambda: started(2), "the audit jobs to start")
        _sign_in(page, str(urls["portal"]), "bea")
        canvas = _open_task(page, "walk-vehicle-audit")
        canvas.locator("#objects div", has_text="Vehicle:1").wait_for(timeout=30_000)
        origin = canvas.locator("canvas").bounding_box()
        _drag(page, origin, (350, 190), (380, 200))  # the second box, 30 px right
        for name, verdict in [("Vehicle:1", "Pass"), ("Vehicle:2", "Fail")]:
            canvas.locator("#objects div", has_text=name).first.click()
            before = run_number(page)
            canvas.locator('select[data-attribute="audit"]').select_option(verdict)
            wait_ready(page, "Tasks", after=before)
        page.screenshot(path=str(shots / "audit-boxes.png"))
        assert "adjusted)" in _submit(page, canvas, "walk-vehicle-audit")

        canvas = _open_task(page, "walk-lane-audit")
        canvas.locator("#objects div", has_text="Lane:1").first.click()
        before = run_number(page)
        canvas.locator('select[data-attribute="audit"]').select_option("Pass")
        wait_ready(page, "Tasks", after=before)
        assert "unadjusted)" in _submit(page, canvas, "walk-lane-audit")
        page.get_by_role("button", name="Sign out").click()

        _until(lambda: state.batch("walk")["status"] == "COMPLETE", "the batch to complete")
        _until(lambda: bool(webhook), "the notification")
        assert webhook[0]["batchId"] == "walk" and webhook[0]["status"] == "SUCCESS"

        # The analyst's Workforce dashboard lists both workers with their measured times.
        _sign_in(page, str(urls["portal"]), "ada")
        page.get_by_role("link", name="Workforce").first.click()
        page.get_by_role("heading", name="Workforce").first.wait_for(timeout=60_000)
        page.get_by_role("heading", name="One worker").wait_for(timeout=60_000)
        wait_ready(page, "Workforce")  # the page's charts and tables
        picker = page.get_by_role("combobox", name="Worker", exact=True)
        for name in ("ann", "bea"):
            before, shown_before = run_number(page), picker.input_value()
            picker.click()
            picker.press_sequentially(name, delay=50)
            picker.press("Enter")
            if shown_before != name:  # the page is drawn again for this worker
                wait_ready(page, "Workforce", after=before)
            assert picker.input_value() == name
            page.get_by_text("Median time per task").wait_for(timeout=30_000)
            shown = page.locator('[data-testid="stMetricValue"]').last.inner_text()
            assert shown.endswith(" s") and float(shown[:-2].replace(",", "")) > 0
        page.screenshot(path=str(shots / "workforce.png"), full_page=True)
        page.close()

    lake = Lake(ObjectStore.from_uri(home / "lake"), views=sql.views())
    rows = lake.query(
        "select worker_id, count(*) as tasks, min(time_spent_s) as fastest "
        "from worker_responses group by 1 order by 1"
    ).to_pylist()
    assert [(r["worker_id"], r["tasks"]) for r in rows] == [
        ("local.ann", 2),
        ("local.bea", 2),
        ("local.cal", 1),
    ]
    assert all(r["fastest"] > 0 for r in rows)
    audited = lake.query(
        "select label, attributes['audit'] as verdict, count(*) as n from annotations "
        "where job_name = 'walk-vehicle-audit' group by all order by all"
    ).to_pylist()
    assert {r["verdict"] for r in audited} == {"Pass", "Fail"}
    # The two workers' boxes matched: two objects, agreed on well.
    agreed = lake.query(
        "select agreement, drawn_by from consensus_objects where job_name = 'walk-vehicle'"
    ).to_pylist()
    assert len(agreed) == 2 and all(r["drawn_by"] == ["local.ann", "local.cal"] for r in agreed)
    assert all(r["agreement"] > 0.5 for r in agreed)
    assert sorted(p.name for p in shots.iterdir()) == [
        "audit-boxes.png",
        "labeling-boxes.png",
        "labeling-polyline.png",
        "workforce.png",
    ]
