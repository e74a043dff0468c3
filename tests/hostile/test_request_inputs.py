"""Request fields read only the object store, s3:// or allowed_input_roots; the CLI any
local file the user names but the state files; reads are capped; errors never quote files.

Items 1, 2 and 4 of the hostile-input list, through the real API on 127.0.0.1 and the CLI.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from labellake.errors import LabellakeError, TooLargeError
from labellake.lake.inputs import InputPolicy
from labellake.portal.cli.main import main
from labellake.settings import load_settings
from labellake.workflows.compose import open_home
from labellake.workflows.labeling.engine import Engine
from tests.portal.test_api import Served

SECRET = "root:$6$saltsalt$secret-hash-do-not-echo:19000:0:99999:7:::"
MANIFEST = "labelingJobs[0].inputConfig.inputManifestS3Uri"
CONFIG = "labelingJobs[0].labelCategoryConfigS3Uri"


@pytest.fixture
def api(engine: Engine) -> Iterator[httpx.Client]:
    served = Served(engine, token="t0ken")
    headers = {"Authorization": "Bearer t0ken"}
    with httpx.Client(base_url=served.url, timeout=60, headers=headers) as client:
        yield client
    served.close()


def state_dump(engine: Engine) -> list[tuple[Any, ...]]:
    with sqlite3.connect(engine.state.path) as con:
        return [
            row
            for table in ("batches", "levels", "jobs", "events")
            for row in con.execute(f"SELECT * FROM {table} ORDER BY rowid")
        ]


def outside_paths(engine: Engine, tmp_path: Path) -> dict[str, str]:
    """Places a request must never read, by what they are."""
    secret = tmp_path / "shadow"
    secret.write_text(SECRET + "\n")
    link = Path(engine.objects.root) / "looks-inside.manifest"
    link.symlink_to(secret)
    return {
        "etc-passwd": "/etc/passwd",
        "file-uri": f"file://{secret}",
        "climbs-out": f"{engine.objects.root}/../shadow",
        "state-db": str(engine.state.path),
        "state-wal": f"{engine.state.path}-wal",
        "symlink-out": str(link),
        "relative": "shadow",
        "http": "http://127.0.0.1:9/x.manifest",
        "dev-zero": "/dev/zero",
    }


@pytest.mark.parametrize(
    "where", ["etc-passwd", "file-uri", "climbs-out", "state-db", "state-wal", "symlink-out",
              "relative", "http", "dev-zero"]
)  # fmt: skip
@pytest.mark.parametrize("field", [MANIFEST, CONFIG])
def test_api_refuses_uris_outside_the_object_store(
    api: httpx.Client,
    engine: Engine,
    request_for: Callable[..., dict[str, Any]],
    tmp_path: Path,
    where: str,
    field: str,
) -> None:
    accepted = api.post("/batch/create", json=request_for("kept"))
    assert accepted.status_code == 200
    before = state_dump(engine)
    request = request_for("hostile")
    job = request["labelingJobs"][0]
    uri = outside_paths(engine, tmp_path)[where]
    if field == MANIFEST:
        job["inputConfig"]["inputManifestS3Uri"] = uri
    else:
        job["labelCategoryConfigS3Uri"] = uri
    answer = api.post("/batch/create", json=request)
    assert answer.status_code == 400, answer.text
    problems = {problem["field"]: problem["message"] for problem in answer.json()["errors"]}
    reasons = ("outside the object store", "own state files", "relative path", "URI scheme")
    assert any(reason in problems[field] for reason in reasons), problems
    assert "secret-hash" not in answer.text and "root:" not in answer.text
    assert state_dump(engine) == before
    # The batch accepted before is still there, and the store still works.
    assert api.get("/batch/show", params={"batchId": "kept"}).json()["status"] == "IN_PROGRESS"
    assert engine.run_to_end("kept", poll_s=0) == "COMPLETE"


def test_manifest_lines_may_not_point_outside(
    api: httpx.Client, engine: Engine, request_for: Callable[..., dict[str, Any]]
) -> None:
    """A manifest in the object store that names /etc/passwd as a clip, or frames there."""
    objects = Path(engine.objects.root)
    sequence = objects / "escape_seq.json"
    sequence.write_text(json.dumps({"prefix": "/etc/", "frames": [{"frame": "passwd"}]}))
    for ref in ("/etc/passwd", str(sequence)):
        manifest = objects / "escape.manifest"
        manifest.write_text(json.dumps({"source-ref": ref}) + "\n")
        request = request_for("escape")
        request["labelingJobs"][0]["inputConfig"]["inputManifestS3Uri"] = str(manifest)
        answer = api.post("/batch/create", json=request)
        assert answer.status_code == 400, answer.text
        assert answer.json()["errors"][0]["field"] == MANIFEST
        assert "outside the object store" in answer.json()["message"]
        assert "root:" not in answer.text


def test_csv_uri_reads_only_the_object_store(api: httpx.Client, tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text(SECRET + "\nsecond:line\n")
    for uri in ("/etc/passwd", str(secret), "/etc/shadow"):
        answer = api.post("/model", json={"csvUri": uri, "target": "seconds"})
        assert answer.status_code == 400, answer.text
        assert answer.json()["message"].startswith("csvUri:")
        assert "root:" not in answer.text and "secret-hash" not in answer.text


def test_csv_parse_errors_name_the_file_not_its_lines(api: httpx.Client, engine: Engine) -> None:
    """Item 2: pyarrow's message quotes the row it could not parse; ours must not."""
    engine.objects.ensure_root()
    bad = Path(engine.objects.root) / "bad.csv"
    bad.write_text("seconds,frames\n1,2\n" + SECRET.replace(":", ",") + "\n")
    answer = api.post("/model", json={"csvUri": str(bad), "target": "seconds"})
    assert answer.status_code == 400
    message = answer.json()["message"]
    assert message.startswith(f"csvUri: {bad} is not a CSV file that parses")
    assert "secret-hash" not in answer.text and "19000" not in answer.text


