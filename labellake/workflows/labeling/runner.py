"""The embedded runner: drives every batch in flight over the SQLite state store.

Only one runner works at a time (a lease in the state store); a runner killed
with SIGKILL leaves its lease to expire, or to be taken over at once by the
next runner on the same machine, which resumes every IN_PROGRESS batch where
the state store says it stood. Notifications are delivered by a thread of
their own, so a slow webhook never holds up a batch. An error in a pass (a damaged
state.db, a bug) is logged and the runner tries again after a backoff; its heartbeat
and last error are on ``Runner.pulse`` for GET /health (see ``workflows/loop.py``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from labellake.workflows.labeling import notify
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.labeling.status import BatchStatus
from labellake.workflows.loop import Backoff, Pulse, keep_running
from labellake.workflows.statedb import lease_owner

log = logging.getLogger(__name__)

LEASE = "runner"


class Runner:
    def __init__(
        self,
        engine: Engine,
        poll_s: float = 0.5,
        lease_ttl_s: float = 15.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.engine = engine
        self.poll_s = poll_s
        self.lease_ttl_s = lease_ttl_s
        self.backoff = backoff or Backoff()
        self.owner = lease_owner()
        self.pulse = Pulse()

    def step(self) -> bool:
        """Advance every IN_PROGRESS batch as far as it goes now; True if anything moved."""
        moved = False
        for batch in self.engine.state.batches(BatchStatus.IN_PROGRESS):
            while self.engine.advance(batch["batch_id"]):
                moved = True
                self.pulse.beat()  # a long pass that makes progress is alive
        return moved

    def run(self, stop: threading.Event, until: Callable[[], bool] | None = None) -> None:
        """Work until ``stop`` is set (or ``until()`` is true); waits while another runner works."""
        with notify.delivering(self.engine.state, self.engine.config.aws, self.poll_s):
            self._work(stop, until)

    def _work(self, stop: threading.Event, until: Callable[[], bool] | None) -> None:
        def one_pass() -> bool:
            if not self.engine.state.acquire_lease(LEASE, self.owner, self.lease_ttl_s):
                return False  # another runner works; this one waits, and stays alive
            return self.step()

        try:
            keep_running(one_pass, stop, self.poll_s, until, self.pulse, self.backoff, "runner")
        finally:
            try:
                self.engine.state.release_lease(LEASE, self.owner)
            except Exception:  # noqa: BLE001 - the lease expires on its own
                log.warning("runner: could not release its lease", exc_info=True)
