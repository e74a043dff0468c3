"""The model workflow: TRAIN (train, register, deploy) and HPO (a Bayesian search,
then the best model trained, registered and deployed), with statuses in the model-run
store (``store.py``), and inference on the deployed endpoints.

A run's data is split once (seeded) into training and held-out rows; every model
is scored on the held-out rows with the 95th-percentile absolute error (the
objective), MAE and R², beside a baseline that always predicts the training
median. HPO trials see only a fraction of the training rows (``hpo_data_fraction``)
and train briefly, each scored on a validation part of that fraction.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import io
import logging
import os
import threading
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import joblib
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from labellake.errors import LabellakeError, NotFoundError
from labellake.lake import Lake, ObjectStore
from labellake.lake.inputs import InputPolicy
from labellake.lake.store import read_uri
from labellake.workflows.models import dataset as datasets
from labellake.workflows.models import estimators
from labellake.workflows.models.dataset import Dataset
from labellake.workflows.models.store import (
    FINAL_STATUSES,
    ModelRunStore,
    RunStatus,
)

if TYPE_CHECKING:
    from labellake.workflows.models.stepfunctions import ModelStateMachine

log = logging.getLogger(__name__)

EFFORT_MODEL = "labeling-effort"
NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"


class RunRequest(BaseModel):
    """What POST /model and POST /hpo take (and the CLI and the portal's form)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", strict=True)

    model_name: str = Field(EFFORT_MODEL, alias="modelName", pattern=NAME_PATTERN)
    mode: Literal["TRAIN", "HPO"] = "TRAIN"
    estimator: str | None = None
    params: dict[str, Any] | None = None
    query: str | None = None
    csv_uri: str | None = Field(None, alias="csvUri")
    target: str | None = None
    features: list[str] | None = None
    trials: int = Field(20, ge=1, le=500)
    seed: int = 0

    @field_validator("estimator")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        if value is not None and value not in estimators.ESTIMATORS:
            raise ValueError(f"'{value}' is not one of {', '.join(estimators.ESTIMATORS)}")
        return value


def parse_run_request(payload: dict[str, Any], mode: str) -> RunRequest:
    try:
        return RunRequest.model_validate({**payload, "mode": mode})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "request"
        raise LabellakeError(f"{where}: {first['msg']}") from exc


@dataclass
class ModelConfig:
    max_endpoints: int = 5
    hpo_data_fraction: float = 0.5
    held_out_fraction: float = 0.2


class ModelWorkflow:
    def __init__(
        self,
        registry: ModelRunStore,
        objects: ObjectStore,
        lake: Lake,
        config: ModelConfig | None = None,
        inputs: InputPolicy | None = None,
        orchestrator: ModelStateMachine | None = None,
    ) -> None:
        self.registry = registry  # the runs, trials and endpoints
        # Where a request's csvUri may point.
        self.inputs = inputs or InputPolicy.build([objects.root] if objects.is_local else [])
        self.objects = objects
        self.lake = lake
        self.config = config or ModelConfig()
        # On AWS: a ModelStateMachine; runs then train and deploy on SageMaker.
        self.orchestrator = orchestrator
        self._served: dict[str, dict[str, Any]] = {}  # endpoint id -> loaded artifact
        self._lock = threading.Lock()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    # -- starting runs ------------------------------------------------------------------

    def dataset(self, request: RunRequest, csv: bytes | None = None) -> Dataset:
        """Load and check the run's data (a clear error, and nothing recorded, if bad)."""
        if csv is not None:
            return datasets.from_csv(csv, request.target, request.features, name="uploaded CSV")
        if request.csv_uri:
            data = self.inputs.read(request.csv_uri, "csvUri")
            try:
                return datasets.from_csv(data, request.target, request.features, request.csv_uri)
            except LabellakeError as exc:
                raise type(exc)(f"csvUri: {exc}") from None
        return datasets.from_sql(self.lake, request.query, request.target, request.features)

    def submit(self, request: RunRequest, data: Dataset, actor: str | None = None) -> str:
        """Record the run (TRAINING_MODEL) and return its id."""
        if request.params is not None:
            estimators.check_params(request.estimator or "gradient_boosting", request.params)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        run_id = f"{request.model_name}-{request.mode.lower()}-{stamp}-{os.urandom(2).hex()}"
        self.registry.add_run(
            run_id,
            request.model_name,
            request.mode,
            request.model_dump(by_alias=True, exclude_none=True),
            data.source,
            len(data.frame),
            actor,
        )
        return run_id

    def run(self, request: RunRequest, actor: str | None = None, csv: bytes | None = None) -> str:
        """Load, record and carry out a run in this thread (on AWS: start its execution and
        work its steps here until it ends); returns its id."""
        data = self.dataset(request, csv)
        run_id = self.submit(request, data, actor)
        if self.orchestrator is None:
            self.execute(run_id, request, data)
            return run_id
        from labellake.workflows.models.stepfunctions import ModelWorker

        self.orchestrator.start(self.registry, run_id, request, data)
        ModelWorker(self, self.orchestrator).run(
            threading.Event(),
            until=lambda: self.registry.run(run_id)["status"] in FINAL_STATUSES,
        )
        return run_id

    def start(self, request: RunRequest, actor: str | None = None, csv: bytes | None = None) -> str:
        """Load and record a run now, carry it out in the background (one at a time)."""
        data = self.dataset(request, csv)
        run_id = self.submit(request, data, actor)
        if self.orchestrator is not None:  # the labellake workers carry it out
            self.orchestrator.start(self.registry, run_id, request, data)
            return run_id
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="labellake-models"
                )
            self._executor.submit(self.execute, run_id, request, data)
        return run_id

    def wait(self) -> None:
        """Block until every background run has ended."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    # -- carrying a run out ----------------------------------------------------------------

    def execute(
        self, run_id: str, request: RunRequest, data: Dataset, replace: bool = False
    ) -> None:
        """TRAINING_MODEL -> CREATING_MODEL -> DEPLOYING_ENDPOINT -> READY, or ERROR;
        ``replace``: the new endpoint takes the place of the model's live ones (a model
        retrained as data arrives keeps one endpoint, and other models keep theirs)."""
        stage, artifact_key = "TrainingFailed", None
        try:
            model, chosen, scores = self._train(run_id, request, data)
            stage = "ModelCreationFailed"
            self.registry.move(run_id, RunStatus.CREATING_MODEL, params=chosen, metrics=scores)
            artifact_key = f"models/{request.model_name}/{run_id}/model.joblib"
            artifact_uri = self._save(artifact_key, model, request, data, chosen, scores)
            stage = "EndpointDeploymentFailed"
            self.registry.move(run_id, RunStatus.DEPLOYING_ENDPOINT, artifact_uri=artifact_uri)
            endpoint_id = f"{run_id}-endpoint"
            evicted = self.registry.deploy(
                endpoint_id,
                request.model_name,
                run_id,
                artifact_uri,
                self.config.max_endpoints,
                replaces=replace,
            )
            with self._lock:
                for old in evicted:
                    self._served.pop(old, None)
            self.registry.move(run_id, RunStatus.READY, endpoint_id=endpoint_id)
        except Exception as exc:  # noqa: BLE001 - any failure ends the run in ERROR
            log.warning("model run %s failed", run_id, exc_info=True)
            if artifact_key is not None:
                self.objects.delete(artifact_key)  # no half-registered model stays behind
            self.registry.move(
                run_id,
                RunStatus.ERROR,
                error=stage,
                cause=f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, LabellakeError)
                else str(exc),
                artifact_uri=None,
            )

    def _train(
        self, run_id: str, request: RunRequest, data: Dataset
    ) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        extra: dict[str, Any] = {}
        if request.mode == "HPO":
            x_train, _, y_train, _ = estimators.held_out_split(
                data.x, data.y, self.config.held_out_fraction, request.seed
            )
            estimator, params, extra = self._search(run_id, request, data, x_train, y_train)
        else:
            estimator, params = self._choice(request)
        model, scores = estimators.fit_and_score(
            estimator,
            params,
            data.numeric,
            data.categorical,
            data.x,
            data.y,
            request.seed,
            self.config.held_out_fraction,
        )
        return model, {"estimator": estimator, **params}, scores | extra

    def _choice(self, request: RunRequest) -> tuple[str, dict[str, Any]]:
        """Given hyperparameters, else the best of the newest finished HPO of this model,
        else the defaults."""
        if request.estimator is None and request.params is None:
            tuned = self.registry.newest(request.model_name, mode="HPO")
            if tuned and tuned["params"]:
                params = dict(tuned["params"])
                estimator = params.pop("estimator")
                return estimator, estimators.check_params(estimator, params)
        estimator = request.estimator or "gradient_boosting"
        return estimator, estimators.check_params(estimator, request.params)

    def _search(
        self,
        run_id: str,
        request: RunRequest,
        data: Dataset,
        x_train: pd.DataFrame,
        y_train: pd.Series,
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        fraction = self.config.hpo_data_fraction
        keep = max(datasets.MIN_ROWS, int(round(len(x_train) * fraction)))
        sample_x = x_train.sample(n=min(keep, len(x_train)), random_state=request.seed)
        sample_y = y_train.loc[sample_x.index]
        fit_x, val_x, fit_y, val_y = train_test_split(
            sample_x, sample_y, test_size=0.25, random_state=request.seed
        )
        log_target = bool((data.y >= 0).all())
        choices = [request.estimator] if request.estimator else list(estimators.ESTIMATORS)

        def objective(trial: Any) -> float:
            estimator = trial.suggest_categorical("estimator", choices)
            params = estimators.suggest(trial, estimator, brief=True)
            model = estimators.build(
                estimator, params, data.numeric, data.categorical, log_target, request.seed
            )
            with warnings.catch_warnings():
                # Trials are brief by design: an MLP stopped early is scored as it is.
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(fit_x, fit_y)
            return estimators.metrics(val_y, model.predict(val_x))["p95_abs_error"]

        def record(study: Any, trial: Any) -> None:
            seconds = (
                (trial.datetime_complete - trial.datetime_start).total_seconds()
                if trial.datetime_complete and trial.datetime_start
                else 0.0
            )
            self.registry.add_trial(
                run_id, trial.number, trial.params, trial.value, trial.state.name, seconds
            )

        study = optuna.create_study(
            direction="minimize", sampler=optuna.samplers.TPESampler(seed=request.seed)
        )
        started = time.perf_counter()
        study.optimize(objective, n_trials=request.trials, callbacks=[record], catch=(Exception,))
        search_s = time.perf_counter() - started
        complete = [t for t in study.trials if t.state.name == "COMPLETE"]
        if not complete:
            raise LabellakeError(f"none of the {request.trials} HPO trials finished")
        best = study.best_trial
        params = dict(best.params)
        estimator = params.pop("estimator")
        params = estimators.check_params(
            estimator, {k: v for k, v in params.items() if k in estimators.DEFAULTS[estimator]}
        )
        if estimator == "mlp":
            params["max_iter"] = estimators.DEFAULTS["mlp"]["max_iter"]
        return (
            estimator,
            params,
            {
                "best_trial": best.number,
                "best_validation_p95": float(best.value),
                "trials": len(study.trials),
                "hpo_rows": len(sample_x),
                "search_s": round(search_s, 3),
                "importance": _importance(study),
            },
        )

    def _save(
        self,
        key: str,
        model: Any,
        request: RunRequest,
        data: Dataset,
        chosen: dict[str, Any],
        scores: dict[str, Any],
    ) -> str:
        bundle = {
            "model": model,
            "model_name": request.model_name,
            "target": data.target,
            "numeric": data.numeric,
            "categorical": data.categorical,
            "profile": data.profile(),
            "params": chosen,
            "metrics": scores,
        }
        buffer = io.BytesIO()
        joblib.dump(bundle, buffer)
        return self.objects.write_bytes(key, buffer.getvalue())

    # -- reading ----------------------------------------------------------------------------

    def runs(self, mode: str | None = None) -> list[dict[str, Any]]:
        return self.registry.runs(mode)

    def describe(self, run_id: str) -> dict[str, Any]:
        run = self.registry.run(run_id)
        run["trials"] = self.registry.trials(run_id) if run["mode"] == "HPO" else []
        return run

    def listing(self, mode: str | None = None, trials: bool = False) -> list[dict[str, Any]]:
        """Runs (newest first) in the API's shape, with their trials if asked."""
        listed = []
        for run in self.registry.runs(mode):
            # A task token lets its holder answer the execution's step: never shown.
            shown = {_camel(name): value for name, value in run.items() if name != "task_token"}
            if trials:
                shown["trials"] = [
                    {_camel(name): value for name, value in trial.items() if name != "run_id"}
                    for trial in self.registry.trials(run["run_id"])
                ]
            listed.append(shown)
        return listed

    def endpoints(self) -> list[dict[str, Any]]:
        return [
            {_camel(name): value for name, value in endpoint.items()}
            for endpoint in self.registry.endpoints()
        ]

    # -- inference ---------------------------------------------------------------------------

    def served(self, model_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(endpoint, loaded artifact) of the newest endpoint in service for the model."""
        endpoint = self.registry.endpoint_for(model_name)
        with self._lock:
            bundle = self._served.get(endpoint["endpoint_id"])
        if bundle is None and self.orchestrator is not None:
            bundle = self.orchestrator.remote(self.registry.run(endpoint["run_id"]), endpoint)
        if bundle is None:
            try:
                bundle = joblib.load(io.BytesIO(read_uri(endpoint["artifact_uri"])))
            except NotFoundError as exc:
                raise LabellakeError(
                    f"endpoint {endpoint['endpoint_id']}: its model artifact is gone ({exc}); "
                    "train the model again"
                ) from exc
            with self._lock:
                self._served[endpoint["endpoint_id"]] = bundle
        return endpoint, bundle

    def infer(
        self,
        model_name: str,
        rows: dict[str, Any] | list[dict[str, Any]],
        sweep: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Predictions for ``rows``; with ``sweep`` ({feature, values} or {feature, start,
        stop, num}) also the prediction of the first row as that feature varies."""
        endpoint, bundle = self.served(model_name)
        frame = _frame(bundle, rows)
        answer: dict[str, Any] = {
            "modelName": bundle["model_name"],
            "endpointId": endpoint["endpoint_id"],
            "runId": endpoint["run_id"],
            "target": bundle["target"],
            "predictions": [float(v) for v in bundle["model"].predict(frame)],
        }
        if sweep is not None:
            feature, values = _sweep_values(bundle, sweep)
            swept = pd.concat([frame.iloc[[0]]] * len(values), ignore_index=True)
            swept[feature] = values
            answer["range"] = {
                "feature": feature,
                "values": list(values),
                "predictions": [float(v) for v in bundle["model"].predict(swept)],
            }
        return answer


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _importance(study: Any) -> dict[str, float]:
    import optuna

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "few trials per regime" on short searches
            return {
                name: float(value)
                for name, value in optuna.importance.get_param_importances(study).items()
            }
    except (RuntimeError, ValueError):
        return {}  # too few finished trials, or a single parameter


def _frame(bundle: dict[str, Any], rows: dict[str, Any] | list[dict[str, Any]]) -> pd.DataFrame:
    """The input rows as the model's features; missing, extra and non-numeric values are
    errors that name them."""
    features = [*bundle["numeric"], *bundle["categorical"]]
    rows = [rows] if isinstance(rows, dict) else rows
    if not isinstance(rows, list) or not rows:
        raise LabellakeError("input: give an object of feature: value (or a non-empty list)")
    for index, row in enumerate(rows):
        where = "input" if len(rows) == 1 else f"input[{index}]"
        if not isinstance(row, dict):
            raise LabellakeError(f"{where}: expected an object of feature: value")
        missing = [name for name in features if name not in row]
        extra = sorted(name for name in row if name not in features)
        if missing or extra:
            said = []
            if missing:
                said.append(f"missing feature(s) {', '.join(missing)}")
            if extra:
                said.append(f"unknown feature(s) {', '.join(extra)}")
            raise LabellakeError(
                f"{where}: {'; '.join(said)}; the model takes {', '.join(features)}"
            )
        for name in bundle["numeric"]:
            value = row[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                try:
                    float(value)
                except (TypeError, ValueError):
                    raise LabellakeError(f"{where}.{name}: {value!r} is not a number") from None
    frame = pd.DataFrame(rows, columns=features)
    for name in bundle["numeric"]:
        frame[name] = frame[name].astype(float)
    for name in bundle["categorical"]:
        frame[name] = frame[name].astype(str)
    return frame


def _sweep_values(bundle: dict[str, Any], sweep: dict[str, Any]) -> tuple[str, list[Any]]:
    if not isinstance(sweep, dict) or "feature" not in sweep:
        raise LabellakeError("range: give {feature, values} or {feature, start, stop, num}")
    feature = sweep["feature"]
    profile = bundle["profile"].get(feature)
    if profile is None:
        raise LabellakeError(
            f"range.feature: '{feature}' is not a feature of the model "
            f"({', '.join(bundle['profile'])})"
        )
    if "values" in sweep:
        values = sweep["values"]
        if not isinstance(values, list) or not values:
            raise LabellakeError("range.values: give a non-empty list")
        if profile["kind"] == "numeric":
            try:
                return feature, [float(v) for v in values]
            except (TypeError, ValueError):
                raise LabellakeError(f"range.values: {feature} takes numbers") from None
        return feature, [str(v) for v in values]
    if profile["kind"] == "categorical":
        return feature, list(profile["values"])
    try:
        start = float(sweep.get("start", profile["min"]))
        stop = float(sweep.get("stop", profile["max"]))
        num = int(sweep.get("num", 20))
    except (TypeError, ValueError):
        raise LabellakeError("range: start, stop and num must be numbers") from None
    if not 2 <= num <= 1000:
        raise LabellakeError("range.num: between 2 and 1000 points")
    return feature, [float(v) for v in np.linspace(start, stop, num)]