@pytest.mark.parametrize(
    "content,status,text",
    [
        (b"\xff\xfe\x00binary\x00\x81" * 100, 400, "is not UTF-8 text (byte 0"),
        (b"[" * 10_000 + b"]" * 10_000, 400, "not JSON (nested too deeply)"),
        (b"{" * 10_000, 400, "not JSON"),
    ],
    ids=["binary", "deep-json", "unclosed-json"],
)
def test_broken_manifests_are_400(
    api: httpx.Client,
    engine: Engine,
    request_for: Callable[..., dict[str, Any]],
    content: bytes,
    status: int,
    text: str,
) -> None:
    """Item 4: a binary or absurdly nested manifest is a 400, not a 500."""
    manifest = Path(engine.objects.root) / "broken.manifest"
    manifest.write_bytes(content)
    request = request_for("broken")
    request["labelingJobs"][0]["inputConfig"]["inputManifestS3Uri"] = str(manifest)
    answer = api.post("/batch/create", json=request)
    assert answer.status_code == status, answer.text
    assert text in answer.json()["message"]


def test_folder_and_oversized_inputs(
    engine: Engine, request_for: Callable[..., dict[str, Any]]
) -> None:
    """Item 4: a folder, or a file over the cap, is refused before it is read."""
    objects = Path(engine.objects.root)
    policy = InputPolicy.build([objects], max_bytes=1000)
    with pytest.raises(LabellakeError, match="is a folder, not a file"):
        policy.read(str(objects), "inputManifestS3Uri")
    big = objects / "big.manifest"
    big.write_bytes(b"x" * 1001)
    with pytest.raises(TooLargeError, match="larger than 1000 bytes; split it"):
        policy.read(str(big), "inputManifestS3Uri")
    assert TooLargeError.status_code == 413
    engine.inputs = policy
    request = request_for("capped")
    request["labelingJobs"][0]["inputConfig"]["inputManifestS3Uri"] = str(big)
    with pytest.raises(LabellakeError, match="larger than 1000 bytes"):
        engine.submit(request)
    # Label configs have a cap of their own: the sample configs are over 100 bytes.
    engine.inputs = InputPolicy.build([objects], max_config_bytes=100)
    with pytest.raises(LabellakeError, match=r"labelCategoryConfigS3Uri: .* larger than 100"):
        engine.submit(request_for("capped"))


