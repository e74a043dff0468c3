"""The model-run store: the seam between the model workflow and where its records live.

A run moves TRAINING_MODEL -> CREATING_MODEL -> DEPLOYING_ENDPOINT -> READY, or to
ERROR with the error and its cause; an HPO run keeps its trials; a run that reaches
READY serves from an endpoint. At most ``limit`` endpoints are in service: deploying
one more marks the oldest Deleted, with the reason.

Records are plain dicts with the keys of RUN_FIELDS, TRIAL_FIELDS and ENDPOINT_FIELDS
(JSON_FIELDS decoded). Two implementations, one contract suite
(tests/workflows/models/test_model_store_contract.py):

- SqliteModelRunStore (``sqlite_store.py``): tables in the SQLite state db.
- DynamoModelRunStore (``dynamo_store.py``): one DynamoDB table (the aws profile).

``open_model_store`` picks one from the settings.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from labellake.settings import Settings


class RunStatus(StrEnum):
    """Where a model run is; the API, the CLI and the portal show the values."""

    TRAINING_MODEL = "TRAINING_MODEL"
    CREATING_MODEL = "CREATING_MODEL"
    DEPLOYING_ENDPOINT = "DEPLOYING_ENDPOINT"
    READY = "READY"
    ERROR = "ERROR"


FINAL_STATUSES = (RunStatus.READY, RunStatus.ERROR)
UNFINISHED_STATUSES = tuple(s for s in RunStatus if s not in FINAL_STATUSES)


class EndpointStatus(StrEnum):
    """Whether an endpoint serves (the names SageMaker gives these states)."""

    IN_SERVICE = "InService"
    DELETED = "Deleted"


RUN_FIELDS = (
    "run_id",
    "model_name",
    "mode",
    "status",
    "estimator",
    "request",
    "dataset",
    "rows",
    "params",
    "metrics",
    "artifact_uri",
    "endpoint_id",
    "error",
    "cause",
    "actor",
    "created_at",
    "updated_at",
    "completed_at",
    "execution_arn",
    "step",
    "task_token",
    "backend_job",
)
TRIAL_FIELDS = ("run_id", "number", "params", "value", "state", "seconds")
ENDPOINT_FIELDS = (
    "endpoint_id",
    "model_name",
    "run_id",
    "artifact_uri",
    "status",
    "created_at",
    "deleted_at",
    "deleted_reason",
)
JSON_FIELDS = ("request", "params", "metrics")  # stored as JSON text, handed out decoded
# What ``move`` may set beside the status (the rest the store keeps itself).
MOVABLE_FIELDS = frozenset(RUN_FIELDS) - {"run_id", "status", "created_at", "updated_at"}


def unknown_run(run_id: str) -> str:
    """The message of NotFoundError for a run id that is not recorded."""
    return f"unknown model run '{run_id}'; list runs with `labellake model list`"


def no_endpoint(model_name: str) -> str:
    """The message of NotFoundError when no endpoint of ``model_name`` is in service."""
    return (
        f"modelName: no endpoint in service for '{model_name}'; train one with "
        "`labellake model train` (or POST /model) and wait for READY"
    )


def replaced_reason(endpoint_id: str) -> str:
    """Why an endpoint was marked Deleted when its model's ``endpoint_id`` replaced it."""
    return f"replaced by {endpoint_id}, of the same model"


def eviction_reason(endpoint_id: str, limit: int) -> str:
    """Why an endpoint was marked Deleted when ``endpoint_id`` was deployed."""
    return f"oldest of {limit + 1} endpoints when {endpoint_id} was deployed (at most {limit} live)"


def check_movable(fields: Collection[str]) -> None:
    """A programming error (TypeError) for a field ``move`` may not set."""
    unknown = sorted(set(fields) - MOVABLE_FIELDS)
    if unknown:
        raise TypeError(f"move() cannot set {', '.join(unknown)} (not a movable run field)")


