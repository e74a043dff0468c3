"""Checks that a home is usable: `labellake doctor`.

The rule: every check runs, in order, and says what it found or what is wrong; only a
home that cannot be opened stops the checks after it, as they all need it. Damaged lake
files are named one by one, with the way to repair them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from labellake.errors import DamagedLakeError, LabellakeError
from labellake.lake.lake import REPAIR_HINT
from labellake.settings import Settings
from labellake.workflows.compose import open_home
from labellake.workflows.home import check_state_db

PROBE = ".doctor-probe"  # written to the object store and removed again


@dataclass(frozen=True)
class Check:
    """One check's outcome: what it found when ``ok``, else the problem."""

    name: str
    ok: bool
    text: str
    damaged: dict[str, str] = field(default_factory=dict)  # file URI -> why it is unreadable


def run_checks(settings: Settings) -> Iterator[Check]:
    """The home, the object store, the lake and the state store, each checked as it comes."""
    checks: list[tuple[str, Callable[[], str]]] = [
        ("home", lambda: check_home(settings)),
        ("object store", lambda: check_objects(settings)),
        ("lake", lambda: check_lake(settings)),
        ("state store", lambda: check_state_db(open_home(settings).state_db)),
    ]
    if settings.labelstudio_url or settings.labeling_backend == "labelstudio":
        checks.append(("label studio", lambda: check_label_studio(settings)))
    for name, check in checks:
        try:
            yield Check(name, True, check())
        except DamagedLakeError as exc:
            store = open_home(settings).lake.store
            damaged = {store.uri(key): exc.damaged[key] for key in exc.files}
            yield Check(name, False, f"{len(exc.files)} damaged file(s); {REPAIR_HINT}", damaged)
        except LabellakeError as exc:
            yield Check(name, False, str(exc))
            if name == "home":
                return


def check_label_studio(settings: Settings) -> str:
    """The Label Studio server answers and takes labelstudio_token."""
    from labellake.workflows.labeling.backends.labelstudio_client import LabelStudioClient

    client = LabelStudioClient(settings.labelstudio_url, settings.labelstudio_token)
    try:
        user = client.check()
        return f"{client.url} (Label Studio {client.version()}) as {user.get('email')}"
    finally:
        client.close()


def check_home(settings: Settings) -> str:
    """The home opens (its folders are made where missing)."""
    open_home(settings)
    return str(settings.home)


def check_objects(settings: Settings) -> str:
    """The object store takes a write, reads it back and deletes it."""
    store = open_home(settings).objects
    try:
        store.write_bytes(PROBE, b"ok")
        if store.read_bytes(PROBE) != b"ok":
            raise LabellakeError(f"{store.uri(PROBE)} did not read back what was written")
        store.delete(PROBE)
    except OSError as exc:
        raise LabellakeError(f"cannot write to {store.root_uri}: {exc}") from exc
    return f"{store.root_uri} is writable"


def check_lake(settings: Settings) -> str:
    """Every table of the lake can be counted."""
    lake = open_home(settings).lake
    counts = lake.row_counts()
    total = sum(counts.values())
    return f"{lake.store.root_uri}: {len(counts)} tables, {total} rows"