def test_api_body_over_the_cap_is_413(api: httpx.Client) -> None:
    from labellake.portal.api import MAX_BODY_BYTES

    answer = api.post("/batch/create", content=b" " * (MAX_BODY_BYTES + 1))
    assert answer.status_code == 413 and "over 16 MiB" in answer.json()["message"]
    deep = b'{"batchId": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    answer = api.post("/batch/stop", content=deep)
    assert answer.status_code == 400 and "nested too deeply" in answer.json()["message"]
    answer = api.post("/batch/create", content=deep)
    assert answer.status_code == 400 and "nested too deeply" in answer.json()["message"]


def test_allowed_input_roots_open_one_more_folder(tmp_path: Path) -> None:
    shared = tmp_path / "shared-drive"
    shared.mkdir()
    (shared / "clips.manifest").write_text("{}\n")
    settings = load_settings(home=tmp_path / "home", allowed_input_roots=[str(shared)])
    home = open_home(settings)
    assert home.input_policy().read(str(shared / "clips.manifest"), "f") == b"{}\n"
    with pytest.raises(LabellakeError, match="outside the object store"):
        home.input_policy().read(str(tmp_path / "elsewhere"), "f")
    with pytest.raises(LabellakeError, match="labellake's own state files"):
        home.input_policy(local_files=True).read(str(home.state_db), "f")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_cli_reads_the_users_files_but_never_the_state_files(
    capsys: pytest.CaptureFixture[str],
    engine: Engine,
    request_for: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    home = tmp_path  # the engine's objects/ and state.db live here, as in a home
    mine = tmp_path / "my-files"
    mine.mkdir()
    manifest = mine / "clips.manifest"
    manifest.write_bytes(Path(request_for("x")["labelingJobs"][0]["inputConfig"][
        "inputManifestS3Uri"]).read_bytes())  # fmt: skip
    request = request_for("from-cli")
    request["labelingJobs"][0]["inputConfig"]["inputManifestS3Uri"] = str(manifest)
    request["labelingJobs"][1]["inputConfig"]["inputManifestS3Uri"] = str(manifest)
    (mine / "req.json").write_text(json.dumps(request))
    code, out, err = run(
        capsys, "--home", str(home), "batch", "create", "--file", str(mine / "req.json")
    )  # noqa: E501
    assert code == 0, err
    assert json.loads(out)["batchId"] == "from-cli"

    request = request_for("steals-state")
    request["labelingJobs"][0]["inputConfig"]["inputManifestS3Uri"] = str(home / "state.db")
    (mine / "req.json").write_text(json.dumps(request))
    code, _, err = run(
        capsys, "--home", str(home), "batch", "create", "--file", str(mine / "req.json")
    )  # noqa: E501
    assert code == 2 and err.count("\n") == 1
    assert "labellake's own state files" in err
    code, _, err = run(capsys, "--home", str(home), "model", "train", "--csv",
                       str(home / "state.db"), "--target", "seconds")  # fmt: skip
    assert code == 2 and "labellake's own state files" in err and err.count("\n") == 1


def test_cli_binary_and_directory_manifests_are_one_line(
    capsys: pytest.CaptureFixture[str],
    engine: Engine,
    request_for: Callable[..., dict[str, Any]],
    tmp_path: Path,
) -> None:
    binary = tmp_path / "binary.manifest"
    binary.write_bytes(os.urandom(4096) + b"\xff")
    for uri, text in ((binary, "not UTF-8 text"), (tmp_path, "is a folder"),
                      ("/dev/zero", "not a regular file")):  # fmt: skip
        request = request_for("cli-broken")
        request["labelingJobs"][0]["inputConfig"]["inputManifestS3Uri"] = str(uri)
        (tmp_path / "req.json").write_text(json.dumps(request))
        code, _, err = run(
            capsys, "--home", str(tmp_path), "batch", "create", "--file", str(tmp_path / "req.json")
        )  # noqa: E501
        assert code == 2 and err.count("\n") == 1 and text in err, err
