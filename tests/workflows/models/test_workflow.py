"""The model workflow on a lake with finished batches: datasets, TRAIN and HPO runs,
endpoints and inference, through the library and the REST API."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from labellake.errors import LabellakeError, NotFoundError
from labellake.portal.api import create_app
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.models import dataset as datasets
from labellake.workflows.models import estimators
from labellake.workflows.models.sqlite_store import SqliteModelRunStore
from labellake.workflows.models.store import RunStatus
from labellake.workflows.models.workflow import (
    ModelConfig,
    ModelWorkflow,
    RunRequest,
    parse_run_request,
)

FEATURES = ["frames", "objects", "level", "shape_type", "modality", "team", "worker"]


@pytest.fixture(scope="module")
def lake_engine(
    tmp_path_factory: pytest.TempPathFactory,
) -> Engine:
    """Two finished reference batches over four clips: 32 labeling tasks in the lake."""
    from labellake import sql
    from labellake.lake import Lake, ObjectStore
    from labellake.workflows.labeling import lake_sync
    from labellake.workflows.labeling.backends.simulated import SimulatedBackend, SimulationConfig
    from labellake.workflows.labeling.sqlite_store import SqliteBatchStore
    from labellake.workflows.samples import synthetic
    from labellake.workflows.samples.demo import demo_request

    root = tmp_path_factory.mktemp("models")
    objects = ObjectStore.from_uri(root / "objects")
    backend = SimulatedBackend(objects, SimulationConfig(job_seconds=0))
    backend.poll_interval_s = 0
    engine = Engine(
        SqliteBatchStore(root / "state.db"),
        objects,
        Lake(ObjectStore.from_uri(root / "lake"), views=sql.views()),
        backend,
    )
    lake_sync.install(engine)
    for number, frames in enumerate((6, 14), start=1):
        samples = synthetic.generate(
            objects, dataset=f"samples/m{number}", clips=4, frames=frames, seed=number
        )
        assert engine.run_to_end(engine.submit(demo_request(f"m{number}", samples)), poll_s=0) == (
            "COMPLETE"
        )
    return engine


@pytest.fixture
def models(lake_engine: Engine) -> Callable[..., ModelWorkflow]:
    def make(**config: Any) -> ModelWorkflow:
        return ModelWorkflow(
            SqliteModelRunStore(lake_engine.state),
            lake_engine.objects,
            lake_engine.lake,
            ModelConfig(**config),
        )

    return make


def test_the_effort_dataset_has_one_row_per_task(lake_engine: Engine) -> None:
    data = datasets.from_sql(lake_engine.lake, None, None)
    assert len(data.frame) == 32 and data.target == "seconds"
    assert sorted(data.features) == sorted(FEATURES)
    assert set(data.numeric) == {"frames", "objects", "level"}
    assert set(data.frame["frames"]) == {6.0, 14.0}
    assert (data.y > 0).all()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            {"query": "select frames from (select 1 as frames)", "target": "secs"},
            "target column 'secs' is not in the dataset",
        ),
        ({"query": "select 1.0 as y, 'a' as x where false", "target": "y"}, "has no rows"),
        ({"query": "select 'slow' as y, 1 as x", "target": "y"}, "not numbers"),
        ({"csv": b"a,b\n1,2\n3,4,5\n", "target": "a"}, "is not a CSV file that parses"),
        ({"csv": b"a,b\n1,2\n", "target": "c"}, "target column 'c' is not in the dataset"),
    ],
)
def test_bad_data_is_refused_and_nothing_is_recorded(
    models: Callable[..., ModelWorkflow], source: dict[str, Any], message: str
) -> None:
    workflow = models()
    before = workflow.runs()
    csv = source.pop("csv", None)
    request = RunRequest(**source)
    with pytest.raises(LabellakeError, match=message):
        workflow.run(request, csv=csv)
    assert workflow.runs() == before


def test_a_train_run_reaches_ready_and_beats_the_median(
    models: Callable[..., ModelWorkflow],
) -> None:
    workflow = models()
    run_id = workflow.run(RunRequest(estimator="gradient_boosting", params={"max_iter": 100}))
    run = workflow.describe(run_id)
    assert run["status"] == RunStatus.READY, run["cause"]
    metrics = run["metrics"]
    assert {"p95_abs_error", "mae", "r2", "baseline_p95_abs_error", "baseline_mae"} <= set(metrics)
    assert metrics["p95_abs_error"] < metrics["baseline_p95_abs_error"]
    assert run["params"]["estimator"] == "gradient_boosting" and run["params"]["max_iter"] == 100
    assert workflow.objects.exists(run["artifact_uri"].split("/objects/", 1)[1])
    answer = workflow.infer(
        "labeling-effort",
        {
            "frames": 10,
            "objects": 3,
            "level": 1,
            "shape_type": "box",
            "modality": "VideoObjectTracking",
            "team": "any",
            "worker": "someone-new",
        },
        {"feature": "frames", "start": 5, "stop": 50, "num": 4},
    )
    assert answer["endpointId"] == run["endpoint_id"] and len(answer["predictions"]) == 1
    assert answer["range"]["values"] == [5.0, 20.0, 35.0, 50.0]
    sweep = answer["range"]["predictions"]
    assert sweep[-1] > sweep[0]  # more frames, more work


def test_hpo_records_every_trial_and_train_takes_the_best(
    models: Callable[..., ModelWorkflow],
) -> None:
    workflow = models(hpo_data_fraction=0.6)
    run_id = workflow.run(RunRequest(model_name="tuned", mode="HPO", trials=5))
    run = workflow.describe(run_id)
    assert run["status"] == RunStatus.READY, run["cause"]
    assert [t["number"] for t in run["trials"]] == [0, 1, 2, 3, 4]
    assert all(t["state"] == "COMPLETE" and t["value"] > 0 for t in run["trials"])
    assert run["metrics"]["trials"] == 5 and run["metrics"]["best_trial"] in range(5)
    assert run["metrics"]["hpo_rows"] < run["metrics"]["training_rows"]
    assert isinstance(run["metrics"]["importance"], dict)
    trained = workflow.describe(workflow.run(RunRequest(model_name="tuned")))
    assert trained["params"] == run["params"]


def test_a_failing_run_ends_in_error_and_registers_nothing(
    models: Callable[..., ModelWorkflow],
) -> None:
    workflow = models()
    run_id = workflow.run(
        RunRequest(model_name="broken", estimator="gradient_boosting", params={"learning_rate": -1})
    )
    run = workflow.describe(run_id)
    assert run["status"] == RunStatus.ERROR and run["error"] == "TrainingFailed"
    assert "learning_rate" in run["cause"]
    assert run["artifact_uri"] is None and run["endpoint_id"] is None
    assert not workflow.objects.list(f"models/broken/{run_id}")
    with pytest.raises(NotFoundError, match="no endpoint in service for 'broken'"):
        workflow.infer("broken", {})


def test_deploying_one_more_than_the_limit_deletes_the_oldest(
    models: Callable[..., ModelWorkflow],
) -> None:
    workflow = models(max_endpoints=2)
    runs = [
        workflow.run(RunRequest(model_name=f"limit-{n}", params={"max_iter": 20})) for n in range(3)
    ]
    live = [
        e
        for e in workflow.registry.endpoints(live_only=True)
        if e["model_name"].startswith("limit")
    ]
    endpoints = {e["run_id"]: e for e in workflow.registry.endpoints()}
    assert len(workflow.registry.endpoints(live_only=True)) == 2
    assert {e["run_id"] for e in live} <= set(runs[1:])
    oldest = endpoints[runs[0]]
    assert oldest["status"] == "Deleted" and "at most 2 live" in oldest["deleted_reason"]
    with pytest.raises(NotFoundError):
        workflow.infer("limit-0", {})


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"frames": 1}, "missing feature(s) objects, level, shape_type"),
        ({f: 1 for f in FEATURES} | {"colour": "red"}, "unknown feature(s) colour"),
        ({f: "x" for f in FEATURES}, "input.frames: 'x' is not a number"),
        ([], "give an object of feature"),
    ],
)
def test_inference_input_is_checked(
    models: Callable[..., ModelWorkflow], given: Any, message: str
) -> None:
    workflow = models()
    if not any(e["model_name"] == "labeling-effort" for e in workflow.registry.endpoints(True)):
        workflow.run(RunRequest(params={"max_iter": 20}))
    with pytest.raises(LabellakeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        workflow.infer("labeling-effort", given)


def test_the_api_trains_lists_and_infers(
    models: Callable[..., ModelWorkflow], lake_engine: Engine
) -> None:
    workflow = models()
    client = TestClient(create_app(lake_engine, models=workflow))
    answer = client.post("/model", json={"modelName": "api-model", "params": {"max_iter": 30}})
    assert answer.status_code == 200 and answer.json()["status"] == "TRAINING_MODEL"
    workflow.wait()
    runs = {r["runId"]: r for r in client.get("/model").json()["runs"]}
    assert all("taskToken" not in run for run in runs.values())
    assert runs[answer.json()["runId"]]["status"] == RunStatus.READY
    row = {
        "frames": 8,
        "objects": 2,
        "level": 2,
        "shape_type": "polyline",
        "modality": "VideoObjectTrackingAudit",
        "team": "t",
        "worker": "w",
    }
    inferred = client.post(
        "/infer",
        json={
            "modelName": "api-model",
            "input": row,
            "range": {"feature": "objects", "values": [1, 4]},
        },
    )
    assert inferred.status_code == 200, inferred.text
    assert len(inferred.json()["range"]["predictions"]) == 2
    missing = client.post("/infer", json={"modelName": "api-model", "input": {"frames": 8}})
    assert missing.status_code == 400 and "missing feature(s) objects" in missing.json()["message"]
    extra = client.post("/infer", json={"modelName": "api-model", "input": row | {"x": 1}})
    assert extra.status_code == 400 and "unknown feature(s) x" in extra.json()["message"]
    unknown = client.post("/infer", json={"modelName": "nothing-here", "input": row})
    assert unknown.status_code == 404
    bad = client.post("/model", json={"target": "nope"})
    assert bad.status_code == 400 and "target column 'nope'" in bad.json()["message"]
    typo = client.post("/hpo", json={"trails": 3})
    assert typo.status_code == 400 and "trails" in typo.json()["message"]
    tuned = client.post("/hpo", json={"modelName": "api-tuned", "trials": 2})
    assert tuned.status_code == 200
    workflow.wait()
    [hpo] = [r for r in client.get("/hpo").json()["runs"] if r["runId"] == tuned.json()["runId"]]
    assert hpo["status"] == RunStatus.READY and len(hpo["trials"]) == 2


def test_run_requests_name_the_bad_field() -> None:
    with pytest.raises(LabellakeError, match="estimator"):
        parse_run_request({"estimator": "forest"}, "TRAIN")
    with pytest.raises(LabellakeError, match="trials"):
        parse_run_request({"trials": 0}, "HPO")
    with pytest.raises(LabellakeError, match="params: depth not a hyperparameter"):
        estimators.check_params("gradient_boosting", {"depth": 3})
    assert json.loads(RunRequest(trials=3).model_dump_json(by_alias=True))["modelName"]
