"""The one settings object.

Precedence, highest first: CLI flags (passed as keyword arguments),
``LABELLAKE_*`` environment variables, ``labellake.toml`` in the working
directory, then the defaults below.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from labellake.aws_clients import AwsTarget
from labellake.errors import LabellakeError

CONFIG_FILE_NAME = "labellake.toml"
ENV_PREFIX = "LABELLAKE_"
# Settings renamed so their names say which thing they are: old name -> new name. The old
# names keep working in labellake.toml, as LABELLAKE_* variables and as keywords (CHANGELOG).
RENAMED = {
    "engine": "query_engine",
    "workflow_engine": "orchestrator",
    "backend": "labeling_backend",
    "store": "state_store",
}


class Settings(BaseSettings):
    """Where labellake keeps its data and how it reaches AWS-compatible services."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        validate_default=True,
        env_ignore_empty=True,
    )

    profile: Literal["local", "aws"] = Field(
        default="local",
        description="Deployment: local (files, SQLite, DuckDB) or aws (S3 and the AWS "
        "services, resource names from aws_prefix and the region).",
    )
    home: Path = Field(
        default=Path("~/.labellake"),
        description="Folder of the embedded default: objects/, lake/ and state.db live here.",
    )
    lake_uri: str | None = Field(
        default=None,
        description="Curated zone (Hive-partitioned Parquet): a path, file:// or s3:// URI. "
        "Defaults to HOME/lake.",
    )
    objects_uri: str | None = Field(
        default=None,
        description="Raw zone (frames, manifests, SeqLabel.json, worker logs): a path, file:// "
        "or s3:// URI. Defaults to HOME/objects.",
    )
    state_db: Path | None = Field(
        default=None,
        description="SQLite workflow state store. Defaults to HOME/state.db.",
    )
    aws_region: str = Field(
        default="us-east-1",
        description="AWS region for s3:// URIs and AWS services.",
    )
    aws_endpoint_url: str | None = Field(
        default=None,
        description="Endpoint for AWS-compatible services (a moto server or LocalStack); "
        "empty means AWS itself.",
    )

    aws_account_id: str = Field(
        default="111122223333",
        description="Account id used in default work team and labeling job ARNs.",
    )
    labeling_backend: Literal["simulated", "local", "groundtruth", "labelstudio"] = Field(
        default="simulated",
        description="Labeling backend of jobs whose request names none: simulated (a "
        "deterministic workforce), local (people label in the portal), groundtruth "
        "(SageMaker Ground Truth) or labelstudio (a Label Studio server).",
    )
    labelstudio_url: str | None = Field(
        default=None,
        description="Address of the Label Studio server that labelstudio jobs run on, such as "
        "http://127.0.0.1:8080.",
    )
    labelstudio_token: str | None = Field(
        default=None,
        description="A personal access token of the Label Studio user labellake acts as "
        "(Account & Settings > Personal Access Token); a legacy token works where the "
        "server enables them.",
    )
    labelstudio_project_prefix: str = Field(
        default="",
        max_length=20,
        description="Put before every Label Studio project title labellake makes (the title "
        "is the job name), to tell labellake's projects from others.",
    )
    labelstudio_webhook_url: str | None = Field(
        default=None,
        description="labellake's API as Label Studio reaches it, ending in "
        "/labelstudio/webhook (such as http://127.0.0.1:8000/labelstudio/webhook): projects "
        "then report each annotation at once. Unset: jobs are polled only.",
    )
    labelstudio_files_root: str | None = Field(
        default=None,
        description="The folder Label Studio serves local files from "
        "(LOCAL_FILES_DOCUMENT_ROOT); it must hold the object store. Defaults to the object "
        "store's folder.",
    )
    labelstudio_poll_s: float = Field(
        default=10.0,
        ge=0,
        description="Seconds between two looks at a Label Studio project's counts (a webhook "
        "call makes the next look happen at once).",
    )
    simulated_job_seconds: float = Field(
        default=1.0,
        ge=0,
        description="Real seconds a simulated labeling job takes before its outputs appear.",
    )
    simulated_team_size: int | None = Field(
        default=None,
        ge=1,
        le=200,
        description="Workers in each simulated team (default: 5 labelers, 3 auditors).",
    )
    seed: int = Field(default=0, description="Seed of the simulated workforce and downsampling.")
    job_timeout_s: float = Field(
        default=14 * 24 * 3600,
        gt=0,
        description="A labeling job that runs longer than this fails its batch (seconds).",
    )
    notify_webhook_url: str | None = Field(
        default=None,
        description="URL that receives every batch completion or failure message as a JSON POST.",
    )
    runner_poll_s: float = Field(
        default=0.5, gt=0, description="Seconds the runner waits between polls when idle."
    )
    portal_auth: bool = Field(
        default=False,
        description="Everyone signs in to the portal with an account (labellake account add).",
    )
    api_token: str | None = Field(
        default=None,
        description="The API's admin token ('Authorization: Bearer <token>'). Unset: the token "
        "kept in HOME/api-token (made on first start, 0600) is used.",
    )
    allowed_input_roots: list[str] = Field(
        default_factory=list,
        description="Local folders, besides the object store (s3:// is always allowed), that "
        "request fields (inputManifestS3Uri, labelCategoryConfigS3Uri, csvUri) may name.",
    )
    max_input_bytes: int = Field(
        default=1 << 30,
        gt=0,
        description="Largest manifest, sequence file or CSV a request may name (bytes).",
    )
    max_config_bytes: int = Field(
        default=64 << 20,
        gt=0,
        description="Largest label category config a request may name (bytes).",
    )
    sql_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="User SQL (CLI, portal SQL page, API query fields) is stopped after this "
        "many seconds.",
    )
    sql_memory_limit: str = Field(
        default="25%",
        description="Memory user SQL may take, all its queries together: a size such as '4GB' "
        "or a share of RAM such as '25%'. A query over it is stopped (nothing spills to disk).",
    )
    runner_stale_s: float = Field(
        default=60.0,
        gt=0,
        description="GET /health answers 503 when the runner's last heartbeat is older than "
        "this (seconds).",
    )
    orchestrator: Literal["embedded", "stepfunctions"] | None = Field(
        default=None,
        description="What drives batches and model runs: embedded (in-process) or "
        "stepfunctions (a state machine per level count and one for model runs, steps run by "
        "labellake workers, training on SageMaker). Defaults to stepfunctions under the aws "
        "profile.",
    )
    query_engine: Literal["duckdb", "athena"] | None = Field(
        default=None,
        description="Query engine: duckdb (in process, over local files or S3) or athena "
        "(over the Glue tables). Defaults to athena under the aws profile, duckdb otherwise.",
    )
    state_store: Literal["sqlite", "dynamodb"] | None = Field(
        default=None,
        description="Where batches (levels, jobs, their history) and model runs are kept: "
        "sqlite (the state_db file) or dynamodb (the aws profile's state and model tables; "
        "accounts and the local workforce stay in state_db). Defaults to dynamodb under the "
        "aws profile.",
    )
    model_endpoints_max: int = Field(
        default=5,
        ge=1,
        description="Model endpoints in service at once; deploying one more deletes the oldest.",
    )
    hpo_data_fraction: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Fraction of a run's training rows each HPO trial sees.",
    )
    aws_prefix: str = Field(
        default="labellake",
        pattern=r"^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$",
        description="Prefix of every AWS resource name of the aws profile.",
    )
    aws_bucket: str | None = Field(
        default=None,
        description="Bucket of the aws profile's raw zone and lake. Defaults to "
        "PREFIX-ACCOUNT-REGION.",
    )
    aws_topic_arn: str | None = Field(
        default=None,
        description="SNS topic for batch notifications (a batch's destinationSnsArn wins). "
        "Defaults to the aws profile's PREFIX-notifications topic.",
    )
    aws_state_table: str | None = Field(
        default=None,
        description="DynamoDB state table of the aws profile. Defaults to PREFIX-state.",
    )
    aws_model_table: str | None = Field(
        default=None,
        description="DynamoDB table of the aws profile's model runs, trials and endpoints. "
        "Defaults to PREFIX-models.",
    )
    aws_role_arn: str | None = Field(
        default=None,
        description="IAM role Ground Truth assumes. Defaults to the aws profile's "
        "PREFIX-groundtruth role.",
    )

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        self.home = self.home.expanduser().absolute()
        if self.query_engine is None:
            self.query_engine = "athena" if self.profile == "aws" else "duckdb"
        if self.orchestrator is None:
            self.orchestrator = "stepfunctions" if self.profile == "aws" else "embedded"
        if self.state_store is None:
            self.state_store = "dynamodb" if self.profile == "aws" else "sqlite"
        if self.profile == "aws":
            names = self.aws_names()
            self.aws_bucket = self.aws_bucket or names["bucket"]
            self.aws_topic_arn = self.aws_topic_arn or names["topic_arn"]
            self.aws_role_arn = self.aws_role_arn or names["role_arn"]
            if self.lake_uri is None:
                self.lake_uri = f"s3://{self.aws_bucket}/lake"
            if self.objects_uri is None:
                self.objects_uri = f"s3://{self.aws_bucket}/objects"
        if self.lake_uri is None:
            self.lake_uri = str(self.home / "lake")
        if self.objects_uri is None:
            self.objects_uri = str(self.home / "objects")
        if self.state_db is None:
            self.state_db = self.home / "state.db"
        self.state_db = self.state_db.expanduser().absolute()
        return self

    @property
    def aws(self) -> AwsTarget:
        """Where AWS calls go: aws_region and aws_endpoint_url, as one value."""
        return AwsTarget(self.aws_region, self.aws_endpoint_url)

    def aws_names(self) -> dict[str, str]:
        """Every AWS resource name, derived from aws_prefix, the account and the region
        (the settings above override the ones they name)."""
        prefix, account, region = self.aws_prefix, self.aws_account_id, self.aws_region
        return {
            "bucket": self.aws_bucket or f"{prefix}-{account}-{region}",
            "topic": f"{prefix}-notifications",
            "topic_arn": self.aws_topic_arn
            or f"arn:aws:sns:{region}:{account}:{prefix}-notifications",
            "role": f"{prefix}-groundtruth",
            "states_role": f"{prefix}-states",
            "states_role_arn": f"arn:aws:iam::{account}:role/{prefix}-states",
            "role_arn": self.aws_role_arn or f"arn:aws:iam::{account}:role/{prefix}-groundtruth",
            "state_table": self.aws_state_table or f"{prefix}-state",
            "model_table": self.aws_model_table or f"{prefix}-models",
            "state_machine": f"{prefix}-batches",
            "task_queue": f"{prefix}-tasks",
            "model_queue": f"{prefix}-model-tasks",
            "model_machine": f"{prefix}-models",
            "events_queue": f"{prefix}-labeling-events",
            "events_rule": f"{prefix}-labeling-job-state-change",
            "glue_database": prefix.replace("-", "_"),
            "workgroup": prefix,
            "first_team": "first-level",
            "second_team": "second-level",
        }

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path.cwd() / CONFIG_FILE_NAME
        return (
            _Renamed(settings_cls, init_settings),
            env_settings,
            _RenamedEnv(settings_cls),
            _Renamed(settings_cls, TomlConfigSettingsSource(settings_cls, toml_file=toml_file)),
        )


