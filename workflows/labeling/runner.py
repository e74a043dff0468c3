"""The embedded runner: drives every batch in flight over the SQLite state store.

Only one runner works at a time (a lease in the state store); a runner killed
with SIGKILL leaves its lease to expire, or to be taken over at once by the
next runner on the same machine, which resumes every IN_PROGRESS batch where
the state store says it stood. Notifications are delivered by a thread of
their own, so a slow webhook never holds up a batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from labellake.workflows.labeling import notify, state
from labellake.workflows.labeling.engine import Engine

log = logging.getLogger(__name__)

LEASE = "runner"


class Runner:
    def __init__(self, engine: Engine, poll_s: float = 0.5, lease_ttl_s: float = 15.0) -> None:
        self.engine = engine
        self.poll_s = poll_s
        self.lease_ttl_s = lease_ttl_s
        self.owner = state.lease_owner()

    def step(self) -> bool:
        """Advance every IN_PROGRESS batch as far as it goes now; True if anything moved."""
        moved = False
        for batch in self.engine.state.batches(state.IN_PROGRESS):
            while self.engine.advance(batch["batch_id"]):
                moved = True
        return moved

    def run(self, stop: threading.Event, until: Callable[[], bool] | None = None) -> None:
        """Work until ``stop`` is set (or ``until()`` is true); waits while another runner works."""
        done = threading.Event()
        notifier = threading.Thread(
            target=self._deliver, args=(done,), daemon=True, name="labellake-notifier"
        )
        notifier.start()
        try:
            while not stop.is_set():
                if not self.engine.state.acquire_lease(LEASE, self.owner, self.lease_ttl_s):
                    if until is not None and until():
                        return
                    stop.wait(self.poll_s)
                    continue
                moved = self.step()
                if until is not None and until():
                    return
                if not moved:
                    stop.wait(self.poll_s)
        finally:
            self.engine.state.release_lease(LEASE, self.owner)
            done.set()
            notifier.join(timeout=10)

    def _deliver(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._deliver_once()
            stop.wait(self.poll_s)
        self._deliver_once()  # a message queued just before stopping still goes out

    def _deliver_once(self) -> None:
        try:
            notify.deliver_due(
                self.engine.state,
                send=lambda url, payload, timeout: notify.send_notification(
                    url, payload, timeout, **self.engine.config.aws
                ),
            )
        except Exception:  # noqa: BLE001 - delivery must never take the runner down
            log.exception("notification delivery failed")
