"""End to end in headless Chromium: `labellake up` on a fresh home, a batch made in the form.

Uses Debian's chromium (`apt-get install chromium`, done by .ci/run) through
playwright's Python API; it never downloads a browser. Screenshots of every page
land in the test's temporary folder.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.portal.browsing import COMMAND, api_call, needs_chromium, serve, wait_ready

PAGES = {
    "": "Overview",
    "batches": "Batches",
    "annotations": "Annotations",
    "workforce": "Workforce",
    "quality": "Quality",
    "documents": "Documents",
    "sql_console": "SQL",
    "tasks": "Tasks",
}

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    home = tmp_path_factory.mktemp("e2e-home")
    subprocess.run(
        [*COMMAND, "--home", str(home), "demo", "--batch-id", "demo1", "--clips", "1"]
        + ["--frames", "8"],
        check=True,
        capture_output=True,
    )
    with serve(home) as urls:
        yield urls


def test_every_page_loads_and_is_captured(served, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    for path, title in PAGES.items():
        page.goto(f"{served['portal']}/{path}")
        page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
        wait_ready(page, title)
        assert page.get_by_text("Traceback").count() == 0
        page.screenshot(path=str(tmp_path / f"{path or 'overview'}.png"))
    assert len(list(tmp_path.glob("*.png"))) == len(PAGES)
    page.close()


def test_a_batch_made_in_the_form_completes(served, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.goto(f"{served['portal']}/batches")
    page.get_by_text("Create a batch").click()
    page.get_by_label("Batch id").fill("e2e1")
    page.get_by_label("Batch id").press("Enter")
    # Pick the first clip the demo generated: open the picker, take the highlighted option.
    page.get_by_role("combobox", name="Clips").click()
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.get_by_text("1 clip(s)").wait_for(timeout=30_000)
    page.get_by_role("button", name="Submit batch").click()
    page.get_by_text("Batch e2e1 submitted").wait_for(timeout=60_000)
    deadline = time.monotonic() + 90
    while True:
        code, shown = api_call(served, "/batch/show?batchId=e2e1")
        assert code == 200, shown
        status = shown["status"]
        if status != "IN_PROGRESS":
            break
        assert time.monotonic() < deadline, "the batch made in the form did not finish"
        time.sleep(0.5)
    assert status == "COMPLETE", shown["message"]
    page.goto(f"{served['portal']}/batches")
    page.get_by_role("heading", name="Batches").first.wait_for(timeout=60_000)
    # The batch list is a canvas grid; its cells are in the page for assistive technology.
    page.get_by_text("e2e1").first.wait_for(state="attached", timeout=30_000)
    page.close()


def test_a_document_uploaded_in_the_portal_is_ingested(served, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from labellake.workflows.samples.review_pdfs import write_pdf

    pdf = tmp_path / "uploaded-review.pdf"
    write_pdf(pdf, "two_column", seed=7)
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.goto(f"{served['portal']}/documents")
    page.get_by_role("heading", name="Documents").first.wait_for(timeout=60_000)
    page.get_by_text("Upload documents").click()
    page.locator("input[type=file]").set_input_files(str(pdf))
    page.get_by_role("button", name="Ingest").click()
    page.get_by_text("uploaded-review: ok").wait_for(timeout=60_000)
    page.screenshot(path=str(tmp_path / "documents-upload.png"))
    with urllib.request.urlopen(f"{served['api']}/health") as answer:
        assert answer.status == 200
    page.close()
    from labellake.lake import Lake

    ingested = Lake.from_uri(str(Path(served["home"]) / "lake")).query(
        "SELECT status, paragraphs FROM documents WHERE doc_id = 'uploaded-review'"
    )
    assert ingested.to_pylist()[0]["status"] == "ok"


def test_with_sign_in_on_no_page_shows_before_signing_in(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    subprocess.run(
        [*COMMAND, "--home", str(home), "account", "add", "ada", "--role", "admin"]
        + ["--password-stdin"],
        input="ada-password\n",
        text=True,
        check=True,
        capture_output=True,
    )
    with serve(home, portal_auth="1") as urls:
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(f"{urls['portal']}/sql_console")  # straight to an analyst page
        page.get_by_role("heading", name="Sign in to labellake").wait_for(timeout=60_000)
        assert page.get_by_role("heading", name="SQL").count() == 0
        page.get_by_role("textbox", name="Account").fill("ada")
        page.get_by_role("textbox", name="Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("wrong account name or password").wait_for(timeout=30_000)
        page.get_by_role("textbox", name="Password").fill("ada-password")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Overview").first.wait_for(timeout=60_000)
        page.get_by_text("Signed in as").wait_for(timeout=30_000)
        page.get_by_role("link", name="SQL").first.click()  # the sidebar keeps the session
        page.get_by_role("heading", name="SQL").first.wait_for(timeout=60_000)
        page.screenshot(path=str(tmp_path / "signed-in.png"))
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("heading", name="Sign in to labellake").wait_for(timeout=30_000)
        page.close()