class _Renamed(PydanticBaseSettingsSource):
    """A source whose values under a setting's old name count for its new name (the new
    name wins where a source gives both)."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self.inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.inner.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        values = dict(self.inner())
        for old, new in RENAMED.items():
            if old in values:
                value = values.pop(old)
                values.setdefault(new, value)
        return values


class _RenamedEnv(PydanticBaseSettingsSource):
    """The old LABELLAKE_* variables of renamed settings, below the new variables."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found = {}
        for old, new in RENAMED.items():
            value = os.environ.get(f"{ENV_PREFIX}{old.upper()}")
            if value:  # env_ignore_empty, as for every other variable
                found[new] = value
        return found


def load_settings(**overrides: Any) -> Settings:
    """Resolve the settings; ``overrides`` are CLI flags (``None`` means "not given").

    Raises LabellakeError naming the bad field and where it came from.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except tomllib.TOMLDecodeError as exc:
        raise LabellakeError(
            f"{Path.cwd() / CONFIG_FILE_NAME}: not valid TOML ({exc}); fix or remove the file"
        ) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "settings"
        hint = (
            f"check --{field.replace('_', '-')}, LABELLAKE_{field.upper()} and {CONFIG_FILE_NAME}"
        )
        if first["type"] == "extra_forbidden":
            raise LabellakeError(
                f"unknown setting '{field}' in {CONFIG_FILE_NAME}; known settings: "
                f"{', '.join(Settings.model_fields)}"
            ) from exc
        raise LabellakeError(f"setting '{field}': {first['msg']}; {hint}") from exc


def describe_settings(settings: Settings) -> list[tuple[str, str, str]]:
    """(name, resolved value, description) for every setting, for `labellake doctor`."""
    return [
        (
            name,
            "" if getattr(settings, name) is None else str(getattr(settings, name)),
            field.description or "",
        )
        for name, field in Settings.model_fields.items()
    ]
