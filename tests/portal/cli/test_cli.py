from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from labellake.lake import Lake, get_table
from labellake.portal.cli.main import cli, main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_console_script_answers_count_on_an_empty_lake(home: Path) -> None:
    script = Path(sys.executable).parent / "labellake"
    done = subprocess.run(
        [
            str(script),
            "--home",
            str(home),
            "sql",
            "select count(*) as n from annotations",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, '[{"n": 0}]\n', "")
    assert sorted(p.name for p in home.iterdir()) == ["lake", "objects"]


def test_copy_is_refused_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    Lake.from_uri(str(home / "lake")).write(
        "annotations", "job-a", pa.table({"job_name": ["job-a"]})
    )
    before = snapshot(home)
    target = tmp_path / "out.csv"
    code, out, err = run(capsys, "--home", str(home), "sql", f"copy annotations to '{target}'")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "COPY is refused" in err
    assert not target.exists()
    assert snapshot(home) == before


@pytest.mark.parametrize(
    "query,message",
    [
        ("select * from annotation", "unknown table 'annotation'"),
        ("select * frm annotations", "malformed query"),
        ("drop view annotations", "DROP is refused"),
        ("attach 'x.db' as x", "ATTACH is refused"),
        ("install httpfs", "INSTALL is refused"),
        ("load httpfs", "LOAD is refused"),
        ("set threads = 1", "SET is refused"),
        ("select * from read_csv('/etc/passwd')", "read_csv() is refused"),
    ],
)
def test_bad_queries_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], home: Path, query: str, message: str
) -> None:
    code, out, err = run(capsys, "--home", str(home), "sql", query)
    assert code == 2 and out == ""
    assert err.startswith("labellake: error: ") and message in err and err.count("\n") == 1


