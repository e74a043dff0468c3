"""Fixtures for the workflow tests: a home with sample clips and an engine over it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labellake import sql
from labellake.lake import Lake, ObjectStore
from labellake.workflows.labeling.backends.simulated import SimulatedBackend, SimulationConfig
from labellake.workflows.labeling.engine import Engine, EngineConfig
from labellake.workflows.labeling.sqlite_store import SqliteBatchStore
from labellake.workflows.labeling.store import BatchStore
from labellake.workflows.samples import synthetic
from labellake.workflows.samples.demo import demo_request
from labellake.workflows.samples.synthetic import SampleSet


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def objects(tmp_path: Path) -> ObjectStore:
    return ObjectStore.from_uri(tmp_path / "objects")


@pytest.fixture
def samples(objects: ObjectStore) -> SampleSet:
    """Four short synthetic clips with ground truth and the two label configs."""
    return synthetic.generate(objects, dataset="samples/test", clips=4, frames=12, seed=3)


@pytest.fixture
def store_kind() -> str:
    """Where the engine keeps its records; a module parametrizes it to run on both."""
    return "sqlite"


@pytest.fixture
def state_store(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[], BatchStore]:
    """Opens the state store of the test: SQLite, or the DynamoDB state table on moto."""
    if store_kind == "sqlite":
        return lambda: SqliteBatchStore(tmp_path / "state.db")
    import boto3

    from labellake.workflows.aws import tables
    from labellake.workflows.labeling.dynamo_store import DynamoBatchStore

    endpoint = request.getfixturevalue("moto_endpoint")
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    table = f"state-{abs(hash(request.node.nodeid)) % 10**8}"
    client.create_table(**tables.state_table(table))
    return lambda: DynamoBatchStore(tmp_path / "state.db", client, table)


@pytest.fixture
def make_engine(
    objects: ObjectStore, tmp_path: Path, state_store: Callable[[], BatchStore]
) -> Callable[..., Engine]:
    def make(**config: Any) -> Engine:
        clock = config.pop("clock", None)
        backend = SimulatedBackend(objects, SimulationConfig(job_seconds=0))
        backend.poll_interval_s = 0  # tests step the engine by hand
        engine = Engine(
            state_store(),
            objects,
            Lake(ObjectStore.from_uri(tmp_path / "lake"), views=sql.views()),
            backend,
            EngineConfig(**config),
            **({"clock": clock} if clock else {}),
        )
        return engine

    return make


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    return make_engine()


@pytest.fixture
def request_for(samples: SampleSet) -> Callable[..., dict[str, Any]]:
    """The reference 4-job batch over the sample clips."""

    def build(batch_id: str = "b1", audit_sampling: float = 100) -> dict[str, Any]:
        return demo_request(batch_id, samples, audit_sampling)

    return build
