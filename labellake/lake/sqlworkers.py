"""User SQL in worker processes, so that a query that will not stop can be killed.

DuckDB stops an interrupted query at its next vector, and its memory_limit covers what
its buffer manager holds. One function call that builds a huge value (``range(1e10)``,
``repeat`` inside ``repeat``) runs to its end, and allocates outside that limit. The
API and the portal therefore run user SQL in a worker process: the parent waits
``sql_timeout_s`` plus a short grace (the worker's own interrupt answers first, with
the usual message), watches the worker's resident memory, and kills it past either.
The next query starts a fresh worker; the server never stops serving.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import re
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import pyarrow as pa

from labellake import errors
from labellake.errors import BusyError, LabellakeError

GRACE_S = 2.0  # for the worker's own interrupt to answer before it is killed
QUEUE_WAIT_S = 5.0  # a query waits this long at most for a free worker
BASELINE_BYTES = 768 << 20  # a worker's own memory before it reads anything
_POLL_S = 0.05
_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 1 << 10,
    "MIB": 1 << 20,
    "GIB": 1 << 30,
    "TIB": 1 << 40,
}


def memory_bytes(limit: str) -> int:
    """Bytes of a DuckDB memory size ('4GB', '512MiB') or share of RAM ('25%').

    >>> memory_bytes("2GB")
    2000000000
    """
    text = limit.strip().upper().replace(" ", "")
    if text.endswith("%"):
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return int(total * float(text[:-1]) / 100)
    found = re.fullmatch(r"([0-9.]+)([KMGT]I?B|B)?", text)
    if not found:
        raise LabellakeError(
            f"sql_memory_limit '{limit}' is not a memory size; set a size such as '4GB' or "
            "a share of RAM such as '25%' (LABELLAKE_SQL_MEMORY_LIMIT)"
        )
    return int(float(found[1]) * _UNITS[found[2] or ""])


@dataclass(frozen=True)
class LakeSpec:
    """What a worker needs to open the same lake: its store and views, and the limits."""

    filesystem: Any
    root: str
    scheme: str
    tables: tuple[Any, ...]
    views: dict[str, str]
    sql_timeout_s: float | None
    sql_memory_limit: str


def _serve(spec: LakeSpec, conn: Connection) -> None:
    """A worker: answer each SQL text with Arrow IPC bytes or the error it raised."""
    from labellake.lake.lake import Lake
    from labellake.lake.store import ObjectStore

    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)  # a heavy query yields the CPU to the server that started it
    lake = Lake(
        ObjectStore(spec.filesystem, spec.root, spec.scheme),
        spec.tables,
        spec.views,
        sql_timeout_s=spec.sql_timeout_s,
        sql_memory_limit=spec.sql_memory_limit,
    )
    while True:
        try:
            sql = conn.recv()
        except EOFError:
            return
        try:
            table = lake.query_user(sql)
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema) as stream:
                stream.write_table(table)
            conn.send(("ok", sink.getvalue().to_pybytes()))
        except LabellakeError as exc:
            conn.send(("error", type(exc).__name__, str(exc), getattr(exc, "damaged", None)))
        except Exception as exc:  # a bug: the parent raises it as one
            conn.send(("bug", type(exc).__name__, str(exc), None))


class _Worker:
    def __init__(self, spec: LakeSpec) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a threaded server
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(spec, child), name="labellake-sql", daemon=True
        )
        self.process.start()
        child.close()

    def resident_bytes(self) -> int:
        try:
            with open(f"/proc/{self.process.pid}/statm") as statm:
                return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0  # not Linux, or gone: the time limit still holds

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.join(timeout=10)
        self.conn.close()


class SqlWorkers:
    """A few worker processes that run user SQL one query each at a time."""

    def __init__(self, spec: LakeSpec, size: int = 2) -> None:
        self.spec = spec
        self.cap_bytes = memory_bytes(spec.sql_memory_limit) + BASELINE_BYTES
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self.size = size
        self._slots = threading.BoundedSemaphore(size)

    def query(self, sql: str) -> pa.Table:
        """The rows of ``sql`` (already checked by the guard), or a LabellakeError."""
        # Queries queue for a worker only briefly: waiting requests would hold the server's
        # threads, and a flood of slow queries must not starve everything else.
        if not self._slots.acquire(timeout=QUEUE_WAIT_S):
            raise BusyError(f"{self.size} user queries are running already; try again in a moment")
        try:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                worker = _Worker(self.spec)
            answer = self._wait(worker, sql)
            self._idle.put(worker)
        finally:
            self._slots.release()
        return _unpack(answer)

    def _wait(self, worker: _Worker, sql: str) -> tuple[Any, ...]:
        timeout = self.spec.sql_timeout_s
        deadline = None if timeout is None else time.monotonic() + timeout + GRACE_S
        try:
            worker.conn.send(sql)
            while not worker.conn.poll(_POLL_S):
                if not worker.process.is_alive():
                    raise LabellakeError(
                        "the query ended its worker process; make it cheaper (filter early, "
                        "aggregate, add a LIMIT)"
                    )
                if deadline is not None and time.monotonic() > deadline:
                    raise LabellakeError(
                        f"the query ran longer than {timeout:g} s and was stopped; make it "
                        "cheaper (filter early, aggregate, add a LIMIT) or raise the setting "
                        "sql_timeout_s (LABELLAKE_SQL_TIMEOUT_S)"
                    )
                if worker.resident_bytes() > self.cap_bytes:
                    raise LabellakeError(
                        f"the query needed more memory than sql_memory_limit "
                        f"({self.spec.sql_memory_limit}) and was stopped; make it cheaper or "
                        "raise the setting sql_memory_limit (LABELLAKE_SQL_MEMORY_LIMIT)"
                    )
            return worker.conn.recv()
        except BaseException:
            worker.kill()  # not put back: a fresh worker takes its place on the next query
            raise

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                return


def _unpack(answer: tuple[Any, ...]) -> pa.Table:
    if answer[0] == "ok":
        with pa.ipc.open_stream(answer[1]) as stream:
            return stream.read_all()
    _, kind, message, damaged = answer
    if answer[0] == "bug":
        raise RuntimeError(f"user SQL worker: {kind}: {message}")
    error_type = getattr(errors, kind, None)
    if not (isinstance(error_type, type) and issubclass(error_type, LabellakeError)):
        error_type = LabellakeError
    if damaged is not None:
        raise error_type(message, damaged)
    raise error_type(message)
