"""The loop of every background worker (the embedded runner, the Step Functions workers):
no error in one pass ever ends it.

The rule: an exception in a pass is logged with its traceback and kept as the loop's
last error, and the next pass comes after a backoff that starts at 1 s and doubles up
to 60 s; a good pass sets the backoff back to 1 s. Every good pass, also one that only
waited for another runner's lease, records a heartbeat; GET /health reports it and
answers 503 once it is older than ``runner_stale_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """How long a loop waits after ``failures`` failed passes in a row.

    >>> [Backoff().delay(n) for n in (1, 2, 3, 7, 8)]
    [1.0, 2.0, 4.0, 60.0, 60.0]
    """

    first_s: float = 1.0
    max_s: float = 60.0

    def delay(self, failures: int) -> float:
        return float(min(self.max_s, self.first_s * 2 ** min(max(failures - 1, 0), 32)))


class Pulse:
    """The heartbeat and the last error of one loop, read from other threads (GET /health)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.heartbeat: float | None = None  # clock() at the last good pass
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.failures = 0  # failed passes since the last good one

    def beat(self) -> None:
        self.heartbeat = self.clock()

    def passed(self) -> None:
        """A pass ended without an error."""
        self.beat()
        self.failures = 0

    def failed(self, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        self.last_error_at = self.clock()
        self.failures += 1

    def age_s(self) -> float:
        """Seconds since the last good pass (since the loop was made, before the first)."""
        return self.clock() - (self.started if self.heartbeat is None else self.heartbeat)

    def report(self) -> dict[str, Any]:
        now = self.clock()
        return {
            "secondsSinceHeartbeat": round(self.age_s(), 3),
            "lastError": self.last_error,
            "secondsSinceLastError": (
                None if self.last_error_at is None else round(now - self.last_error_at, 3)
            ),
            "failuresInARow": self.failures,
        }


def keep_running(
    one_pass: Callable[[], bool],
    stop: threading.Event,
    poll_s: float,
    until: Callable[[], bool] | None = None,
    pulse: Pulse | None = None,
    backoff: Backoff | None = None,
    name: str = "worker",
) -> None:
    """Call ``one_pass()`` (True if anything moved) until ``stop`` is set or ``until()``
    holds, waiting ``poll_s`` after a pass that moved nothing and backing off after one
    that raised."""
    pulse = pulse or Pulse()
    backoff = backoff or Backoff()
    while not stop.is_set():
        try:
            moved = one_pass()
            done = until is not None and until()
        except Exception as exc:  # noqa: BLE001 - the loop outlives any one failure
            delay = backoff.delay(pulse.failures + 1)
            log.error(
                "%s: pass failed (%d in a row); next try in %.2g s",
                name,
                pulse.failures + 1,
                delay,
                exc_info=True,
            )
            pulse.failed(exc)
            stop.wait(delay)
            continue
        pulse.passed()
        if done:
            return
        if not moved:
            stop.wait(poll_s)