def test_sql_formats(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    Lake.from_uri(str(home / "lake")).write(
        "jobs",
        "b1",
        pa.table(
            {"batch_id": ["b1", "b1"], "job_name": ["b1-vehicle", "b1-lane"], "level": [1, 1]}
        ),
    )
    query = "select job_name, level from jobs order by job_name"
    code, out, _ = run(capsys, "--home", str(home), "sql", query, "--format", "json")
    assert json.loads(out) == [
        {"job_name": "b1-lane", "level": 1},
        {"job_name": "b1-vehicle", "level": 1},
    ]
    code, out, _ = run(capsys, "--home", str(home), "sql", query, "--format", "csv")
    assert out == "job_name,level\nb1-lane,1\nb1-vehicle,1\n"
    code, out, _ = run(capsys, "--home", str(home), "sql", query)
    assert "b1-vehicle" in out and "(2 rows)" in out


def test_sql_from_a_file(capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path) -> None:
    query = tmp_path / "q.sql"
    query.write_text("select 41 + 1 as answer")
    code, out, _ = run(capsys, "--home", str(home), "sql", "--file", str(query), "--format", "json")
    assert (code, json.loads(out)) == (0, [{"answer": 42}])


def test_tables_json(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    Lake.from_uri(str(home / "lake")).write(
        "annotations", "job-a", pa.table({"job_name": ["job-a"] * 3})
    )
    code, out, _ = run(capsys, "--home", str(home), "tables", "--format", "json")
    tables = {t["name"]: t for t in json.loads(out)}
    assert code == 0
    assert set(tables["annotations"]) == {"name", "rows", "columns"}
    assert tables["annotations"]["rows"] == 3 and tables["labels"]["rows"] == 0
    points = next(c for c in tables["annotations"]["columns"] if c["name"] == "points")
    assert points == {
        "name": "points",
        "type": "STRUCT(x DOUBLE, y DOUBLE)[]",
        "description": get_table("annotations").column("points").description,
    }


def test_tables_text(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    code, out, _ = run(capsys, "--home", str(home), "tables")
    assert code == 0
    assert "annotations: 0 rows - One row per shape on a frame." in out
    assert "Track id, stable across frames." in out


def test_corrupt_parquet_file_is_one_line_and_untouched(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    bad = home / "lake/annotations/job_name=j/j.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"garbage")
    before = snapshot(home)
    for argv in (["sql", "select count(*) from annotations"], ["tables"]):
        code, out, err = run(capsys, "--home", str(home), *argv)
        assert code == 2 and err.count("\n") == 1
        assert f"cannot read {bad}" in err
    assert snapshot(home) == before


def test_home_that_cannot_be_created(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for argv in (["sql", "select 1"], ["tables"], ["doctor"]):
        code, _, err = run(capsys, "--home", str(blocker / "home"), *argv)
        assert code == 2 and err.count("\n") == 1
        assert f"cannot create home directory {blocker / 'home'}" in err


def test_doctor_reports_configuration_and_checks(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    code, out, err = run(capsys, "--home", str(home), "doctor")
    assert (code, err) == (0, "")
    assert f"home              {home}" in out
    assert f"state_db          {home / 'state.db'}" in out
    assert "ok      state store" in out and "all checks passed" in out
    assert (home / "state.db").exists()


def test_doctor_uses_env_and_toml(
    capsys: pytest.CaptureFixture[str],
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    (isolated_env / "labellake.toml").write_text(
        f'home = "{tmp_path / "toml-home"}"\naws_region = "eu-central-1"\n'
    )
    monkeypatch.setenv("LABELLAKE_AWS_REGION", "ap-south-1")
    code, out, _ = run(capsys, "doctor")
    assert code == 0
    assert f"home              {tmp_path / 'toml-home'}" in out
    assert "aws_region        ap-south-1" in out


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    for argv in (["nocommand"], ["sql", "select 1", "--format", "xml"], ["tables", "--bogus"]):
        code, out, err = run(capsys, "--home", str(home), *argv)
        assert code == 2 and out == "" and err.count("\n") == 1, argv


def _commands(group, path=(), leaves_only=False):  # type: ignore[no-untyped-def]
    children = getattr(group, "commands", {})
    # A group that runs on its own (api) is a command too.
    if not (leaves_only and children) or getattr(group, "invoke_without_command", False):
        yield path
    for name, command in children.items():
        yield from _commands(command, (*path, name), leaves_only)


@pytest.mark.parametrize("path", list(_commands(cli)), ids=lambda p: " ".join(p) or "labellake")
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], path: tuple[str, ...]) -> None:
    code, out, _ = run(capsys, *path, "--help")
    assert code == 0 and "Usage: labellake" in out


# One invocation per command, with the exit code it gives on a fresh home; a new command
# must add itself here. Long-running commands (runner, api) are exercised in their own tests.
INVOCATIONS: dict[tuple[str, ...], tuple[list[str], int]] = {
    ("sql",): (["select 1"], 0),
    ("tables",): ([], 0),
    ("doctor",): ([], 0),
    ("batch", "create"): (["--file", "missing.json"], 2),
    ("batch", "show"): ([], 0),
    ("batch", "stop"): (["--batch-id", "nope"], 2),
    ("batch", "retry"): (["--batch-id", "nope"], 2),
    ("batch", "delete"): (["--batch-id", "nope", "--dry-run"], 2),
    ("demo",): (["--clips", "1", "--frames", "4"], 0),
    ("import", "video"): (["missing.mp4"], 2),
    ("import", "mot"): (["missing-folder"], 2),
    ("etl", "run"): ([], 0),
    ("lake", "repair"): ([], 0),
    ("import", "groundtruth"): (["missing-folder"], 2),
    ("import", "cvat"): (["missing.xml"], 2),
    ("import", "labelstudio"): (["missing.json"], 2),
    ("import", "coco"): (["missing.json"], 2),
    ("etl", "check"): ([], 2),  # nothing loaded yet
    ("export",): (["--job", "nope", "--format", "coco", "--out", "exported"], 2),
    ("documents", "ingest"): (["missing-folder"], 2),
    ("bench", "run"): (["--batch-sizes", "0"], 2),
    ("bench", "published"): ([], 0),
    ("documents", "sample"): ([], 0),
    ("workforce", "add-team"): (["first-level"], 0),
    ("workforce", "add-worker"): (["--team", "nope", "--name", "ann", "--invite"], 2),
    ("workforce", "show"): ([], 0),
    ("account", "add"): (["alice"], 2),  # no terminal to ask for the password
    ("account", "list"): ([], 0),
    ("account", "passwd"): (["nobody", "--password-stdin"], 2),
    ("account", "remove"): (["nobody"], 2),
    ("account", "token"): (["nobody"], 2),
    ("aws", "template"): ([], 0),
    ("aws", "bootstrap"): ([], 2),  # AWS_ENDPOINT_URL points at a closed port in the tests
    ("aws", "deploy"): ([], 2),
    ("worker",): ([], 2),  # the embedded engine has no workers
    ("model", "train"): ([], 2),  # a fresh lake has no tasks to learn from
    ("model", "hpo"): (["--trials", "2"], 2),
    ("model", "list"): ([], 0),
    ("model", "infer"): (["--input", "{}"], 2),  # no endpoint yet
    ("api", "token"): ([], 0),
}
LONG_RUNNING = {("runner",), ("api",), ("up",), ("documents", "watch")}


def test_every_command_has_an_invocation() -> None:
    assert set(_commands(cli, leaves_only=True)) == set(INVOCATIONS) | LONG_RUNNING


@pytest.mark.parametrize("path", list(INVOCATIONS), ids=" ".join)
def test_home_flag_works_with_every_command(
    capsys: pytest.CaptureFixture[str], home: Path, path: tuple[str, ...]
) -> None:
    args, expected = INVOCATIONS[path]
    code, _, err = run(capsys, "--home", str(home), *path, *args)
    assert code == expected, err
    if path[0] not in ("aws", "worker"):  # these reach AWS, not the home
        assert (home / "lake").is_dir()
    assert not Path("~/.labellake").expanduser().exists()


@pytest.mark.slow
def test_accounts_take_passwords_from_stdin_only(home: Path) -> None:
    script = str(Path(sys.executable).parent / "labellake")

    def labellake(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [script, "--home", str(home), *argv],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )

    added = labellake(
        "account", "add", "alice", "--role", "admin", "--password-stdin", stdin="pw-of-alice\n"
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["role"] == "admin"
    again = labellake("account", "add", "Alice", "--password-stdin", stdin="another-pw\n")
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "exists" in again.stderr
    empty = labellake("account", "add", "bob", "--password-stdin", stdin="")
    assert empty.returncode == 2 and "no password" in empty.stderr
    listed = labellake("account", "list")
    assert [a["name"] for a in json.loads(listed.stdout)] == ["alice"]
    assert "pw-of-alice" not in listed.stdout and "argon2" not in listed.stdout
    from labellake.workflows.people.accounts import Accounts
    from labellake.workflows.statedb import StateDb

    assert Accounts(StateDb(home / "state.db")).sign_in("alice", "pw-of-alice")["role"] == "admin"


def test_documents_ingest_goes_on_past_bad_documents(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    assert run(capsys, "--home", str(home), "documents", "sample", "--out", str(folder))[0] == 0
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    code, out, _ = run(capsys, "--home", str(home), "documents", "ingest", str(folder))
    assert code == 0
    assert "broken: error: " in out and "4 document(s) ingested" in out
    assert "1 could not be read" in out
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "broken.pdf").write_bytes(b"nothing")
    code, _, err = run(capsys, "--home", str(home), "documents", "ingest", str(only_bad))
    assert code == 2 and err.count("\n") == 1 and "no document could be read" in err
