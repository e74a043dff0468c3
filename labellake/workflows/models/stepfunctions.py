"""Model runs on AWS: a Step Functions state machine drives the same statuses with
SageMaker training and tuning jobs, CreateModel, CreateEndpointConfig, CreateEndpoint,
and deletes the oldest endpoint beyond the limit.

The definition: Mode (a Choice on TRAIN or HPO) -> TrainModel or TuneModel ->
CreateModel -> DeployEndpoint -> Ready; any error is caught by ModelError, which
records the run ERROR with the error and its cause. Each Task hands its step to
Python workers through ``sqs:sendMessage.waitForTaskToken`` on the model steps
queue; a worker starts the SageMaker job, keeps the task token with the run, polls
the job (sending heartbeats) and answers SendTaskSuccess or SendTaskFailure. A step
delivered twice finds its job already there and starts nothing new. An execution that
ends FAILED, TIMED_OUT or ABORTED where no step of ours runs (a States.Runtime error, a
queue it cannot reach, a stop in the console) never reaches ModelError, so workers
describe the execution of every unfinished run, once per EXECUTION_CHECK_S, and record
the run ERROR with the first failure in its history. The worker's loop never dies of a
failed step: it logs it and backs off (``workflows/loop.py``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from labellake.errors import LabellakeError
from labellake.lake import ObjectStore
from labellake.workflows.aws import stepfunctions as steps
from labellake.workflows.loop import Backoff, Pulse
from labellake.workflows.models import sagemaker
from labellake.workflows.models.dataset import Dataset
from labellake.workflows.models.store import FINAL_STATUSES, ModelRunStore, RunStatus

log = logging.getLogger(__name__)

STEPS = ("train", "tune", "create_model", "deploy", "ready", "error")
FAILED_STATE_ERROR = "ModelRunFailed"  # the Failed state's error: the cause is in the run


def definition(queue_url: str, timeout_s: int) -> dict[str, Any]:
    """The ASL definition of a model run (TRAIN or HPO)."""
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "ModelError"}]

    def task(step: str, next_state: str, timeout: int, **extra: Any) -> dict[str, Any]:
        return {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {
                "QueueUrl": queue_url,
                "MessageBody": {
                    "step": step,
                    "runId.$": "$.runId",
                    "spec.$": "$.spec",
                    "taskToken.$": "$$.Task.Token",
                    **extra,
                },
            },
            "ResultPath": None,
            "TimeoutSeconds": timeout,
            "HeartbeatSeconds": steps.heartbeat_s(timeout),
            "Next": next_state,
        }

    return {
        "Comment": "labellake model run: train or tune, create the model, deploy the endpoint",
        "StartAt": "Mode",
        "States": {
            "Mode": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.mode", "StringEquals": "HPO", "Next": "TuneModel"}],
                "Default": "TrainModel",
            },
            "TrainModel": {**task("train", "CreateModel", timeout_s), "Catch": catch},
            "TuneModel": {**task("tune", "CreateModel", timeout_s), "Catch": catch},
            "CreateModel": {**task("create_model", "DeployEndpoint", 900), "Catch": catch},
            "DeployEndpoint": {**task("deploy", "Ready", 3600), "Catch": catch},
            "Ready": {**task("ready", "Done", 300), "Catch": catch},
            "ModelError": {
                **task("error", "Failed", 300, **{"error.$": "$.error"}),
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
            },
            "Done": {"Type": "Succeed"},
            "Failed": {
                "Type": "Fail",
                "Error": FAILED_STATE_ERROR,
                "Cause": "see the run's cause",
            },
        },
    }


class ModelStateMachine:
    """Starts model runs on the state machine; holds the AWS clients the worker uses."""

    def __init__(
        self,
        sfn: Any,
        sqs: Any,
        sagemaker_client: Any,
        objects: ObjectStore,
        queue_name: str,
        states_role_arn: str,
        sagemaker_role_arn: str,
        prefix: str,
        region: str,
        timeout_s: int = 6 * 3600,
        runtime: Any = None,
    ) -> None:
        self.runtime = runtime  # sagemaker-runtime, for inference on the endpoints
        self.sfn = sfn
        self.sqs = sqs
        self.sagemaker = sagemaker_client
        self.objects = objects
        self.queue_name = queue_name
        self.states_role_arn = states_role_arn
        self.sagemaker_role_arn = sagemaker_role_arn
        self.prefix = prefix
        self.region = region
        self.timeout_s = timeout_s
        self._queue_url: str | None = None
        self._machine: str | None = None
        self._lock = threading.Lock()

    @property
    def queue_url(self) -> str:
        if self._queue_url is None:
            self._queue_url = steps.queue_url(self.sqs, self.queue_name, "model steps")
        return self._queue_url

    def state_machine(self) -> str:
        with self._lock:
            if self._machine is not None:
                return self._machine
            self._machine = steps.ensure_state_machine(
                self.sfn,
                f"{self.prefix}-models",
                definition(self.queue_url, self.timeout_s),
                self.states_role_arn,
            )
            return self._machine

    def remote(self, run: dict[str, Any], endpoint: dict[str, Any]) -> dict[str, Any] | None:
        """The served form of a run trained on SageMaker (None for one trained here): its
        features and their ranges from the run's spec, predictions from its endpoint."""
        if not str(endpoint["artifact_uri"]).endswith(".tar.gz") or self.runtime is None:
            return None
        folder = f"models/{run['model_name']}/{run['run_id']}"
        spec = json.loads(self.objects.read_text(f"{folder}/run.json"))
        features = [*spec["numeric"], *spec["categorical"]]
        return {
            "model": RemoteModel(self.runtime, endpoint["endpoint_id"], features),
            "model_name": spec["model_name"],
            "target": spec["target"],
            "numeric": spec["numeric"],
            "categorical": spec["categorical"],
            "profile": spec["profile"],
        }

    def start(self, registry: ModelRunStore, run_id: str, request: Any, data: Dataset) -> str:
        """Put the run's data and code on S3 and start its execution."""
        folder = f"models/{request.model_name}/{run_id}"
        columns = [*data.features, data.target]
        self.objects.write_text(f"{folder}/data/train.csv", data.frame[columns].to_csv(index=False))
        source_uri = self.objects.write_bytes(f"{folder}/source.tar.gz", sagemaker.source_bundle())
        spec = {
            "run_id": run_id,
            "model_name": request.model_name,
            "mode": request.mode,
            "estimator": request.estimator or "gradient_boosting",
            "params": request.params or {},
            "trials": request.trials,
            "seed": request.seed,
            "target": data.target,
            "numeric": data.numeric,
            "categorical": data.categorical,
            "profile": data.profile(),
            "data_uri": self.objects.uri(f"{folder}/data"),
            "output_uri": self.objects.uri(f"{folder}/output"),
            "source_uri": source_uri,
        }
        spec_uri = self.objects.write_text(f"{folder}/run.json", json.dumps(spec))
        try:
            arn = self.sfn.start_execution(
                stateMachineArn=self.state_machine(),
                name=sagemaker.job_name(run_id, 80),
                input=json.dumps({"runId": run_id, "mode": request.mode, "spec": spec_uri}),
            )["executionArn"]
        except ClientError as exc:
            raise LabellakeError(
                f"model run {run_id}: cannot start its execution "
                f"({exc.response.get('Error', {}).get('Message', exc)})"
            ) from exc
        registry.move(run_id, RunStatus.TRAINING_MODEL, execution_arn=str(arn))
        return str(arn)


