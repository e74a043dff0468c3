"""Which model-run store the settings open: SQLite in the state db, or the DynamoDB model
table under the aws profile (on a moto server), which must exist; and the model workflow
carried out here over the DynamoDB store, leaving nothing on this host."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from labellake.errors import LabellakeError
from labellake.settings import load_settings
from labellake.workflows.aws import tables
from labellake.workflows.models.dynamo_store import DynamoModelRunStore
from labellake.workflows.models.sqlite_store import SqliteModelRunStore
from labellake.workflows.models.store import open_model_store


def test_the_local_profile_keeps_model_runs_in_the_state_db(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    store = open_model_store(settings, tmp_path / "state.db")
    assert isinstance(store, SqliteModelRunStore)
    assert store.db.path == tmp_path / "state.db"


def test_the_aws_profile_keeps_them_in_the_model_table(tmp_path: Path, moto_endpoint: str) -> None:
    settings = load_settings(
        profile="aws", home=tmp_path, aws_prefix="mstore", aws_endpoint_url=moto_endpoint
    )
    with pytest.raises(LabellakeError) as missing:
        open_model_store(settings, tmp_path / "state.db")
    assert str(missing.value).startswith("DynamoDB model table mstore-models does not exist")
    assert "labellake --profile aws aws bootstrap" in str(missing.value)

    client = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_table(**tables.model_table("mstore-models"))
    store = open_model_store(settings, tmp_path / "state.db")
    assert isinstance(store, DynamoModelRunStore) and store.table == "mstore-models"
    assert not (tmp_path / "state.db").exists()  # nothing of the models on this host

    named = load_settings(
        profile="aws", home=tmp_path, aws_model_table="mstore-models", aws_prefix="other"
    )
    assert named.aws_names()["model_table"] == "mstore-models"
    assert isinstance(open_model_store(named, tmp_path / "state.db", client), DynamoModelRunStore)


def test_a_run_carried_out_here_is_kept_in_the_model_table(
    tmp_path: Path, moto_endpoint: str
) -> None:
    from labellake import sql
    from labellake.lake import Lake, ObjectStore
    from labellake.workflows.models.workflow import ModelConfig, ModelWorkflow, RunRequest
    from tests.workflows.models.test_stepfunctions import effort_frame

    client = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_table(**tables.model_table("here-models"))
    workflow = ModelWorkflow(
        DynamoModelRunStore(client, "here-models"),
        ObjectStore.from_uri(tmp_path / "objects"),
        Lake(ObjectStore.from_uri(tmp_path / "lake"), views=sql.views()),
        ModelConfig(max_endpoints=1),
    )
    csv = effort_frame().to_csv(index=False).encode()
    request = RunRequest(model_name="effort", mode="HPO", trials=2, target="seconds")
    tuned = workflow.run(request, csv=csv)
    run = workflow.describe(tuned)
    assert run["status"] == "READY", run["cause"]
    assert [t["number"] for t in run["trials"]] == [0, 1]
    assert run["metrics"]["trials"] == 2 and run["params"]["estimator"]
    trained = workflow.run(RunRequest(model_name="effort", target="seconds"), csv=csv)
    assert workflow.describe(trained)["params"] == run["params"]  # the tuned ones
    assert [e["status"] for e in workflow.endpoints()] == ["InService", "Deleted"]
    row = {"frames": 20.0, "objects": 3.0, "shape_type": "box"}
    assert workflow.infer("effort", row)["runId"] == trained
    assert not (tmp_path / "state.db").exists()
