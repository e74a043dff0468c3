"""`labellake api` in a process of its own, for the benchmarks that load it over HTTP."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def api_process(home: Path, **settings: str) -> Iterator[tuple[str, dict[str, str]]]:
    """Serve ``home`` with LABELLAKE_* ``settings``; yields the URL and the token header the
    API made on its first start. Stopped with SIGTERM after."""
    port = free_port()
    env = {
        **os.environ,
        "LABELLAKE_HOME": str(home),
        **{f"LABELLAKE_{name.upper()}": value for name, value in settings.items()},
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "labellake.portal.cli", "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the API did not start")
            time.sleep(0.1)
        token = (home / "api-token").read_text().strip()
        yield url, {"Authorization": f"Bearer {token}"}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
