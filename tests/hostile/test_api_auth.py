"""The API needs a token by default (item 7): `labellake api` and `up` make one on first
start (0600 in the home, printed once), `api token --rotate` replaces it, `--no-auth` says
what it opens; only the admin token may name the recorded actor; state files are 0600."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
from pathlib import Path

import httpx
import pytest

from labellake.errors import LabellakeError
from labellake.workflows.labeling.engine import Engine
from tests.portal.browsing import COMMAND, api_process, free_port, wait_for
from tests.portal.test_api import Served


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.slow
def test_api_makes_a_token_on_first_start_and_requires_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with api_process(home, LABELLAKE_PORTAL_AUTH="1") as (url, log):
        token = (home / "api-token").read_text().strip()
        assert len(token) >= 32 and mode(home / "api-token") == 0o600
        assert mode(home / "state.db") == 0o600
        assert httpx.get(f"{url}/batch/show").status_code == 401
        wrong = httpx.get(f"{url}/batch/show", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "labellake api token" in wrong.json()["message"]
        right = httpx.get(f"{url}/batch/show", headers={"Authorization": f"Bearer {token}"})
        assert right.status_code == 200
        assert httpx.get(f"{url}/health").status_code == 200  # health stays open
    assert log.read_text().count(token) == 1  # printed once, on the first start
    for sidecar in ("state.db-wal", "state.db-shm"):
        if (home / sidecar).exists():
            assert mode(home / sidecar) == 0o600, sidecar
    with api_process(home) as (url, log):
        assert httpx.get(
            f"{url}/batch/show", headers={"Authorization": f"Bearer {token}"}
        ).is_success
    assert token not in log.read_text()  # not printed again

    rotated = subprocess.run(
        [*COMMAND, "--home", str(home), "api", "token", "--rotate"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert rotated and rotated != token and mode(home / "api-token") == 0o600
    with api_process(home) as (url, _):
        old = httpx.get(f"{url}/batch/show", headers={"Authorization": f"Bearer {token}"})
        new = httpx.get(f"{url}/batch/show", headers={"Authorization": f"Bearer {rotated}"})
        assert (old.status_code, new.status_code) == (401, 200)


def test_no_auth_warns_and_records_every_call_as_anonymous(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with api_process(home, "--no-auth") as (url, log):
        answer = httpx.post(
            f"{url}/batch/stop",
            json={"batchId": "nope"},
            headers={"X-Labellake-User": "the-boss"},
        )
        assert answer.status_code == 404
    assert "WARNING: --no-auth" in log.read_text()
    assert not (home / "api-token").exists()


def actors(engine: Engine) -> list[str]:
    with sqlite3.connect(engine.state.path) as con:
        return [row[0] for row in con.execute("SELECT actor FROM events ORDER BY rowid")]


def test_only_the_admin_token_names_the_actor(
    engine: Engine,
    request_for,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    served = Served(engine, token="admin-token")
    try:
        admin = {"Authorization": "Bearer admin-token"}
        answer = httpx.post(
            f"{served.url}/batch/create",
            json=request_for("by-alice"),
            headers={**admin, "X-Labellake-User": "alice@example.com"},
            timeout=60,
        )
        assert answer.status_code == 200
        answer = httpx.post(
            f"{served.url}/batch/create",
            json=request_for("bad-actor"),
            headers={**admin, "X-Labellake-User": "../" + "a" * 200},
            timeout=60,
        )
        assert answer.status_code == 400 and "X-Labellake-User" in answer.json()["message"]
    finally:
        served.close()
    open_app = Served(engine, token=None)
    try:
        answer = httpx.post(
            f"{open_app.url}/batch/stop",
            json={"batchId": "by-alice"},
            headers={"X-Labellake-User": "the-boss"},
            timeout=60,
        )
        assert answer.status_code == 200
    finally:
        open_app.close()
    recorded = actors(engine)
    assert recorded[0] == "alice@example.com" and "anonymous" in recorded
    assert "the-boss" not in recorded and not any("\n" in str(a) for a in recorded)


@pytest.mark.parametrize("flag", [[], ["--no-auth"]])
def test_up_requires_a_token_unless_told_not_to(tmp_path: Path, flag: list[str]) -> None:
    home = tmp_path / "home"
    api, portal = free_port(), free_port()
    up = subprocess.Popen(
        [
            *COMMAND,
            "--home",
            str(home),
            "up",
            "--api-port",
            str(api),
            "--portal-port",
            str(portal),
            *flag,
        ],  # fmt: skip
        env={**os.environ, "LABELLAKE_PORTAL_AUTH": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{api}/health")
        answer = httpx.get(f"http://127.0.0.1:{api}/batch/show")
        assert answer.status_code == (200 if flag else 401)
        assert (home / "api-token").exists() != bool(flag)
    finally:
        up.send_signal(signal.SIGTERM)
        _, err = up.communicate(timeout=30)
    if flag:
        assert "WARNING: --no-auth" in err
    else:
        assert err.count((home / "api-token").read_text().strip()) == 1


def test_personal_tokens_record_their_account_and_only_an_admin_names_another(
    engine: Engine,
    request_for,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from labellake.portal.cli.main import main
    from labellake.workflows.people.accounts import Accounts

    accounts = Accounts(engine.state)
    accounts.add("alice", "a long enough password", "analyst")
    accounts.add("root", "a long enough password", "admin")
    with pytest.raises(SystemExit) as exited:
        main(["--home", str(tmp_path), "account", "token", "alice"])
    assert exited.value.code == 0
    alice = capsys.readouterr().out.strip()
    boss = accounts.issue_token("root")
    served = Served(engine, token="admin-token")
    try:

        def create(batch_id: str, token: str, user: str | None = None) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"}
            if user:
                headers["X-Labellake-User"] = user
            return httpx.post(
                f"{served.url}/batch/create",
                json=request_for(batch_id),
                headers=headers,
                timeout=60,
            )

        assert create("by-alice", alice).status_code == 200
        refused = create("as-root", alice, user="root")
        assert refused.status_code == 403 and "only an admin's token" in refused.text
        assert create("for-bob", boss, user="bob").status_code == 200
        assert create("wrong", "llk_not-a-token").status_code == 401
        accounts.remove("alice")
        assert create("after-removal", alice).status_code == 401
    finally:
        served.close()
    assert actors(engine)[:2] == ["alice", "bob"]
    assert "root" not in actors(engine)
    with pytest.raises(LabellakeError, match="worker's; API tokens are for analysts"):
        accounts.add("wendy", "a long enough password", "worker")
        accounts.issue_token("wendy")
