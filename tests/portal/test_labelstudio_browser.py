"""Headless Chromium follows the batch page's link to a job's Label Studio project: the
link is real, and so is the project behind it (on the session's Label Studio server)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from labellake.lake import ObjectStore
from labellake.workflows.labeling.backends.labelstudio_server import LabelStudioServer
from labellake.workflows.samples import synthetic
from tests.portal.browsing import api_call, needs_chromium, serve, wait_ready
from tests.workflows.labeling.backends.labelstudio_people import Person

pytestmark = needs_chromium


def test_the_batch_page_links_to_the_label_studio_project(
    label_studio: LabelStudioServer,
    browser,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    ops = Person(label_studio, f"ops-{uuid.uuid4().hex[:8]}@example.com")
    home = label_studio.files_root / f"home-{uuid.uuid4().hex[:8]}"
    objects = ObjectStore.from_uri(str(home / "objects"))
    objects.ensure_root()
    samples = synthetic.generate(objects, dataset="samples/link", clips=1, frames=4, seed=0)
    batch = f"link-{uuid.uuid4().hex[:6]}"
    settings = {
        "labelstudio_url": label_studio.url,
        "labelstudio_token": ops.token,
        "labelstudio_files_root": str(label_studio.files_root),
        "labelstudio_poll_s": "1",
    }
    with serve(home, **settings) as served:
        code, answer = api_call(
            served,
            "/batch/create",
            {
                "batchId": batch,
                "backend": "labelstudio",
                "labelingJobs": [
                    {
                        "jobName": f"{batch}-vehicle",
                        "jobModality": "VideoObjectTracking",
                        "jobLevel": 1,
                        "labelCategoryConfigS3Uri": samples.vehicle_config_uri,
                        "inputConfig": {"inputManifestS3Uri": samples.manifest_uri},
                    }
                ],
            },
        )
        assert code == 200, answer
        deadline = time.monotonic() + 60
        while True:
            code, shown = api_call(served, f"/batch/show?batchId={batch}")
            (job,) = shown["levels"][0]["jobLevels"]  # type: ignore[index]
            if job["workUrl"]:
                break
            assert time.monotonic() < deadline, shown
            time.sleep(0.5)
        context = browser.new_context(viewport={"width": 1400, "height": 2000})
        page = context.new_page()
        # Sign in to Label Studio as the ops lead, as a person would in this browser.
        page.goto(f"{label_studio.url}/user/login/")
        page.locator("input[name=email]").fill(ops.email)
        page.locator("input[name=password]").fill("labellake-worker")
        page.locator("button[type=submit], input[type=submit]").first.click()
        page.wait_for_url(f"{label_studio.url}/**", timeout=60_000)
        page.goto(f"{served['portal']}/batches")
        wait_ready(page, "Batches")
        page.get_by_text(f"level 1 · {batch}-vehicle").click()
        link = page.get_by_role("link", name="Open in Label Studio")
        assert link.get_attribute("href") == job["workUrl"]
        with context.expect_page() as opened:
            link.click()
        project = opened.value
        project.wait_for_url(f"{label_studio.url}/projects/*/data*", timeout=60_000)
        project.get_by_text(f"{batch}-vehicle").first.wait_for(timeout=60_000)
        project.get_by_text("Tasks:").first.wait_for(timeout=60_000)
        project.screenshot(path=str(tmp_path / "label-studio-project.png"))
        # The task opens in Label Studio's editor, and the browser plays the clip's video.
        (task,) = ops.tasks(int(job["workUrl"].split("/projects/")[1].split("/")[0]))
        project.goto(f"{job['workUrl']}?task={task['id']}")
        project.wait_for_function(
            "() => [...document.querySelectorAll('video')].some("
            "v => v.readyState >= 2 && v.videoWidth === 640 && Math.round(v.duration * 10) === 4)",
            timeout=60_000,
        )
        project.wait_for_timeout(1000)
        project.screenshot(path=str(tmp_path / "label-studio-task.png"))
        context.close()
