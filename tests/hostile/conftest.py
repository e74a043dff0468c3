"""Fixtures of the hostile-input tests: a home (objects/, lake/, state.db) with a finished batch.

The workflow tests' engine already lays its files out like a home under ``tmp_path``,
so the CLI's ``--home tmp_path`` sees the same batch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labellake.workflows.labeling import lake_sync
from labellake.workflows.labeling.engine import Engine
from tests.workflows import conftest as workflow_fixtures

# The workflow tests' fixtures: sample clips, the engine over tmp_path, the batch request.
engine = workflow_fixtures.engine
make_engine = workflow_fixtures.make_engine
objects = workflow_fixtures.objects
request_for = workflow_fixtures.request_for
samples = workflow_fixtures.samples
state_store = workflow_fixtures.state_store
store_kind = workflow_fixtures.store_kind


@pytest.fixture
def loading_engine(make_engine: Callable[..., Engine]) -> Engine:
    """An engine that loads each finished job into the lake, as `labellake` builds it."""
    return lake_sync.install(make_engine())


@pytest.fixture
def finished_home(
    loading_engine: Engine, request_for: Callable[..., dict[str, Any]], tmp_path: Path
) -> Path:
    """A home whose batch b1 (two levels, four jobs) is COMPLETE and loaded into the lake."""
    batch_id = loading_engine.submit(request_for("b1"))
    assert loading_engine.run_to_end(batch_id, poll_s=0) == "COMPLETE"
    return tmp_path
