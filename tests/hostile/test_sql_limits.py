"""User SQL runs under a time limit and a memory cap, and a stopped query stops nothing else.

Every way user SQL comes in (`labellake sql`, the portal's SQL page, the `query` field of
POST /model and /hpo) goes through Lake.query_user, which the home builds with the
settings sql_timeout_s and sql_memory_limit. A query past either limit ends with one
LabellakeError naming the limit and the setting to change; the lake, the CLI and the API
go on answering.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from labellake.errors import LabellakeError
from labellake.lake import Lake, ObjectStore
from labellake.portal.api import create_app
from labellake.portal.cli.main import main
from labellake.settings import load_settings
from labellake.workflows.compose import build_engine, model_workflow, open_home

# 10^10 pairs: tens of seconds on a laptop, seconds on a big server; no memory to speak of.
SLOW = (
    "SELECT count(*) AS n FROM (SELECT unnest(range(100000)) AS a) x, "
    "(SELECT unnest(range(100000)) AS b) y WHERE a * b = 7"
)
# A hash aggregate over 9 million groups: over 64MB, though spilling to disk would fit it.
HUNGRY = (
    "SELECT count(*) AS n FROM (SELECT a * 3000 + b AS k, count(*) AS c "
    "FROM (SELECT unnest(range(3000)) AS a) x, (SELECT unnest(range(3000)) AS b) y GROUP BY k)"
)
TIMEOUT_S = 0.5
SLACK_S = 5.0  # a busy CI machine answers an interrupt late, but not this late


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_a_long_query_is_stopped_at_sql_timeout_s(tmp_path: Path) -> None:
    lake = Lake(ObjectStore.from_uri(tmp_path / "lake"), sql_timeout_s=TIMEOUT_S)
    errors: list[LabellakeError] = []

    def slow() -> None:
        try:
            lake.query_user(SLOW)
        except LabellakeError as exc:
            errors.append(exc)

    started = time.monotonic()
    running = threading.Thread(target=slow, daemon=True)
    running.start()
    # Quick queries beside it are neither held up nor interrupted with it.
    while running.is_alive():
        assert lake.query_user("SELECT count(*) AS n FROM annotations").to_pylist() == [{"n": 0}]
        assert time.monotonic() - started < TIMEOUT_S + SLACK_S
    [stopped] = errors
    assert "sql_timeout_s" in stopped.message
    assert f"longer than {TIMEOUT_S:g} s" in stopped.message
    # The lake goes on answering, and no late interrupt reaches the next query.
    for _ in range(3):
        assert lake.query_user("SELECT count(*) AS n FROM annotations").to_pylist() == [{"n": 0}]
    assert lake.query("SELECT 1 AS one").to_pylist() == [{"one": 1}]


def test_a_query_over_sql_memory_limit_is_stopped_and_does_not_spill(
    tmp_path: Path, isolated_env: Path
) -> None:
    lake = Lake(ObjectStore.from_uri(tmp_path / "lake"), sql_memory_limit="64MB")
    with pytest.raises(LabellakeError, match="sql_memory_limit") as stopped:
        lake.query_user(HUNGRY)
    assert "(64MB)" in stopped.value.message
    # DuckDB spills to ./.tmp unless told not to: then the cap would be no cap.
    assert list(isolated_env.iterdir()) == []
    assert lake.query_user("SELECT count(*) AS n FROM annotations").to_pylist() == [{"n": 0}]
    # The cap is on user SQL only: the portal's own queries keep DuckDB's default.
    [user] = lake.query_user("SELECT current_setting('memory_limit') AS m").to_pylist()
    [own] = lake.query("SELECT current_setting('memory_limit') AS m").to_pylist()
    assert user["m"].endswith("MiB") and user != own


def test_a_memory_limit_duckdb_cannot_read_names_the_setting(tmp_path: Path) -> None:
    lake = Lake(ObjectStore.from_uri(tmp_path / "lake"), sql_memory_limit="lots")
    with pytest.raises(LabellakeError, match="sql_memory_limit 'lots'.*'4GB'"):
        lake.query_user("SELECT count(*) AS n FROM annotations")


def test_the_default_memory_cap_is_a_quarter_of_ram(tmp_path: Path) -> None:
    capped = Lake.from_uri(str(tmp_path / "lake"))
    [user] = capped.query_user("SELECT current_setting('memory_limit') AS m").to_pylist()
    [own] = capped.query("SELECT current_setting('memory_limit') AS m").to_pylist()
    assert user != own  # DuckDB's own default is 80% of RAM


@pytest.mark.parametrize(
    ("variable", "value", "query", "message"),
    [
        ("LABELLAKE_SQL_TIMEOUT_S", str(TIMEOUT_S), SLOW, "raise the setting sql_timeout_s"),
        ("LABELLAKE_SQL_MEMORY_LIMIT", "64MB", HUNGRY, "raise the setting sql_memory_limit"),
    ],
    ids=["timeout", "memory"],
)
def test_labellake_sql_stops_at_the_limits_in_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    variable: str,
    value: str,
    query: str,
    message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    started = time.monotonic()
    code, out, err = run(capsys, "--home", str(tmp_path / "home"), "sql", query)
    assert time.monotonic() - started < TIMEOUT_S + SLACK_S
    assert (code, out) == (2, "")
    assert err.startswith("labellake: error: ") and err.count("\n") == 1 and message in err


@pytest.fixture
def api(tmp_path: Path) -> Iterator[httpx.Client]:
    """The API of a home with sql_timeout_s = 0.5, served over HTTP as `labellake up` does."""
    home = open_home(load_settings(home=tmp_path / "home", sql_timeout_s=TIMEOUT_S), serving=True)
    app = create_app(build_engine(home), models=model_workflow(home))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        yield client
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize("path", ["/model", "/hpo"])
def test_the_api_stops_a_slow_query_field_and_keeps_serving(api: httpx.Client, path: str) -> None:
    answers: list[httpx.Response] = []
    slow = threading.Thread(
        target=lambda: answers.append(api.post(path, json={"query": SLOW, "target": "n"}))
    )
    started = time.monotonic()
    slow.start()
    time.sleep(TIMEOUT_S / 5)
    assert api.get("/model").status_code == 200  # answered while the query runs
    slow.join(timeout=TIMEOUT_S + SLACK_S + 30)
    assert time.monotonic() - started < TIMEOUT_S + SLACK_S
    [answer] = answers
    assert answer.status_code == 400, answer.text
    assert "sql_timeout_s" in answer.text and "was stopped" in answer.text
    # Nothing was recorded, and the server still answers, queries included.
    assert api.get("/model").json()["runs"] == []
    again = api.post(path, json={"query": "SELECT 1.0 AS n", "target": "n"})
    assert again.status_code == 400 and "at least 10 are needed" in again.text
