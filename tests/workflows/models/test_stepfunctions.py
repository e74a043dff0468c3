"""Model runs on AWS: the generated state machine executed on moto's ASL interpreter,
SQS on moto, and the SageMaker calls checked with botocore's Stubber against the
service model; the training script run here from its source bundle."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from labellake import sql
from labellake.errors import LabellakeError
from labellake.lake import Lake, ObjectStore
from labellake.workflows.models import dataset as datasets
from labellake.workflows.models import sagemaker
from labellake.workflows.models.sqlite_store import SqliteModelRunStore
from labellake.workflows.models.stepfunctions import ModelStateMachine, ModelWorker, definition
from labellake.workflows.models.store import RunStatus
from labellake.workflows.models.workflow import ModelConfig, ModelWorkflow, RunRequest
from labellake.workflows.statedb import StateDb

ROLE = "arn:aws:iam::123456789012:role/labellake-groundtruth"
STATES_ROLE = "arn:aws:iam::123456789012:role/labellake-states"
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def arn(kind: str, name: str = "x") -> str:
    return f"arn:aws:sagemaker:us-east-1:123456789012:{kind}/{name}"


def effort_frame(rows: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = rng.integers(5, 60, rows).astype(float)
    objects = rng.integers(1, 8, rows).astype(float)
    shape = rng.choice(["box", "polyline"], rows)
    return pd.DataFrame(
        {
            "frames": frames,
            "objects": objects,
            "shape_type": shape,
            "seconds": 20 + 3 * frames * objects * np.where(shape == "box", 1.0, 1.5),
        }
    )


def effort_data() -> datasets.Dataset:
    import pyarrow as pa

    return datasets.from_arrow(pa.Table.from_pandas(effort_frame()), "seconds", "test rows")


# -- the definition and the request shapes ---------------------------------------------------


def test_the_definition_chooses_the_mode_and_catches_every_task() -> None:
    machine = definition("https://sqs/q", 7200)
    states = machine["States"]
    assert machine["StartAt"] == "Mode"
    assert states["Mode"]["Choices"][0]["Next"] == "TuneModel"
    assert states["Mode"]["Default"] == "TrainModel"
    for name in ("TrainModel", "TuneModel", "CreateModel", "DeployEndpoint", "Ready"):
        assert states[name]["Catch"][0]["Next"] == "ModelError"
        assert states[name]["Resource"].endswith("sqs:sendMessage.waitForTaskToken")
        assert 0 < states[name]["HeartbeatSeconds"] < states[name]["TimeoutSeconds"]
    assert states["TrainModel"]["TimeoutSeconds"] == 7200
    assert states["ModelError"]["Next"] == "Failed"


SPEC = {
    "run_id": "labeling-effort-hpo-20261126-120000-abcd",
    "model_name": "labeling-effort",
    "estimator": "gradient_boosting",
    "target": "seconds",
    "numeric": ["frames", "objects"],
    "categorical": ["shape_type"],
    "seed": 0,
}


@pytest.mark.parametrize("region", sorted(sagemaker.SKLEARN_ACCOUNTS))
def test_every_request_matches_the_service_model(region: str) -> None:
    client = boto3.client("sagemaker", region_name=region)
    stubber = Stubber(client)
    image = sagemaker.image_uri(region)
    assert image.startswith(f"{sagemaker.SKLEARN_ACCOUNTS[region]}.dkr.ecr.{region}.")
    setup = sagemaker.JobSetup(
        image,
        ROLE,
        region,
        data_uri="s3://b/d",
        output_uri="s3://b/o",
        source_uri="s3://b/s.tar.gz",
    )
    training = sagemaker.training_job("job-a", SPEC, {"max_iter": 50}, setup)
    tuning = sagemaker.tuning_job(sagemaker.job_name(SPEC["run_id"], 32), SPEC, 20, setup)
    mlp = sagemaker.tuning_job("tune-mlp", {**SPEC, "estimator": "mlp"}, 4, setup)
    model = sagemaker.model("m", image, "s3://b/o/model.tar.gz", "s3://b/s.tar.gz", ROLE, region)
    config = sagemaker.endpoint_config("e", "m")
    stubber.add_response("create_training_job", {"TrainingJobArn": arn("training-job")}, training)
    stubber.add_response(
        "create_hyper_parameter_tuning_job",
        {"HyperParameterTuningJobArn": arn("hyper-parameter-tuning-job")},
        tuning,
    )
    stubber.add_response(
        "create_hyper_parameter_tuning_job",
        {"HyperParameterTuningJobArn": arn("hyper-parameter-tuning-job")},
        mlp,
    )
    stubber.add_response("create_model", {"ModelArn": arn("model")}, model)
    stubber.add_response(
        "create_endpoint_config", {"EndpointConfigArn": arn("endpoint-config")}, config
    )
    with stubber:
        client.create_training_job(**training)
        client.create_hyper_parameter_tuning_job(**tuning)
        client.create_hyper_parameter_tuning_job(**mlp)
        client.create_model(**model)
        client.create_endpoint_config(**config)
    stubber.assert_no_pending_responses()
    config_of_tuning = tuning["HyperParameterTuningJobConfig"]
    assert config_of_tuning["Strategy"] == "Bayesian"
    assert config_of_tuning["HyperParameterTuningJobObjective"] == {
        "Type": "Minimize",
        "MetricName": "validation:p95_abs_error",
    }
    assert len(tuning["HyperParameterTuningJobName"]) <= 32
    ranges = mlp["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["CategoricalParameterRanges"][0]["Name"] == "solver"


def test_a_region_without_the_container_names_the_setting() -> None:
    with pytest.raises(LabellakeError, match="aws_region 'xx-nowhere-1'"):
        sagemaker.image_uri("xx-nowhere-1")


# -- the training script from its bundle ---------------------------------------------------


def test_the_source_bundle_trains_and_serves_on_its_own(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    with tarfile.open(fileobj=io.BytesIO(sagemaker.source_bundle()), mode="r:gz") as tar:
        tar.extractall(bundle, filter="data")
    channel, model_dir = tmp_path / "train", tmp_path / "model"
    channel.mkdir()
    effort_frame().to_csv(channel / "train.csv", index=False)
    setup = sagemaker.JobSetup(
        "image", ROLE, "us-east-1", "s3://b/d", "s3://b/o", "s3://b/s.tar.gz"
    )
    static = sagemaker.static_hyperparameters(SPEC, setup)
    hps = {k: json.dumps(v) for k, v in {**static, "estimator": "gradient_boosting"}.items()}
    hps["max_iter"] = "60"  # a tuned value arrives as its own hyperparameter
    env = {
        **os.environ,
        "SM_HPS": json.dumps(hps),
        "SM_CHANNEL_TRAIN": str(channel),
        "SM_MODEL_DIR": str(model_dir),
    }
    done = subprocess.run(
        [sys.executable, "-I", str(bundle / sagemaker.ENTRY_POINT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [line] = [ln for ln in done.stdout.splitlines() if ln.startswith("validation:p95_abs_error=")]
    assert float(line.split("=", 1)[1]) > 0
    # The bundle's own labellake is the one imported: nothing else of the project is needed.
    where = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(bundle)!r}); "
            "import labellake.workflows.models.estimators as e; print(e.__file__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip().startswith(str(bundle))
    sys.path.insert(0, str(bundle))
    try:
        import importlib

        script = importlib.import_module("sagemaker_train")
        loaded = script.model_fn(str(model_dir))
        rows = script.input_fn(
            json.dumps([{"frames": 10, "objects": 2, "shape_type": "box"}]), "application/json"
        )
        [prediction] = script.predict_fn(rows, loaded)
    finally:
        sys.path.remove(str(bundle))
    assert loaded["params"]["max_iter"] == 60
    assert 20 < prediction < 400


# -- end to end on the state machine ----------------------------------------------------------


class Setup:
    def __init__(self, tmp_path: Path, endpoint: str, prefix: str, max_endpoints: int = 5) -> None:
        kwargs = {"endpoint_url": endpoint, "region_name": "us-east-1"}
        self.sfn = boto3.client("stepfunctions", **kwargs)
        self.sqs = boto3.client("sqs", **kwargs)
        self.sqs.create_queue(QueueName=f"{prefix}-model-tasks")
        self.sm = boto3.client("sagemaker", region_name="us-east-1")
        self.stubber = Stubber(self.sm)
        self.stubber.activate()
        self.objects = ObjectStore.from_uri(tmp_path / "objects")
        self.workflow = ModelWorkflow(
            SqliteModelRunStore(StateDb(tmp_path / "state.db")),
            self.objects,
            Lake(ObjectStore.from_uri(tmp_path / "lake"), views=sql.views()),
            ModelConfig(max_endpoints=max_endpoints),
        )
        self.machine = ModelStateMachine(
            self.sfn,
            self.sqs,
            self.sm,
            self.objects,
            f"{prefix}-model-tasks",
            STATES_ROLE,
            ROLE,
            prefix,
            "us-east-1",
            timeout_s=3600,
        )
        self.workflow.orchestrator = self.machine
        self.worker = ModelWorker(self.workflow, self.machine, poll_s=0)

    def start(self, request: RunRequest) -> str:
        data = effort_data()
        run_id = self.workflow.submit(request, data)
        self.machine.start(self.workflow.registry, run_id, request, data)
        return run_id

    def work_until_final(self, run_id: str, seconds: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.worker.step(wait_s=0)
            run = self.workflow.describe(run_id)
            if run["status"] in (RunStatus.READY, RunStatus.ERROR):
                return run
            time.sleep(0.1)
        raise AssertionError(f"run {run_id} still {self.workflow.describe(run_id)['status']}")

    def execution(self, run_id: str) -> str:
        arn = self.workflow.registry.run(run_id)["execution_arn"]
        deadline = time.monotonic() + 30
        while True:
            self.worker.step(wait_s=0)  # the execution's last steps (Ready, ModelError)
            status = self.sfn.describe_execution(executionArn=arn)["status"]
            if status != "RUNNING" or time.monotonic() > deadline:
                return str(status)
            time.sleep(0.2)

    def expect_deploy(self, endpoint: str, model: str) -> None:
        self.stubber.add_response(
            "create_model",
            {"ModelArn": arn("model")},
            {"ModelName": model, "PrimaryContainer": ANY, "ExecutionRoleArn": ROLE},
        )
        self.stubber.add_response(
            "create_endpoint_config",
            {"EndpointConfigArn": arn("endpoint-config")},
            {"EndpointConfigName": endpoint, "ProductionVariants": ANY},
        )
        self.stubber.add_response(
            "create_endpoint",
            {"EndpointArn": arn("endpoint")},
            {"EndpointName": endpoint, "EndpointConfigName": endpoint},
        )
        self.stubber.add_response(
            "describe_endpoint",
            {
                "EndpointName": endpoint,
                "EndpointArn": arn("endpoint"),
                "EndpointConfigName": endpoint,
                "EndpointStatus": "InService",
                "CreationTime": NOW,
                "LastModifiedTime": NOW,
            },
            {"EndpointName": endpoint},
        )


def _training(name: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "TrainingJobStatus": status,
        "SecondaryStatus": "Completed" if status == "Completed" else "Failed",
        "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {},
        "CreationTime": NOW,
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://b/{name}/output/model.tar.gz"},
        **extra,
    }


def test_a_train_run_goes_to_ready_on_sagemaker(tmp_path: Path, sfn_endpoint: str) -> None:
    setup = Setup(tmp_path, sfn_endpoint, "mdl-train", max_endpoints=1)
    runs = []
    for number in range(2):
        request = RunRequest(model_name=f"effort{number}", params={"max_iter": 80})
        run_id = setup.start(request)
        name = sagemaker.job_name(run_id)
        endpoint = sagemaker.job_name(f"{run_id}-endpoint")
        setup.stubber.add_response(
            "create_training_job",
            {"TrainingJobArn": arn("training-job")},
            {
                "TrainingJobName": name,
                "HyperParameters": ANY,
                "AlgorithmSpecification": ANY,
                "RoleArn": ROLE,
                "InputDataConfig": ANY,
                "OutputDataConfig": ANY,
                "ResourceConfig": ANY,
                "StoppingCondition": ANY,
                "Tags": ANY,
            },
        )
        setup.stubber.add_response(
            "describe_training_job",
            _training(
                name,
                "Completed",
                FinalMetricDataList=[
                    {"MetricName": "validation:p95_abs_error", "Value": 12.5, "Timestamp": NOW}
                ],
            ),
            {"TrainingJobName": name},
        )
        setup.expect_deploy(endpoint, sagemaker.job_name(f"{run_id}-model"))
        if number == 1:  # the limit is 1: the first endpoint goes
            oldest = sagemaker.job_name(f"{runs[0]}-endpoint")
            setup.stubber.add_response("delete_endpoint", {}, {"EndpointName": oldest})
            setup.stubber.add_response("delete_endpoint_config", {}, {"EndpointConfigName": oldest})
        run = setup.work_until_final(run_id)
        assert run["status"] == RunStatus.READY, run["cause"]
        assert run["endpoint_id"] == endpoint
        assert run["artifact_uri"] == f"s3://b/{name}/output/model.tar.gz"
        assert run["metrics"]["p95_abs_error"] == 12.5
        assert setup.execution(run_id) == "SUCCEEDED"
        runs.append(run_id)
    setup.stubber.assert_no_pending_responses()
    endpoints = {e["run_id"]: e["status"] for e in setup.workflow.registry.endpoints()}
    assert endpoints == {runs[0]: "Deleted", runs[1]: "InService"}
    # Inference goes to the SageMaker endpoint, checked against the run's features.
    runtime = boto3.client("sagemaker-runtime", region_name="us-east-1")
    setup.machine.runtime = runtime
    answer = b"[41.5, 63.0]"
    with Stubber(runtime) as invoked:
        invoked.add_response(
            "invoke_endpoint",
            {
                "Body": StreamingBody(io.BytesIO(answer), len(answer)),
                "ContentType": "application/json",
            },
            {
                "EndpointName": sagemaker.job_name(f"{runs[1]}-endpoint"),
                "ContentType": "application/json",
                "Accept": "application/json",
                "Body": json.dumps(
                    [
                        {"frames": 10.0, "objects": 2.0, "shape_type": "box"},
                        {"frames": 20.0, "objects": 2.0, "shape_type": "box"},
                    ]
                ).replace(" ", ""),
            },
        )
        predicted = setup.workflow.infer(
            "effort1",
            [
                {"frames": 10, "objects": 2, "shape_type": "box"},
                {"frames": 20, "objects": 2, "shape_type": "box"},
            ],
        )
    assert predicted["predictions"] == [41.5, 63.0]
    with pytest.raises(LabellakeError, match="missing feature\\(s\\) objects"):
        setup.workflow.infer("effort1", {"frames": 3, "shape_type": "box"})
    hyper = json.loads(setup.objects.read_text(f"models/effort0/{runs[0]}/run.json"))
    assert hyper["numeric"] == ["frames", "objects"] and hyper["categorical"] == ["shape_type"]
    assert setup.objects.exists(f"models/effort0/{runs[0]}/data/train.csv")


def test_a_failed_training_job_ends_the_run_in_error(tmp_path: Path, sfn_endpoint: str) -> None:
    setup = Setup(tmp_path, sfn_endpoint, "mdl-fail")
    run_id = setup.start(RunRequest(model_name="failing"))
    name = sagemaker.job_name(run_id)
    setup.stubber.add_response("create_training_job", {"TrainingJobArn": arn("training-job")}, None)
    setup.stubber.add_response(
        "describe_training_job",
        _training(name, "Failed", FailureReason="AlgorithmError: target column is empty"),
        {"TrainingJobName": name},
    )
    run = setup.work_until_final(run_id)
    assert run["status"] == RunStatus.ERROR and run["error"] == "TrainingFailed"
    assert "target column is empty" in run["cause"]
    assert setup.execution(run_id) == "FAILED"
    assert setup.workflow.registry.endpoints() == []
    setup.stubber.assert_no_pending_responses()


def test_an_hpo_run_records_the_tuning_jobs_trials(tmp_path: Path, sfn_endpoint: str) -> None:
    setup = Setup(tmp_path, sfn_endpoint, "mdl-hpo")
    run_id = setup.start(RunRequest(model_name="tuned", mode="HPO", trials=2))
    tuning = sagemaker.job_name(run_id, 32)
    best = f"{tuning}-002-abc"
    setup.stubber.add_response(
        "create_hyper_parameter_tuning_job",
        {"HyperParameterTuningJobArn": arn("hyper-parameter-tuning-job")},
        None,
    )
    summaries = [
        {
            "TrainingJobName": f"{tuning}-00{n}-abc",
            "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:1:training-job/{tuning}-00{n}",
            "CreationTime": NOW + dt.timedelta(minutes=n),
            "TrainingStartTime": NOW + dt.timedelta(minutes=n),
            "TrainingEndTime": NOW + dt.timedelta(minutes=n + 2),
            "TrainingJobStatus": "Completed",
            "TunedHyperParameters": {"learning_rate": "0.05", "max_iter": str(60 + n)},
            "FinalHyperParameterTuningJobObjectiveMetric": {
                "MetricName": "validation:p95_abs_error",
                "Value": 20.0 - n,
            },
        }
        for n in (1, 2)
    ]
    setup.stubber.add_response(
        "describe_hyper_parameter_tuning_job",
        {
            "HyperParameterTuningJobName": tuning,
            "HyperParameterTuningJobArn": arn("hyper-parameter-tuning-job"),
            "HyperParameterTuningJobConfig": {
                "Strategy": "Bayesian",
                "ResourceLimits": {"MaxParallelTrainingJobs": 2},
            },
            "HyperParameterTuningJobStatus": "Completed",
            "CreationTime": NOW,
            "TrainingJobStatusCounters": {},
            "ObjectiveStatusCounters": {},
            "BestTrainingJob": summaries[1],
        },
        {"HyperParameterTuningJobName": tuning},
    )
    setup.stubber.add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {"TrainingJobSummaries": summaries},
        {"HyperParameterTuningJobName": tuning},
    )
    setup.stubber.add_response(
        "describe_training_job", _training(best, "Completed"), {"TrainingJobName": best}
    )
    setup.expect_deploy(
        sagemaker.job_name(f"{run_id}-endpoint"), sagemaker.job_name(f"{run_id}-model")
    )
    run = setup.work_until_final(run_id)
    assert run["status"] == RunStatus.READY, run["cause"]
    assert [t["value"] for t in run["trials"]] == [19.0, 18.0]
    assert run["params"] == {
        "estimator": "gradient_boosting",
        "learning_rate": 0.05,
        "max_iter": 62,
    }
    assert run["metrics"]["p95_abs_error"] == 18.0
    setup.stubber.assert_no_pending_responses()
