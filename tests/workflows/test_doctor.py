"""The doctor's checks, each as it comes, on a good home, a damaged lake and no home."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from labellake.lake import Lake
from labellake.settings import load_settings
from labellake.workflows.doctor import run_checks


def test_a_fresh_home_passes_every_check(tmp_path: Path) -> None:
    checks = list(run_checks(load_settings(home=tmp_path / "home")))
    assert [(c.name, c.ok) for c in checks] == [
        ("home", True),
        ("object store", True),
        ("lake", True),
        ("state store", True),
    ]
    assert checks[0].text == str(tmp_path / "home")
    assert checks[1].text.endswith("objects is writable")
    assert not (tmp_path / "home/objects/.doctor-probe").exists()


def test_damaged_lake_files_are_named_and_the_rest_still_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    lake = Lake.from_uri(str(home / "lake"))
    lake.write("annotations", "job-a", pa.table({"job_name": ["job-a"]}))
    (damaged,) = (home / "lake/annotations").rglob("*.parquet")
    damaged.write_bytes(b"not parquet at all")
    checks = {c.name: c for c in run_checks(load_settings(home=home))}
    found = checks["lake"]
    assert not found.ok and found.text.startswith("1 damaged file(s); run `labellake lake repair`")
    assert list(found.damaged) == [str(damaged)]
    assert checks["state store"].ok


def test_a_home_that_cannot_be_made_stops_the_checks(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    checks = list(run_checks(load_settings(home=blocker / "home")))
    assert [(c.name, c.ok) for c in checks] == [("home", False)]
    assert "cannot create home directory" in checks[0].text
