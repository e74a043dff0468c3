"""Shared fixtures: a bare lake, an isolated environment, a moto S3 server."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests never reach a real cloud endpoint.
for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}.items():
    os.environ[_key] = _value
os.environ.pop("AWS_PROFILE", None)

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address, *args, **kwargs):  # type: ignore[no-untyped-def]
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise OSError(f"tests may only connect to loopback addresses, not {host}")
    return _real_connect(self, address, *args, **kwargs)


socket.socket.connect = _loopback_only  # type: ignore[method-assign]

# Markers by what a test uses (pyproject.toml registers them; `make test-fast` skips them).
_MARKED_BY_FIXTURE = {
    "browser": {"browser"},
    "aws": {"moto_endpoint", "sfn_endpoint", "s3_bucket"},
    "labelstudio": {"label_studio"},
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in _MARKED_BY_FIXTURE.items():
            if used & fixtures:
                item.add_marker(marker)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """No LABELLAKE_* variable or labellake.toml from the developer's machine leaks in.

    Returns the (empty) working directory the test runs in.
    """
    for key in list(os.environ):
        if key.startswith("LABELLAKE_") or key.startswith("AWS_ENDPOINT_URL"):
            monkeypatch.delenv(key)
    # Any S3 access a test did not point at moto goes to a closed loopback port.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    workdir = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("user-home")))
    return workdir


@pytest.fixture
def bare_lake(tmp_path: Path):
    """A lake with no files, rooted in a temporary folder."""
    from labellake.lake import Lake

    return Lake.from_uri(str(tmp_path / "lake"))


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server on 127.0.0.1 standing in for S3 (and any other AWS service)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._server.server_port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(moto_endpoint: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty bucket on the moto server; returns its name."""
    import boto3

    name = f"test-{abs(hash(request.node.nodeid)) % 10**10}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket=name
    )
    return name


@pytest.fixture(scope="session")
def sfn_endpoint(moto_endpoint: str) -> str:
    """The moto server with its Amazon States Language interpreter switched on.

    The interpreter calls SQS back on localhost:MOTO_PORT, so that names this server.
    """
    import json
    import urllib.request

    os.environ["MOTO_PORT"] = moto_endpoint.rsplit(":", 1)[1]
    request = urllib.request.Request(
        f"{moto_endpoint}/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):
        pass
    return moto_endpoint


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A boto3 session that finds no AWS credentials anywhere (not the cached default)."""
    import boto3

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    return boto3.session.Session(region_name="us-east-1")


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One real Label Studio server for the test session, on 127.0.0.1 with its own data
    folder and SQLite (installed by `make labelstudio`; startup takes about 30 s). It
    serves local files from ``server.files_root``: tests keep their labellake homes there."""
    from labellake.workflows.labeling.backends.labelstudio_server import LabelStudioServer

    folder = tmp_path_factory.mktemp("label-studio")
    server = LabelStudioServer(folder, folder / "files")
    server.start()
    try:
        yield server
    finally:
        server.stop()
