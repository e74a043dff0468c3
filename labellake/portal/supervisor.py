"""The long-running ways in: the API served with its runner, the step workers, and `labellake
up`, which starts the API and the Streamlit portal as child processes and stops them together.

The rules: SIGINT and SIGTERM ask a loop to stop (it finishes its step) instead of killing
the process mid-step; a child of `up` gets SIGTERM when `up` dies, even by SIGKILL (Linux),
and when one child ends `up` stops the other, so nothing is left running on its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labellake.settings import Settings

if TYPE_CHECKING:
    from labellake.workflows.labeling.runner import Runner
    from labellake.workflows.labeling.stepfunctions import Worker
    from labellake.workflows.models.workflow import ModelWorkflow

HOST = "127.0.0.1"  # where `up` serves both


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` instead of killing the process mid-step."""
    previous = {}

    def handler(signum, frame):  # type: ignore[no-untyped-def]
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def serve_api(
    work: Runner | Worker,
    models: ModelWorkflow,
    *,
    token: str | None,
    host: str,
    port: int,
    stale_s: float,
) -> None:
    """Serve the batch API until the server stops, with the runner (and the model steps,
    when model runs go through Step Functions) in threads of this process."""
    import uvicorn

    from labellake.portal.api import create_app
    from labellake.workflows.compose import model_worker

    stop = threading.Event()
    threads = [
        threading.Thread(target=work.run, args=(stop,), name="labellake-runner", daemon=True)
    ]
    steps = model_worker(models)  # model runs on Step Functions: their steps run here too
    if steps is not None:
        threads.append(
            threading.Thread(target=steps.run, args=(stop,), name="labellake-models", daemon=True)
        )
    for thread in threads:
        thread.start()
    try:
        uvicorn.run(
            create_app(
                work.engine,
                token=token,
                models=models,
                runner=work.pulse,
                stale_s=stale_s,
                model_steps=None if steps is None else steps.pulse,
            ),
            host=host,
            port=port,
            log_level="warning",
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)


def run_workers(work: Worker, model_steps: Any, stop: threading.Event) -> None:
    """Run the batch steps here and the model steps in a thread, until ``stop`` is set."""
    thread = threading.Thread(target=model_steps.run, args=(stop,), name="labellake-models")
    thread.start()
    work.run(stop)
    thread.join(timeout=10)


def child_env(settings: Settings) -> dict[str, str]:
    """This process's environment with every resolved setting as LABELLAKE_<NAME>, so a
    child resolves the same settings whatever flags gave them here."""
    return {
        **os.environ,
        **{
            f"LABELLAKE_{name.upper()}": value if isinstance(value, str) else json.dumps(value)
            for name, value in settings.model_dump(mode="json").items()
            if value is not None
        },
    }


def up_commands(api_port: int, portal_port: int, no_auth: bool) -> dict[str, list[str]]:
    """The API (with the runner) and the Streamlit portal, both on 127.0.0.1."""
    import labellake.portal

    app = Path(labellake.portal.__file__).parent / "app.py"
    return {
        "api": [
            sys.executable,
            "-m",
            "labellake.portal.cli",
            "api",
            "--host",
            HOST,
            "--port",
            str(api_port),
            *(["--no-auth"] if no_auth else []),
        ],
        "portal": [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(app),
            "--server.address",
            HOST,
            "--server.port",
            str(portal_port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--client.toolbarMode",
            "viewer",
        ],
    }


class Children:
    """Child processes started together and stopped together."""

    def __init__(self, commands: Mapping[str, list[str]], env: Mapping[str, str]) -> None:
        self.processes = {
            name: subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)
            for name, command in commands.items()
        }

    def wait(self, stop: threading.Event, poll_s: float = 0.5) -> str | None:
        """Until ``stop`` is set or a child ends; the name of the child that ended, if one did."""
        while not stop.is_set():
            ended = [name for name, child in self.processes.items() if child.poll() is not None]
            if ended:
                return ended[0]
            stop.wait(poll_s)
        return None

    def stop(self, timeout_s: float = 15) -> None:
        """SIGTERM to every child still running; SIGKILL to one still there after ``timeout_s``."""
        for child in self.processes.values():
            if child.poll() is None:
                child.terminate()
        for child in self.processes.values():
            try:
                child.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                child.kill()


@contextlib.contextmanager
def started(commands: Mapping[str, list[str]], env: Mapping[str, str]) -> Iterator[Children]:
    """The children of ``commands``, stopped on the way out."""
    children = Children(commands, env)
    try:
        yield children
    finally:
        children.stop()


def _die_with_parent() -> None:
    """In a child of `up`: get SIGTERM when `up` dies, even by SIGKILL, so no API or portal
    is left running on its own (Linux; elsewhere `up` stops them on its way out)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