class ModelRunStore(Protocol):
    """Model runs, their HPO trials and the endpoints that serve them."""

    # -- runs -------------------------------------------------------------------------------

    def add_run(
        self,
        run_id: str,
        model_name: str,
        mode: str,
        request: dict[str, Any],
        dataset: str,
        rows: int,
        actor: str | None,
    ) -> None:
        """Record a new run, TRAINING_MODEL; ConflictError if the id is recorded already."""
        ...

    def move(
        self,
        run_id: str,
        status: str,
        *,
        expected: Collection[str] | None = None,
        **fields: Any,
    ) -> bool:
        """Set the run's status and ``fields`` (None clears one; JSON_FIELDS as JSON), and
        completed_at on READY or ERROR; only while its status is one of ``expected`` (any,
        when None). False when it did not move: another status, or no such run."""
        ...

    def run(self, run_id: str) -> dict[str, Any]:
        """The run; NotFoundError naming `labellake model list` if there is none."""
        ...

    def runs(self, mode: str | None = None) -> list[dict[str, Any]]:
        """Every run (of ``mode``, TRAIN or HPO), newest first."""
        ...

    def newest(
        self, model_name: str, mode: str | None = None, status: str = RunStatus.READY
    ) -> dict[str, Any] | None:
        """The newest run of the model in ``status`` (of ``mode``), or None."""
        ...

    # -- Step Functions: the step a run's execution waits on --------------------------------

    def set_task(
        self, run_id: str, step: str | None, token: str | None, backend_job: str | None = None
    ) -> None:
        """Keep (or, with None, drop) the task token of the step the run's execution waits
        on, and the SageMaker job or endpoint that step watches (None keeps the one kept)."""
        ...

    def waiting(self) -> list[dict[str, Any]]:
        """Unfinished runs whose execution waits on a step a worker watches, oldest first."""
        ...

    def executing(self) -> list[dict[str, Any]]:
        """Unfinished runs that have a Step Functions execution, oldest first."""
        ...

    # -- trials -----------------------------------------------------------------------------

    def add_trial(
        self,
        run_id: str,
        number: int,
        params: dict[str, Any],
        value: float | None,
        state: str,
        seconds: float,
    ) -> None:
        """Record (or replace) trial ``number`` of a run; NotFoundError if no such run."""
        ...

    def trials(self, run_id: str) -> list[dict[str, Any]]:
        """The run's trials by number (none for an unknown run)."""
        ...

    # -- endpoints --------------------------------------------------------------------------

    def deploy(
        self,
        endpoint_id: str,
        model_name: str,
        run_id: str,
        artifact_uri: str,
        limit: int,
        replaces: bool = False,
    ) -> list[str]:
        """Put an endpoint in service; with ``replaces``, the model's other live endpoints
        are marked Deleted (replaced by this one); then the oldest beyond ``limit`` are,
        with the reason. Returns those marked. ConflictError if the endpoint id is
        recorded already."""
        ...

    def endpoints(self, live_only: bool = False) -> list[dict[str, Any]]:
        """Every endpoint (only those in service), newest first."""
        ...

    def endpoint_for(self, model_name: str) -> dict[str, Any]:
        """The newest endpoint in service of ``model_name`` (a model name or endpoint id);
        NotFoundError if there is none."""
        ...


def open_model_store(
    settings: Settings, state_db: Path, dynamodb: Any | None = None
) -> ModelRunStore:
    """The model-run store of the settings: the DynamoDB model table when ``store`` is
    dynamodb (the aws profile; ``dynamodb`` is its client, made from the settings when not
    given), else the SQLite state db at ``state_db``."""
    # Imported here: the local profile never loads boto3, and the stores import this module.
    if settings.state_store == "dynamodb":
        from labellake.workflows.models.dynamo_store import DynamoModelRunStore

        if dynamodb is None:
            from labellake.aws_clients import client

            dynamodb = client("dynamodb", settings.aws_region, settings.aws_endpoint_url)
        return DynamoModelRunStore(dynamodb, settings.aws_names()["model_table"])
    from labellake.workflows.models.sqlite_store import SqliteModelRunStore
    from labellake.workflows.statedb import StateDb

    return SqliteModelRunStore(StateDb(state_db))
