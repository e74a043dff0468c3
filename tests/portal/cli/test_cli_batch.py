from __future__ import annotations

import json
from pathlib import Path

import pytest

from labellake.lake import ObjectStore
from labellake.portal.cli.main import main
from labellake.workflows.labeling import formats
from labellake.workflows.samples import synthetic
from labellake.workflows.samples.demo import demo_request


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


@pytest.mark.slow
def test_demo_then_show(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = str(tmp_path / "h")
    code, out, err = run(capsys, "--home", home, "demo", "--batch-id", "demo1")
    assert code == 0, err
    assert "batch demo1 COMPLETE" in out
    code, out, _ = run(capsys, "--home", home, "batch", "show", "--batch-id", "demo1")
    detail = json.loads(out)
    assert detail["status"] == "COMPLETE" and len(detail["levels"]) == 2
    jobs = [job for level in detail["levels"] for job in level["jobLevels"]]
    assert len(jobs) == 4
    for job in jobs:
        text = Path(job["jobOutputS3Uri"]).read_text()
        assert len(formats.parse_manifest(text, job["jobOutputS3Uri"])) == 2
    code, _, err = run(capsys, "--home", home, "demo", "--batch-id", "demo1")
    assert code == 2 and "already used" in err and err.count("\n") == 1
    code, out, _ = run(capsys, "--home", home, "demo", "--clips", "1", "--frames", "3")
    assert code == 0 and "batch demo2 COMPLETE" in out


def test_create_wait_stop_retry_delete(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = tmp_path / "h"
    samples = synthetic.generate(
        ObjectStore.from_uri(home / "objects"), dataset="s", clips=1, frames=4
    )
    request = tmp_path / "req.json"
    request.write_text(json.dumps(demo_request("cli1", samples)))
    code, out, _ = run(capsys, "--home", str(home), "batch", "create", "--file", str(request))
    assert (code, json.loads(out)) == (0, {"batchId": "cli1", "status": "IN_PROGRESS"})
    code, out, _ = run(capsys, "--home", str(home), "batch", "stop", "--batch-id", "cli1")
    assert code == 0 and json.loads(out)["status"] == "STOPPED"
    code, _, err = run(capsys, "--home", str(home), "batch", "stop", "--batch-id", "cli1")
    assert code == 2 and "only a batch that is IN_PROGRESS" in err
    code, out, _ = run(capsys, "--home", str(home), "batch", "retry", "--batch-id", "cli1")
    assert code == 0
    request.write_text(json.dumps(demo_request("cli2", samples)))
    code, out, err = run(
        capsys, "--home", str(home), "batch", "create", "--file", str(request), "--wait"
    )
    assert code == 0, err
    assert json.loads(out)["status"] == "COMPLETE"
    # The runner of --wait drove the retried batch too.
    code, out, _ = run(capsys, "--home", str(home), "batch", "show")
    assert sorted(json.loads(out)["COMPLETE"]) == ["cli1", "cli2"]
    code, _, err = run(capsys, "--home", str(home), "batch", "delete", "--batch-id", "cli1")
    assert code == 2 and "--yes" in err
    code, out, _ = run(
        capsys, "--home", str(home), "batch", "delete", "--batch-id", "cli1", "--dry-run"
    )
    assert json.loads(out)["dryRun"] is True
    code, out, _ = run(
        capsys, "--home", str(home), "batch", "delete", "--batch-id", "cli1", "--yes"
    )
    assert code == 0 and json.loads(out)["jobs"]
    code, _, err = run(capsys, "--home", str(home), "batch", "show", "--batch-id", "cli1")
    assert code == 2 and "unknown batch 'cli1'" in err


@pytest.mark.parametrize(
    "content,message",
    [
        ("{not json", "req.json: request: malformed JSON at line 1"),
        (
            '{"batchId": "x", "labelingJobs": [{"jobName": "x-a", "jobModality": "Nope", '
            '"jobLevel": 1, "labelCategoryConfigS3Uri": "c", "inputConfig": '
            '{"inputManifestS3Uri": "m"}}]}',
            "labelingJobs[0].jobModality: unknown modality",
        ),
        (
            '{"batchId": "x", "labelingJobs": [{"jobName": "x-a", "jobModality": '
            '"VideoObjectTracking", "jobLevel": 1, "labelCategoryConfigS3Uri": "c", '
            '"inputConfig": {"inputManifestS3Uri": "m"}}, {"jobName": "x-b", "jobModality": '
            '"VideoObjectTrackingAudit", "jobLevel": 2, "inputConfig": {"chainFromJobName": '
            '"x-a", "qaFilter": {"mode": "risk", "auditBudget": 1.5}}}]}',
            "labelingJobs[1].inputConfig.qaFilter.auditBudget: 1.5 is not a share",
        ),
        (
            '{"batchId": "x", "labelingJobs": [{"jobName": "x-a", "jobModality": '
            '"VideoObjectTracking", "jobLevel": 1, "labelCategoryConfigS3Uri": "c", '
            '"inputConfig": {"inputManifestS3Uri": "m"}, "consensusCount": 1}]}',
            "labelingJobs[0].consensusCount: 1: a consensus needs at least 2 workers",
        ),
        (
            '{"batchId": "x", "goldManifestS3Uri": "g", "labelingJobs": [{"jobName": "x-a", '
            '"jobModality": "VideoObjectTracking", "jobLevel": 1, "labelCategoryConfigS3Uri": '
            '"c", "inputConfig": {"inputManifestS3Uri": "m"}, "goldRate": -0.5}]}',
            "labelingJobs[0].goldRate: -0.5 is not a share of the tasks",
        ),
    ],
)
def test_bad_request_files_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    request = tmp_path / "req.json"
    request.write_text(content)
    code, out, err = run(
        capsys, "--home", str(tmp_path / "h"), "batch", "create", "--file", str(request)
    )
    assert code == 2 and out == "" and message in err and err.count("\n") == 1


def test_etl_run_and_export(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = str(tmp_path / "h")
    run(capsys, "--home", home, "demo", "--batch-id", "d1", "--clips", "1", "--frames", "6")
    code, out, _ = run(capsys, "--home", home, "etl", "run")
    assert code == 0 and "0 job(s) loaded, 4 already up to date" in out
    code, out, _ = run(
        capsys,
        "--home",
        home,
        "export",
        "--batch",
        "d1",
        "--format",
        "mot",
        "--out",
        str(tmp_path / "mot"),
    )
    assert code == 0 and "d1-vehicle-audit, d1-lane-audit" in out
    assert (tmp_path / "mot/clip-01/gt/gt.txt").read_text().startswith("1,")
    code, _, err = run(
        capsys,
        "--home",
        home,
        "export",
        "--job",
        "d1-vehicle",
        "--batch",
        "d1",
        "--format",
        "coco",
        "--out",
        str(tmp_path / "c"),
    )
    assert code == 2 and "--job NAME" in err


def test_create_on_the_local_workforce(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = tmp_path / "h"
    samples = synthetic.generate(
        ObjectStore.from_uri(home / "objects"), dataset="s", clips=1, frames=4
    )
    request = tmp_path / "req.json"
    request.write_text(json.dumps({**demo_request("people", samples), "backend": "local"}))
    code, _, err = run(capsys, "--home", str(home), "batch", "create", "--file", str(request))
    assert code == 2 and err.count("\n") == 1
    assert "labelingJobs[0].workteamArn: no local work team 'first-level'" in err
    for team in ("first-level", "second-level"):
        assert run(capsys, "--home", str(home), "workforce", "add-team", team)[0] == 0
    code, out, err = run(capsys, "--home", str(home), "batch", "create", "--file", str(request))
    assert code == 0, err
    code, out, _ = run(capsys, "--home", str(home), "batch", "show", "--batch-id", "people")
    jobs = [job for level in json.loads(out)["levels"] for job in level["jobLevels"]]
    assert {job["backend"] for job in jobs} == {"local"}
