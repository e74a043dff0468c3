"""A damaged Parquet file in the lake is named, never a traceback, and `lake repair` fixes it.

Every read error names the damaged file and the fix (`labellake lake repair`); `tables` and
`doctor` list what they can and name the damaged files; the repair moves them out of the
lake (a copy is kept) and rebuilds the tables from the state store and the raw zone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from labellake.errors import DamagedLakeError
from labellake.lake import Lake
from labellake.portal.api import create_app
from labellake.portal.cli.main import main
from labellake.workflows.labeling.engine import Engine

BATCHES_FILE = "batches/b1.parquet"
ANNOTATIONS_FILE = "annotations/job_name=b1-vehicle/b1-vehicle.parquet"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def garble(path: Path, how: str) -> bytes:
    """Junk over the middle of the file, or its second half cut off; returns the new bytes."""
    data = path.read_bytes()
    middle = len(data) // 2
    if how == "truncated":
        damaged = data[:middle]
    else:
        damaged = data[: middle - 64] + b"\xff\x00junk" * 22 + data[middle + 64 :]
    path.write_bytes(damaged)
    return damaged


def rows(home: Path, table: str) -> list[str]:
    """Every row of a table, as sorted JSON lines (a fresh lake: nothing cached)."""
    found = Lake.from_uri(str(home / "lake")).query(f"SELECT * FROM {table}").to_pylist()
    return sorted(json.dumps(row, sort_keys=True, default=str) for row in found)


@pytest.mark.parametrize("how", ["middle", "truncated"])
def test_a_damaged_batches_file_is_named_and_repaired(
    capsys: pytest.CaptureFixture[str], finished_home: Path, how: str
) -> None:
    home = str(finished_home)
    before = {table: rows(finished_home, table) for table in ("batches", "jobs")}
    assert len(before["batches"]) == 1 and len(before["jobs"]) == 4
    damaged = garble(finished_home / "lake" / BATCHES_FILE, how)
    bad = str(finished_home / "lake" / BATCHES_FILE)

    code, out, err = run(capsys, "--home", home, "sql", "select * from batches")
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert f"cannot read {bad}" in err and "run `labellake lake repair`" in err

    code, out, err = run(capsys, "--home", home, "tables")
    assert code == 2 and err.count("\n") == 1 and bad in err
    assert "jobs: 4 rows" in out and "batches: unreadable" in out

    code, out, err = run(capsys, "--home", home, "doctor")
    assert code == 2 and err.count("\n") == 1 and "damaged" in err
    assert f"damaged {bad}" in out and "ok      state store" in out

    code, out, err = run(capsys, "--home", home, "lake", "repair")
    assert (code, err) == (0, ""), err
    assert f"damaged {bad}" in out and "1 batch(es) rebuilt from the state store" in out
    kept = list((finished_home / "quarantine").rglob("b1.parquet"))
    assert [path.read_bytes() for path in kept] == [damaged]  # nothing is lost
    assert {table: rows(finished_home, table) for table in ("batches", "jobs")} == before

    code, out, _ = run(capsys, "--home", home, "doctor")
    assert code == 0 and "all checks passed" in out


def test_a_damaged_annotations_file_is_rebuilt_from_the_raw_zone(
    capsys: pytest.CaptureFixture[str], finished_home: Path
) -> None:
    home = str(finished_home)
    before = rows(finished_home, "annotations")
    assert before
    garble(finished_home / "lake" / ANNOTATIONS_FILE, "middle")
    bad = str(finished_home / "lake" / ANNOTATIONS_FILE)

    code, _, err = run(capsys, "--home", home, "sql", "select count(*) from annotations")
    assert code == 2 and err.count("\n") == 1 and f"cannot read {bad}" in err

    code, out, err = run(capsys, "--home", home, "lake", "repair")
    assert (code, err) == (0, ""), err
    assert f"damaged {bad}" in out and "4 job(s) reloaded from the raw zone" in out
    assert rows(finished_home, "annotations") == before


def test_reading_a_damaged_unit_names_the_file(finished_home: Path) -> None:
    lake = Lake.from_uri(str(finished_home / "lake"))
    garble(finished_home / "lake" / ANNOTATIONS_FILE, "truncated")
    with pytest.raises(DamagedLakeError, match="labellake lake repair") as raised:
        lake.read_unit("annotations", "b1-vehicle")
    assert raised.value.files == (ANNOTATIONS_FILE,)


def test_the_api_answers_503_naming_the_damaged_file(
    finished_home: Path, loading_engine: Engine
) -> None:
    garble(finished_home / "lake" / ANNOTATIONS_FILE, "middle")
    with TestClient(create_app(loading_engine)) as api:
        answer = api.post("/model", json={})
    assert answer.status_code == 503
    message = answer.json()["message"]
    assert ANNOTATIONS_FILE in message and "labellake lake repair" in message
