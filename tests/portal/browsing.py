"""Serving the portal and driving Debian's chromium for the browser tests.

Uses Debian's chromium (`apt-get install chromium`, done by .ci/run) through
playwright's Python API; it never downloads a browser.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
COMMAND = [sys.executable, "-m", "labellake.portal.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


READY = "#labellake-ready"  # drawn by the portal after everything else on a page


def run_number(page: Any) -> int:
    """The number of the page's latest finished script run (0 before the first)."""
    marker = page.locator(READY)
    return int(marker.first.get_attribute("data-run") or 0) if marker.count() else 0


def wait_ready(
    page: Any, title: str | None = None, after: int = 0, timeout_ms: int = 60_000
) -> int:
    """Wait for the portal's readiness signal: the page titled ``title`` has drawn all it
    draws, in a script run later than ``after``; returns that run's number."""
    selector = READY + (f'[data-page="{title}"]' if title else "")
    page.wait_for_function(
        "([selector, after]) => { const m = document.querySelector(selector);"
        " return m !== null && Number(m.dataset.run) > after; }",
        arg=[selector, after],
        timeout=timeout_ms,
    )
    return run_number(page)


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            assert time.monotonic() < deadline, f"{url} did not come up"
            time.sleep(0.3)


@contextlib.contextmanager
def serve(home: Path, **settings: str) -> Iterator[dict[str, object]]:
    """`labellake up` on ``home`` with LABELLAKE_* ``settings``, stopped with SIGTERM after."""
    env = {
        **os.environ,
        "LABELLAKE_HOME": str(home),
        "LABELLAKE_SIMULATED_JOB_SECONDS": "0.5",
        "LABELLAKE_RUNNER_POLL_S": "0.2",
        **{f"LABELLAKE_{name.upper()}": value for name, value in settings.items()},
    }
    api, portal = free_port(), free_port()
    up = subprocess.Popen(
        [*COMMAND, "up", "--api-port", str(api), "--portal-port", str(portal)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{api}/health")
        wait_for(f"http://127.0.0.1:{portal}/")
        yield {
            "home": home,
            "api": f"http://127.0.0.1:{api}",
            "portal": f"http://127.0.0.1:{portal}",
            # `up` made the API's token on its first start and keeps it in the home.
            "token": (home / "api-token").read_text().strip(),
        }
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(timeout=30)


@contextlib.contextmanager
def api_process(home: Path, *flags: str, **env: str) -> Iterator[tuple[str, Path]]:
    """`labellake api` on a free port; yields its URL and the file its stderr goes to."""
    port = free_port()
    log = home.parent / f"api-{port}.log"
    with log.open("w") as stderr:
        child = subprocess.Popen(
            [*COMMAND, "--home", str(home), "api", "--port", str(port), *flags],
            env={**os.environ, "LABELLAKE_RUNNER_POLL_S": "0.2", **env},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        wait_for(f"http://127.0.0.1:{port}/health")
        yield f"http://127.0.0.1:{port}", log
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=30)


def api_call(
    served: dict[str, object], path: str, body: dict[str, object] | None = None
) -> tuple[int, dict[str, object]]:
    """(status, JSON answer) of one API call with the token `up` made: GET, or POST ``body``."""
    request = urllib.request.Request(
        f"{served['api']}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"authorization": f"Bearer {served['token']}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="no chromium found: install Debian's with `apt-get install chromium` (.ci/run does)",
)
