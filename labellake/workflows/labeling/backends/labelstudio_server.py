"""A Label Studio server of one's own on 127.0.0.1, for trying the labelstudio backend,
for its tests and for its benchmark.

Label Studio is installed in a virtualenv of its own (``make labelstudio`` makes
``.venv-labelstudio``): it pins older numpy and pyarrow than labellake needs. The server
gets its own data folder with SQLite, listens on loopback only (``--internal-host``;
Label Studio binds every interface unless told), serves local files from ``files_root``,
sends nothing home (no Sentry, no version check, no analytics), and starts with an admin
user and a legacy token. People join it by signing up, as they would on a team's server;
``sign_up`` does that and returns the person's personal access token.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

import httpx

from labellake.errors import LabellakeError

VERSION = "1.23.2"  # the release the tests and the benchmark run against
BINARY_ENV = "LABELLAKE_LABELSTUDIO_BIN"


def find_binary() -> Path:
    """The label-studio command: $LABELLAKE_LABELSTUDIO_BIN, the project's
    .venv-labelstudio, or one on PATH."""
    named = os.environ.get(BINARY_ENV)
    if named:
        return Path(named)
    here = Path(__file__).resolve().parents[4] / ".venv-labelstudio" / "bin" / "label-studio"
    if here.exists():
        return here
    found = shutil.which("label-studio")
    if found:
        return Path(found)
    raise LabellakeError(
        f"label-studio is not installed; `make labelstudio` installs label-studio=={VERSION} "
        f"in .venv-labelstudio (or set {BINARY_ENV})"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LabelStudioServer:
    def __init__(
        self,
        folder: Path,
        files_root: Path,
        *,
        admin: str = "admin@example.com",
        password: str = "labellake-admin",
        legacy_token: str = "0123456789abcdef0123456789abcdef01234567",
        port: int | None = None,
    ) -> None:
        self.folder = folder
        self.files_root = files_root
        self.admin = admin
        self.password = password
        self.legacy_token = legacy_token
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout_s: float = 180.0) -> LabelStudioServer:
        binary = find_binary()
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        self.files_root.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "LABEL_STUDIO_BASE_DATA_DIR": str(data),
            "DJANGO_DB": "sqlite",
            "SECRET_KEY": "labellake-local-label-studio",
            "SENTRY_DSN": "",
            "FRONTEND_SENTRY_DSN": "",
            "LATEST_VERSION_CHECK": "false",
            "COLLECT_ANALYTICS": "false",
            "LOCAL_FILES_SERVING_ENABLED": "true",
            "LOCAL_FILES_DOCUMENT_ROOT": str(self.files_root),
            "SSRF_PROTECTION_ENABLED": "false",  # webhooks call labellake on 127.0.0.1
            "HOME": str(self.folder),
        }
        self._log = (self.folder / "label-studio.log").open("ab")
        self._process = subprocess.Popen(  # noqa: S603 - our own arguments
            [
                str(binary),
                "start",
                "--no-browser",
                "--internal-host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--data-dir",
                str(data),
                "--username",
                self.admin,
                "--password",
                self.password,
                "--user-token",
                self.legacy_token,
                "--enable-legacy-api-token",
            ],
            cwd=self.folder,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise LabellakeError(
                    f"label-studio exited ({self._process.returncode}) while starting; see "
                    f"{self.folder / 'label-studio.log'}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/version", timeout=2).status_code == 200:
                    return self
            time.sleep(0.5)
        self.stop()
        raise LabellakeError(f"label-studio did not answer on {self.url} in {timeout_s:g} s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LabelStudioServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sign_up(self, email: str, password: str = "labellake-worker") -> str:
        """A new user, signed up through Label Studio's own form; returns their personal
        access token."""
        with httpx.Client(base_url=self.url, timeout=30) as session:
            session.get("/user/signup/")
            answer = session.post(
                "/user/signup/",
                data={
                    "email": email,
                    "password": password,
                    "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
                },
                headers={"Referer": f"{self.url}/user/signup/"},
            )
            if answer.status_code != 302:
                raise LabellakeError(
                    f"Label Studio refused to sign up {email} ({answer.status_code})"
                )
            made = session.post(
                "/api/token/",
                headers={"X-CSRFToken": session.cookies.get("csrftoken", ""), "Referer": self.url},
            )
            if made.status_code != 201:
                raise LabellakeError(f"Label Studio made no token for {email} ({made.status_code})")
            return str(made.json()["token"])