class RemoteModel:
    """A SageMaker endpoint with the ``predict`` of a local model: rows go as JSON to
    InvokeEndpoint and the training script's predict_fn answers."""

    def __init__(self, runtime: Any, endpoint: str, features: list[str]) -> None:
        self.runtime = runtime
        self.endpoint = endpoint
        self.features = features

    def predict(self, frame: Any) -> list[float]:
        body = frame[self.features].to_json(orient="records")
        try:
            answer = self.runtime.invoke_endpoint(
                EndpointName=self.endpoint,
                ContentType="application/json",
                Accept="application/json",
                Body=body,
            )
        except ClientError as exc:
            raise LabellakeError(
                f"endpoint {self.endpoint} did not answer: "
                f"{exc.response.get('Error', {}).get('Message', exc)}"
            ) from exc
        return [float(v) for v in json.loads(answer["Body"].read())]


class ModelWorker:
    """Runs the steps of model runs that the state machine hands out."""

    def __init__(
        self,
        workflow: Any,
        machine: ModelStateMachine,
        poll_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        backoff: Backoff | None = None,
        execution_check_s: float = steps.EXECUTION_CHECK_S,
    ) -> None:
        self.workflow = workflow
        self.registry: ModelRunStore = workflow.registry
        self.machine = machine
        self.sm = machine.sagemaker
        self.poll_s = poll_s
        self.answers = steps.Answers(machine.sfn, clock)
        self.backoff = backoff or Backoff()
        self.pulse = Pulse()
        self.executions = steps.Interval(execution_check_s, clock)

    def run(self, stop: threading.Event, until: Callable[[], bool] | None = None) -> None:
        steps.work(self.step, stop, self.poll_s, until, self.pulse, self.backoff, "model worker")

    def step(self, wait_s: int = 0) -> bool:
        received = steps.receive(self.machine.sqs, self.machine.queue_url, self.handle, wait_s)
        checked = self.check()
        ended = self.check_executions()
        return checked or ended or received

    # -- steps -------------------------------------------------------------------------------

    def handle(self, body: str) -> None:
        try:
            message = json.loads(body)
            step, run_id, token = message["step"], message["runId"], message["taskToken"]
            spec_uri = message["spec"]
        except (json.JSONDecodeError, KeyError, TypeError):
            log.warning("ignoring a message that is not a model step: %.200s", body)
            return
        try:
            spec = json.loads(self.machine.objects.read_text(_key(self.machine.objects, spec_uri)))
            run = self.registry.run(run_id)
            if step == "error":
                error = message.get("error") or {}
                self.registry.move(
                    run_id,
                    RunStatus.ERROR,
                    expected=_other_than(RunStatus.ERROR),
                    error=str(error.get("Error") or "ModelRunFailed"),
                    cause=str(error.get("Cause") or "no cause given"),
                )
                self.registry.set_task(run_id, None, None)
                self.answers.succeed(token)
            elif step in ("train", "tune"):
                self._start_training(step, spec, run, token)
            elif step == "create_model":
                self._create_model(spec, run, token)
            elif step == "deploy":
                self._deploy(spec, run, token)
            elif step == "ready":
                self.registry.move(
                    run_id,
                    RunStatus.READY,
                    expected=_other_than(RunStatus.READY),
                    endpoint_id=self._endpoint_name(run_id),
                )
                self.answers.succeed(token)
            else:
                self.answers.fail(token, "UnknownStep", f"no model step '{step}'")
        except LabellakeError as exc:
            self._fail_run(run_id, token, "InvalidInput", str(exc))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            self._fail_run(
                run_id, token, str(error.get("Code") or "ClientError"), str(error.get("Message"))
            )

    def _names(self, run_id: str) -> dict[str, str]:
        return {
            "training": sagemaker.job_name(run_id),
            "tuning": sagemaker.job_name(run_id, 32),
            "model": sagemaker.job_name(f"{run_id}-model"),
        }

    def _endpoint_name(self, run_id: str) -> str:
        return sagemaker.job_name(f"{run_id}-endpoint")

    def _start_training(
        self, step: str, spec: dict[str, Any], run: dict[str, Any], token: str
    ) -> None:
        setup = sagemaker.JobSetup(
            image=sagemaker.image_uri(self.machine.region),
            role_arn=self.machine.sagemaker_role_arn,
            region=self.machine.region,
            data_uri=spec["data_uri"],
            output_uri=spec["output_uri"],
            source_uri=spec["source_uri"],
        )
        names = self._names(spec["run_id"])
        if step == "train":
            name = names["training"]
            request = sagemaker.training_job(name, spec, spec["params"], setup)
            create = self.sm.create_training_job
        else:
            name = names["tuning"]
            request = sagemaker.tuning_job(name, spec, int(spec["trials"]), setup)
            create = self.sm.create_hyper_parameter_tuning_job
        if run["backend_job"] != name:  # a step delivered twice starts nothing new
            try:
                create(**request)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceInUse":
                    raise
        self.registry.set_task(spec["run_id"], step, token, name)
        self._check(self.registry.run(spec["run_id"]))

    def _create_model(self, spec: dict[str, Any], run: dict[str, Any], token: str) -> None:
        self.registry.move(
            run["run_id"], RunStatus.CREATING_MODEL, expected=[RunStatus.TRAINING_MODEL]
        )
        if not run["artifact_uri"]:
            raise LabellakeError(f"model run {run['run_id']} has no trained artifact")
        request = sagemaker.model(
            self._names(run["run_id"])["model"],
            sagemaker.image_uri(self.machine.region),
            run["artifact_uri"],
            spec["source_uri"],
            self.machine.sagemaker_role_arn,
            self.machine.region,
        )
        try:
            self.sm.create_model(**request)
        except ClientError as exc:
            if "already exist" not in str(exc.response.get("Error", {}).get("Message", "")):
                raise
        self.answers.succeed(token)

    def _deploy(self, spec: dict[str, Any], run: dict[str, Any], token: str) -> None:
        self.registry.move(
            run["run_id"], RunStatus.DEPLOYING_ENDPOINT, expected=[RunStatus.CREATING_MODEL]
        )
        endpoint = self._endpoint_name(run["run_id"])
        if run["backend_job"] != endpoint:
            for call, request in (
                (
                    self.sm.create_endpoint_config,
                    sagemaker.endpoint_config(endpoint, self._names(run["run_id"])["model"]),
                ),
                (
                    self.sm.create_endpoint,
                    {"EndpointName": endpoint, "EndpointConfigName": endpoint},
                ),
            ):
                try:
                    call(**request)
                except ClientError as exc:
                    if "already exist" not in str(exc.response.get("Error", {}).get("Message")):
                        raise
        self.registry.set_task(run["run_id"], "deploy", token, endpoint)
        self._check(self.registry.run(run["run_id"]))

    # -- watching SageMaker ------------------------------------------------------------------

    def check(self) -> bool:
        moved = False
        for run in self.registry.waiting():
            try:
                moved = self._check(run) or moved
            except ClientError as exc:
                log.warning("model run %s: %s", run["run_id"], exc)
        return moved

    def _check(self, run: dict[str, Any]) -> bool:
        step, token, name = run["step"], run["task_token"], run["backend_job"]
        if step == "train":
            described = self.sm.describe_training_job(TrainingJobName=name)
            status = described["TrainingJobStatus"]
            if status == "Completed":
                metrics = {
                    m["MetricName"]: m["Value"] for m in described.get("FinalMetricDataList", [])
                }
                self.registry.move(
                    run["run_id"],
                    RunStatus.TRAINING_MODEL,
                    artifact_uri=described["ModelArtifacts"]["S3ModelArtifacts"],
                    metrics={"p95_abs_error": metrics.get(sagemaker.OBJECTIVE)},
                    params={"estimator": run["request"].get("estimator") or "gradient_boosting"},
                )
                return self._done(run, token)
            if status in ("Failed", "Stopped"):
                return self._done(
                    run, token, "TrainingFailed", described.get("FailureReason") or status
                )
        elif step == "tune":
            described = self.sm.describe_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=name
            )
            status = described["HyperParameterTuningJobStatus"]
            if status == "Completed":
                best = described["BestTrainingJob"]
                self._record_trials(run["run_id"], name)
                job = self.sm.describe_training_job(TrainingJobName=best["TrainingJobName"])
                tuned = {
                    key: _decode(value)
                    for key, value in best.get("TunedHyperParameters", {}).items()
                }
                self.registry.move(
                    run["run_id"],
                    RunStatus.TRAINING_MODEL,
                    artifact_uri=job["ModelArtifacts"]["S3ModelArtifacts"],
                    params={
                        "estimator": run["request"].get("estimator") or "gradient_boosting",
                        **tuned,
                    },
                    metrics={
                        "p95_abs_error": best.get(
                            "FinalHyperParameterTuningJobObjectiveMetric", {}
                        ).get("Value"),
                        "best_training_job": best["TrainingJobName"],
                    },
                )
                return self._done(run, token)
            if status in ("Failed", "Stopped"):
                return self._done(
                    run, token, "TrainingFailed", described.get("FailureReason") or status
                )
        elif step == "deploy":
            described = self.sm.describe_endpoint(EndpointName=name)
            status = described["EndpointStatus"]
            if status == "InService":
                evicted = self.registry.deploy(
                    name,
                    run["model_name"],
                    run["run_id"],
                    run["artifact_uri"],
                    self.workflow.config.max_endpoints,
                )
                for old in evicted:
                    for call, params in (
                        (self.sm.delete_endpoint, {"EndpointName": old}),
                        (self.sm.delete_endpoint_config, {"EndpointConfigName": old}),
                    ):
                        try:
                            call(**params)
                        except ClientError:
                            log.warning("could not delete %s", old, exc_info=True)
                return self._done(run, token)
            if status == "Failed":
                return self._done(
                    run,
                    token,
                    "EndpointDeploymentFailed",
                    described.get("FailureReason") or status,
                )
        self.answers.heartbeat(token, steps.HEARTBEAT_S / 3)
        return False

    def check_executions(self) -> bool:
        """Record ERROR each unfinished run whose execution ended without finishing it; runs
        at most once per interval (one DescribeExecution per unfinished run)."""
        if not self.executions.due():
            return False
        moved = False
        for run in self.registry.executing():
            try:
                moved = self._check_execution(run) or moved
            except (ClientError, LabellakeError) as exc:
                log.warning("model run %s: cannot check its execution: %s", run["run_id"], exc)
        return moved

    def _check_execution(self, run: dict[str, Any]) -> bool:
        run_id, arn = run["run_id"], str(run["execution_arn"])
        ended = steps.ended_execution(self.machine.sfn, arn, "model run", FAILED_STATE_ERROR)
        if ended is None:
            return False
        error, cause = ended
        latest = self.registry.run(run_id)
        if latest["status"] in FINAL_STATUSES or latest["execution_arn"] != arn:
            return False  # finished meanwhile
        log.warning("model run %s: %s", run_id, cause)
        self.registry.set_task(run_id, None, None)
        self._fail_run(run_id, None, error, cause)
        return True

    def _record_trials(self, run_id: str, tuning_job: str) -> None:
        pages = self.sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
        jobs = [
            job
            for page in pages.paginate(HyperParameterTuningJobName=tuning_job)
            for job in page["TrainingJobSummaries"]
        ]
        for number, job in enumerate(sorted(jobs, key=lambda j: j["CreationTime"])):
            started, ended = job.get("TrainingStartTime"), job.get("TrainingEndTime")
            self.registry.add_trial(
                run_id,
                number,
                {k: _decode(v) for k, v in job.get("TunedHyperParameters", {}).items()},
                job.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value"),
                "COMPLETE" if job["TrainingJobStatus"] == "Completed" else "FAIL",
                (ended - started).total_seconds() if started and ended else 0.0,
            )

    def _done(
        self, run: dict[str, Any], token: str, error: str | None = None, cause: str = ""
    ) -> bool:
        self.registry.set_task(run["run_id"], None, None)
        if error:
            self._fail_run(run["run_id"], token, error, cause)
        else:
            self.answers.succeed(token)
        return True

    def _fail_run(self, run_id: str, token: str | None, error: str, cause: str) -> None:
        """Record the run ERROR with its cause (the execution's ModelError step finds it so),
        take back what SageMaker holds for a model that will never serve, fail the task
        (when there is one: an ended execution has none to answer)."""
        run = self.registry.run(run_id)
        if run["status"] in (RunStatus.CREATING_MODEL, RunStatus.DEPLOYING_ENDPOINT):
            endpoint = self._endpoint_name(run_id)
            for call, params in (
                (self.sm.delete_endpoint, {"EndpointName": endpoint}),
                (self.sm.delete_endpoint_config, {"EndpointConfigName": endpoint}),
                (self.sm.delete_model, {"ModelName": self._names(run_id)["model"]}),
            ):
                with contextlib.suppress(ClientError):  # never created
                    call(**params)
        self.registry.move(
            run_id,
            RunStatus.ERROR,
            expected=_other_than(RunStatus.ERROR),
            error=error,
            cause=cause,
            artifact_uri=None,
        )
        if token is not None:
            self.answers.fail(token, error, cause)


def _other_than(status: RunStatus) -> tuple[RunStatus, ...]:
    """Every status but ``status``: a move there from any other (once, however often asked)."""
    return tuple(s for s in RunStatus if s != status)


def _decode(value: str) -> Any:
    try:
        return json.loads(value)
    except (json.JSONDecodeError, TypeError):
        return value


def _key(objects: ObjectStore, uri: str) -> str:
    """The object key of a URI under the store's root."""
    root = objects.uri("")
    if not uri.startswith(root):
        raise LabellakeError(f"{uri} is outside the object store {root}")
    return uri[len(root) :].lstrip("/")
