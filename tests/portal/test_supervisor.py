"""The supervisor of `labellake up`: children started together and stopped together."""

from __future__ import annotations

import signal
import sys
import threading
import time

from labellake.portal import supervisor
from labellake.settings import load_settings

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]
DONE = [sys.executable, "-c", "pass"]


def test_when_one_child_ends_the_others_are_stopped() -> None:
    with supervisor.started({"api": SLEEP, "portal": DONE}, {}) as children:
        assert children.wait(threading.Event(), poll_s=0.05) == "portal"
        api = children.processes["api"]
        assert api.poll() is None
    assert api.returncode == -signal.SIGTERM


def test_a_stop_ends_the_wait_and_then_every_child() -> None:
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with supervisor.started({"api": SLEEP, "portal": SLEEP}, {}) as children:
        assert children.wait(stop, poll_s=0.05) is None
    assert time.monotonic() - started < 30
    assert all(p.returncode == -signal.SIGTERM for p in children.processes.values())


def test_a_signal_sets_the_stop_and_the_old_handler_comes_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    stop = threading.Event()
    with supervisor.stop_on_signals(stop):
        signal.raise_signal(signal.SIGTERM)
        assert stop.is_set()
    assert signal.getsignal(signal.SIGTERM) is before


def test_children_get_every_setting_and_up_serves_on_loopback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = supervisor.child_env(load_settings(home=tmp_path / "home", profile="local"))
    assert env["LABELLAKE_HOME"] == str(tmp_path / "home")
    assert env["LABELLAKE_PROFILE"] == "local"
    commands = supervisor.up_commands(8123, 8765, no_auth=True)
    assert commands["api"][1:] == [
        "-m",
        "labellake.portal.cli",
        "api",
        "--host",
        "127.0.0.1",
        "--port",
        "8123",
        "--no-auth",
    ]
    assert "8765" in commands["portal"] and "127.0.0.1" in commands["portal"]
