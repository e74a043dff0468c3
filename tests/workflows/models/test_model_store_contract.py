"""The ModelRunStore contract, run against every implementation: SQLite on tmp_path and
the DynamoDB model table on a moto server (127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labellake.errors import ConflictError, NotFoundError
from labellake.workflows.models.sqlite_store import SqliteModelRunStore
from labellake.workflows.models.store import (
    ENDPOINT_FIELDS,
    RUN_FIELDS,
    TRIAL_FIELDS,
    EndpointStatus,
    ModelRunStore,
    RunStatus,
)
from labellake.workflows.statedb import StateDb


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ModelRunStore:
    if request.param == "sqlite":
        return SqliteModelRunStore(StateDb(tmp_path / "state.db"))
    import boto3

    from labellake.workflows.aws import tables
    from labellake.workflows.models.dynamo_store import DynamoModelRunStore

    endpoint = request.getfixturevalue("moto_endpoint")
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    name = f"models-{abs(hash(request.node.nodeid)) % 10**8}"
    client.create_table(**tables.model_table(name))
    return DynamoModelRunStore(client, name)


def add(store: ModelRunStore, run_id: str, model: str = "effort", mode: str = "TRAIN") -> None:
    store.add_run(run_id, model, mode, {"modelName": model, "trials": 3}, "lake", 40, "ana")


def test_every_method_of_the_protocol_is_there(store: ModelRunStore) -> None:
    methods = [name for name in vars(ModelRunStore) if not name.startswith("_")]
    assert len(methods) == 13
    assert all(callable(getattr(store, name)) for name in methods)


# -- runs -------------------------------------------------------------------------------------


def test_a_run_is_recorded_training_and_read_back(store: ModelRunStore) -> None:
    add(store, "r1")
    run = store.run("r1")
    assert tuple(run) == RUN_FIELDS
    assert run["run_id"] == "r1" and run["model_name"] == "effort" and run["mode"] == "TRAIN"
    assert run["status"] == RunStatus.TRAINING_MODEL
    assert run["request"] == {"modelName": "effort", "trials": 3}
    assert (run["dataset"], run["rows"], run["actor"]) == ("lake", 40, "ana")
    assert run["created_at"] == run["updated_at"] and run["completed_at"] is None
    unset = set(RUN_FIELDS) - {
        "run_id",
        "model_name",
        "mode",
        "status",
        "request",
        "dataset",
        "rows",
        "actor",
        "created_at",
        "updated_at",
    }
    assert all(run[name] is None for name in unset)


def test_a_run_id_is_recorded_once(store: ModelRunStore) -> None:
    add(store, "r1")
    with pytest.raises(ConflictError, match="model run 'r1' is recorded already"):
        add(store, "r1", model="other")
    assert store.run("r1")["model_name"] == "effort"


def test_an_unknown_run_is_not_found(store: ModelRunStore) -> None:
    with pytest.raises(NotFoundError, match=r"unknown model run 'nope'.*labellake model list"):
        store.run("nope")


def test_runs_are_listed_newest_first_and_by_mode(store: ModelRunStore) -> None:
    assert store.runs() == []
    add(store, "r1")
    add(store, "r2", mode="HPO")
    add(store, "r3")
    assert [r["run_id"] for r in store.runs()] == ["r3", "r2", "r1"]
    assert [r["run_id"] for r in store.runs("TRAIN")] == ["r3", "r1"]
    assert [r["run_id"] for r in store.runs("HPO")] == ["r2"]
    assert store.runs()[1] == store.run("r2")


def test_a_move_sets_the_status_and_fields(store: ModelRunStore) -> None:
    add(store, "r1")
    created = store.run("r1")["created_at"]
    assert store.move("r1", RunStatus.CREATING_MODEL, params={"alpha": 0.5}, metrics={"r2": 0.9})
    assert store.move("r1", RunStatus.DEPLOYING_ENDPOINT, artifact_uri="s3://b/m.joblib")
    run = store.run("r1")
    assert run["status"] == RunStatus.DEPLOYING_ENDPOINT
    assert run["params"] == {"alpha": 0.5} and run["metrics"] == {"r2": 0.9}
    assert run["artifact_uri"] == "s3://b/m.joblib"
    assert run["created_at"] == created < run["updated_at"] and run["completed_at"] is None
    # A final status stamps completed_at; None clears a field.
    assert store.move("r1", RunStatus.ERROR, error="Boom", cause="why", artifact_uri=None)
    run = store.run("r1")
    assert (run["status"], run["error"], run["cause"]) == ("ERROR", "Boom", "why")
    assert run["artifact_uri"] is None and run["completed_at"] == run["updated_at"]
    assert run["params"] == {"alpha": 0.5}  # what the move did not name stays


def test_a_move_from_a_status_that_does_not_hold_is_refused(store: ModelRunStore) -> None:
    add(store, "r1")
    assert store.move("r1", RunStatus.CREATING_MODEL, expected=[RunStatus.TRAINING_MODEL])
    before = store.run("r1")
    # Asked twice (a step delivered twice): the second finds CREATING_MODEL and moves nothing.
    assert not store.move(
        "r1", RunStatus.CREATING_MODEL, expected=[RunStatus.TRAINING_MODEL], error="x"
    )
    assert not store.move("r1", RunStatus.READY, expected=[])
    assert store.run("r1") == before
    assert store.move(
        "r1",
        RunStatus.DEPLOYING_ENDPOINT,
        expected=(RunStatus.TRAINING_MODEL, RunStatus.CREATING_MODEL),
    )
    assert store.run("r1")["status"] == RunStatus.DEPLOYING_ENDPOINT
    # No such run: nothing moves, nothing is made.
    assert not store.move("ghost", RunStatus.READY)
    assert not store.move("ghost", RunStatus.READY, expected=[RunStatus.TRAINING_MODEL])
    with pytest.raises(NotFoundError):
        store.run("ghost")


def test_a_move_names_only_fields_of_a_run(store: ModelRunStore) -> None:
    add(store, "r1")
    with pytest.raises(TypeError, match="colour"):
        store.move("r1", RunStatus.READY, colour="red")
    with pytest.raises(TypeError, match="created_at"):
        store.move("r1", RunStatus.READY, created_at="then")
    assert store.run("r1")["status"] == RunStatus.TRAINING_MODEL


def test_newest_is_the_latest_run_of_a_model_in_a_status(store: ModelRunStore) -> None:
    assert store.newest("effort") is None
    add(store, "t1")
    add(store, "h1", mode="HPO")
    add(store, "t2")
    add(store, "o1", model="other")
    for run_id in ("t1", "h1", "o1"):
        store.move(run_id, RunStatus.READY)
    newest = store.newest("effort")
    assert newest is not None and newest["run_id"] == "h1"
    assert newest == store.run("h1")
    assert store.newest("effort", mode="TRAIN")["run_id"] == "t1"  # type: ignore[index]
    assert store.newest("effort", mode="HPO")["run_id"] == "h1"  # type: ignore[index]
    assert store.newest("effort", status=RunStatus.TRAINING_MODEL)["run_id"] == "t2"  # type: ignore[index]
    assert store.newest("effort", status=RunStatus.ERROR) is None
    assert store.newest("absent") is None


# -- Step Functions: the step a run's execution waits on --------------------------------------


def test_tasks_and_executions_of_unfinished_runs(store: ModelRunStore) -> None:
    assert store.waiting() == [] and store.executing() == []
    for run_id in ("r1", "r2", "r3", "local"):
        add(store, run_id)
    for run_id in ("r1", "r2", "r3"):
        store.move(run_id, RunStatus.TRAINING_MODEL, execution_arn=f"arn:{run_id}")
    assert [r["run_id"] for r in store.executing()] == ["r1", "r2", "r3"]  # oldest first

    store.set_task("r2", "train", "token-2", "job-2")
    store.set_task("r1", "deploy", "token-1", "endpoint-1")
    waiting = store.waiting()
    assert [r["run_id"] for r in waiting] == ["r1", "r2"]
    assert (waiting[0]["step"], waiting[0]["task_token"], waiting[0]["backend_job"]) == (
        "deploy",
        "token-1",
        "endpoint-1",
    )
    assert waiting[1] == store.run("r2")

    # Dropping the token keeps the job watched; a new token without a job keeps it too.
    store.set_task("r2", None, None)
    run = store.run("r2")
    assert (run["step"], run["task_token"], run["backend_job"]) == (None, None, "job-2")
    store.set_task("r2", "tune", "token-3")
    assert store.run("r2")["backend_job"] == "job-2"
    assert [r["run_id"] for r in store.waiting()] == ["r1", "r2"]

    # Finished runs neither wait nor execute.
    store.move("r1", RunStatus.READY)
    store.move("r3", RunStatus.ERROR)
    assert [r["run_id"] for r in store.waiting()] == ["r2"]
    assert [r["run_id"] for r in store.executing()] == ["r2"]
    store.move("r2", RunStatus.DEPLOYING_ENDPOINT)
    assert [r["run_id"] for r in store.executing()] == ["r2"]

    store.set_task("ghost", "train", "t")  # no such run: nothing kept, nothing made
    with pytest.raises(NotFoundError):
        store.run("ghost")


# -- trials -----------------------------------------------------------------------------------


def test_trials_are_kept_by_number(store: ModelRunStore) -> None:
    add(store, "h1", mode="HPO")
    add(store, "h2", mode="HPO")
    store.add_trial("h1", 1, {"estimator": "mlp", "alpha": 0.001}, 12.5, "COMPLETE", 1.25)
    store.add_trial("h1", 0, {"estimator": "ridge"}, None, "FAIL", 0.0)
    store.add_trial("h2", 0, {}, 3.0, "COMPLETE", 2.0)
    trials = store.trials("h1")
    assert [tuple(t) for t in trials] == [TRIAL_FIELDS, TRIAL_FIELDS]
    assert trials == [
        {
            "run_id": "h1",
            "number": 0,
            "params": {"estimator": "ridge"},
            "value": None,
            "state": "FAIL",
            "seconds": 0.0,
        },
        {
            "run_id": "h1",
            "number": 1,
            "params": {"estimator": "mlp", "alpha": 0.001},
            "value": 12.5,
            "state": "COMPLETE",
            "seconds": 1.25,
        },
    ]
    assert isinstance(trials[0]["seconds"], float) and isinstance(trials[1]["number"], int)
    # The same number again replaces the trial.
    store.add_trial("h1", 0, {"estimator": "ridge"}, 9.0, "COMPLETE", 0.5)
    assert [(t["number"], t["value"]) for t in store.trials("h1")] == [(0, 9.0), (1, 12.5)]
    assert [t["value"] for t in store.trials("h2")] == [3.0]
    assert store.trials("nope") == []


def test_a_trial_needs_its_run(store: ModelRunStore) -> None:
    with pytest.raises(NotFoundError, match="unknown model run 'ghost'"):
        store.add_trial("ghost", 0, {}, 1.0, "COMPLETE", 1.0)
    assert store.trials("ghost") == []


# -- endpoints --------------------------------------------------------------------------------


def test_deploying_beyond_the_limit_deletes_the_oldest(store: ModelRunStore) -> None:
    assert store.endpoints() == [] and store.endpoints(live_only=True) == []
    assert store.deploy("e1", "effort", "r1", "s3://b/1", limit=2) == []
    assert store.deploy("e2", "other", "r2", "s3://b/2", limit=2) == []
    assert store.deploy("e3", "effort", "r3", "s3://b/3", limit=2) == ["e1"]
    endpoints = store.endpoints()
    assert [e["endpoint_id"] for e in endpoints] == ["e3", "e2", "e1"]
    assert all(tuple(e) == ENDPOINT_FIELDS for e in endpoints)
    e3, _, e1 = endpoints
    assert (e3["model_name"], e3["run_id"], e3["artifact_uri"]) == ("effort", "r3", "s3://b/3")
    assert e3["status"] == EndpointStatus.IN_SERVICE and e3["deleted_at"] is None
    assert e1["status"] == EndpointStatus.DELETED and e1["deleted_at"] >= e1["created_at"]
    assert e1["deleted_reason"] == ("oldest of 3 endpoints when e3 was deployed (at most 2 live)")
    assert [e["endpoint_id"] for e in store.endpoints(live_only=True)] == ["e3", "e2"]
    # A lower limit takes every endpoint beyond it, oldest last.
    assert store.deploy("e4", "effort", "r4", "s3://b/4", limit=1) == ["e3", "e2"]
    assert [e["endpoint_id"] for e in store.endpoints(live_only=True)] == ["e4"]
    assert store.endpoints(live_only=True)[0] == store.endpoints()[0]


def test_an_endpoint_that_replaces_takes_its_models_place_only(store: ModelRunStore) -> None:
    store.deploy("r1", "audit-risk", "run1", "s3://b/1", limit=5)
    store.deploy("x1", "effort", "run2", "s3://b/2", limit=5)
    store.deploy("r2", "audit-risk", "run3", "s3://b/3", limit=5)  # both live: no replace
    replaced = store.deploy("r3", "audit-risk", "run4", "s3://b/4", limit=5, replaces=True)
    assert sorted(replaced) == ["r1", "r2"]
    live = [e["endpoint_id"] for e in store.endpoints(live_only=True)]
    assert live == ["r3", "x1"]  # the other model keeps its endpoint
    r1 = next(e for e in store.endpoints() if e["endpoint_id"] == "r1")
    assert r1["status"] == EndpointStatus.DELETED
    assert r1["deleted_reason"] == "replaced by r3, of the same model"


def test_an_endpoint_id_is_deployed_once(store: ModelRunStore) -> None:
    store.deploy("e1", "effort", "r1", "s3://b/1", limit=1)
    with pytest.raises(ConflictError, match="model endpoint 'e1' is recorded already"):
        store.deploy("e1", "effort", "r2", "s3://b/2", limit=1)
    [endpoint] = store.endpoints()
    assert endpoint["run_id"] == "r1" and endpoint["status"] == EndpointStatus.IN_SERVICE


def test_the_endpoint_of_a_model_is_its_newest_in_service(store: ModelRunStore) -> None:
    with pytest.raises(NotFoundError, match=r"modelName: no endpoint in service for 'effort'"):
        store.endpoint_for("effort")
    store.deploy("e1", "effort", "r1", "s3://b/1", limit=3)
    store.deploy("e2", "effort", "r2", "s3://b/2", limit=3)
    store.deploy("e3", "other", "r3", "s3://b/3", limit=3)
    assert store.endpoint_for("effort")["endpoint_id"] == "e2"
    assert store.endpoint_for("e1") == store.endpoints()[2]  # by endpoint id
    assert store.endpoint_for("other")["run_id"] == "r3"
    store.deploy("e4", "effort", "r4", "s3://b/4", limit=1)  # e1..e3 deleted
    assert store.endpoint_for("effort")["endpoint_id"] == "e4"
    for gone in ("other", "e1"):
        with pytest.raises(NotFoundError, match="labellake model train"):
            store.endpoint_for(gone)
