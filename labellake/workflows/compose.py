"""The composition root: what runs under a profile, built from the settings, in one file.

Under the local profile (the embedded default) both zones are folders in the home,
queries run in an in-process DuckDB, batches and model runs are kept in the SQLite
``state_db`` and driven in this process (the embedded runner, a thread per model
run), and jobs go to the simulated workforce unless a request names another backend.

Under the aws profile both zones are on S3, tables are registered in Glue and queried
with Athena, batches and model runs are kept in DynamoDB (only accounts and the
in-portal workforce stay in ``state_db``), Step Functions drives them with labellake
workers running the steps, and SageMaker runs Ground Truth jobs and model training.

Each choice also has a setting of its own (``query_engine``, ``state_store``,
``orchestrator``, ``labeling_backend``); this module is the only place that reads
them. Every constructor below takes what it needs, and AWS access is one
``AwsTarget`` (``settings.aws``).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from labellake import sql
from labellake.aws_clients import AwsTarget
from labellake.lake import Lake, ObjectStore
from labellake.lake.athena import AthenaEngine
from labellake.lake.glue import GlueCatalog
from labellake.settings import Settings
from labellake.workflows.home import Home
from labellake.workflows.labeling import lake_sync, qa_routing
from labellake.workflows.labeling.backends.groundtruth import GroundTruthBackend
from labellake.workflows.labeling.backends.labelstudio import LabelStudioBackend
from labellake.workflows.labeling.backends.local import LocalBackend
from labellake.workflows.labeling.backends.simulated import SimulatedBackend, SimulationConfig
from labellake.workflows.labeling.dynamo_store import DynamoBatchStore
from labellake.workflows.labeling.engine import Engine, EngineConfig
from labellake.workflows.labeling.runner import Runner
from labellake.workflows.labeling.sqlite_store import SqliteBatchStore
from labellake.workflows.labeling.stepfunctions import StepFunctions, Worker
from labellake.workflows.labeling.store import BatchStore
from labellake.workflows.models.sqlite_store import SqliteModelRunStore
from labellake.workflows.models.store import ModelRunStore, open_model_store
from labellake.workflows.models.workflow import ModelConfig, ModelWorkflow
from labellake.workflows.people.accounts import Accounts
from labellake.workflows.people.workforce import Workforce
from labellake.workflows.statedb import StateDb

if TYPE_CHECKING:
    from labellake.workflows.models.stepfunctions import ModelStateMachine, ModelWorker


# -- the stores ---------------------------------------------------------------------------


def open_home(settings: Settings, *, create: bool = True, serving: bool = False) -> Home:
    """The object store and the lake the settings name; creates local folders unless
    ``create`` is False. ``serving`` (the API and the portal): user SQL runs in worker
    processes killed past sql_timeout_s or sql_memory_limit, so a runaway query never
    holds the server."""
    aws = settings.aws
    glue = None
    if settings.profile == "aws" and str(settings.lake_uri).startswith("s3://"):
        glue = GlueCatalog(
            settings.aws_names()["glue_database"],
            str(settings.lake_uri),
            aws.region,
            aws.endpoint_url,
        )
    athena = None
    if settings.query_engine == "athena":
        names = settings.aws_names()
        athena = AthenaEngine(
            names["glue_database"], names["workgroup"], sql.views(), aws.region, aws.endpoint_url
        )
    home = Home(
        settings=settings,
        objects=ObjectStore.from_uri(settings.objects_uri, **aws.kwargs),
        lake=Lake(
            ObjectStore.from_uri(settings.lake_uri, **aws.kwargs),
            views=sql.views(),
            glue=glue,
            athena=athena,
            sql_timeout_s=settings.sql_timeout_s,
            sql_memory_limit=settings.sql_memory_limit,
            isolate_user_sql=serving,
        ),
    )
    if create:
        home.ensure()
    return home


def batch_store(home: Home) -> BatchStore:
    """Where batches, levels, jobs and their history are kept (state_store)."""
    settings = home.settings
    if settings.state_store == "dynamodb":
        return DynamoBatchStore(
            home.state_db,
            settings.aws.client("dynamodb"),
            settings.aws_names()["state_table"],
        )
    return SqliteBatchStore(home.state_db)


def model_store(home: Home) -> ModelRunStore:
    """Where model runs, their trials and endpoints are kept (state_store)."""
    return open_model_store(home.settings, home.state_db)


def accounts(home: Home) -> Accounts:
    """Portal accounts: always in the portal host's state_db."""
    return Accounts(StateDb(home.state_db))


def workforce(home: Home) -> Workforce:
    """The in-portal workforce (teams and workers): always in the portal host's state_db."""
    settings = home.settings
    return Workforce(StateDb(home.state_db), settings.aws_region, settings.aws_account_id)


# -- labeling -----------------------------------------------------------------------------


def build_engine(home: Home, *, local_files: bool = False) -> Engine:
    """The engine of a home; ``local_files``: requests may name any local file but the
    state files (the CLI, whose user names files on their own machine)."""
    settings = home.settings
    aws = settings.aws
    state = batch_store(home)
    simulated = SimulatedBackend(
        home.objects,
        SimulationConfig(
            region=settings.aws_region,
            account=settings.aws_account_id,
            seed=settings.seed,
            job_seconds=settings.simulated_job_seconds,
            team_size=settings.simulated_team_size,
        ),
        aws=aws,
    )
    local = LocalBackend(state, home.objects, account=settings.aws_account_id, aws=aws)
    backends = {
        b.name: b
        for b in (simulated, local, _groundtruth(settings, aws), labelstudio_backend(home))
    }
    engine = Engine(
        state,
        home.objects,
        home.lake,
        backends[settings.labeling_backend],
        EngineConfig(
            account=settings.aws_account_id,
            job_timeout_s=settings.job_timeout_s,
            webhook_url=settings.notify_webhook_url,
            topic_arn=settings.aws_topic_arn,
            seed=settings.seed,
            aws=aws,
        ),
        backends=backends,
        inputs=home.input_policy(local_files=local_files),
        orchestrator=_stepfunctions(settings) if settings.orchestrator == "stepfunctions" else None,
    )
    lake_sync.install(engine)
    # Made when first needed (a risk routing or an audit's end), so that the engine
    # starts without the model store's resources.
    qa_routing.install(engine, lambda: model_workflow(home))
    return engine


def runner_for(engine: Engine, poll_s: float) -> Runner | Worker:
    """What drives the engine's batches in this process: the embedded runner, or a
    Step Functions worker."""
    if engine.orchestrator is not None:
        engine.orchestrator.queue_url  # noqa: B018 - a missing steps queue is said now
        return Worker(engine, engine.orchestrator, poll_s=poll_s)
    return Runner(engine, poll_s=poll_s)


def build_runner(home: Home) -> Runner | Worker:
    return runner_for(build_engine(home), home.settings.runner_poll_s)


def labelstudio_backend(home: Home) -> LabelStudioBackend:
    """Jobs on a Label Studio server (labelstudio_url, labelstudio_token); its webhook
    calls carry a token derived from the API's admin token, so Label Studio never holds
    that one."""
    settings = home.settings
    return LabelStudioBackend(
        home.objects,
        settings.labelstudio_url,
        settings.labelstudio_token,
        title_prefix=settings.labelstudio_project_prefix,
        webhook_url=settings.labelstudio_webhook_url,
        webhook_token=webhook_token(home) if settings.labelstudio_webhook_url else None,
        files_root=settings.labelstudio_files_root,
        server_poll_s=settings.labelstudio_poll_s,
        account=settings.aws_account_id,
        aws=settings.aws,
    )


def webhook_token(home: Home) -> str:
    """The token Label Studio's webhook calls carry (X-Labellake-Webhook-Token)."""
    token, _ = home.api_token()
    return hmac.new(token.encode(), b"labelstudio-webhook", hashlib.sha256).hexdigest()[:40]


def _stepfunctions(settings: Settings) -> StepFunctions:
    names = settings.aws_names()
    return StepFunctions(
        settings.aws.client("stepfunctions"),
        settings.aws.client("sqs"),
        queue_name=names["task_queue"],
        role_arn=names["states_role_arn"],
        prefix=settings.aws_prefix,
        level_timeout_s=int(settings.job_timeout_s),
    )


def _groundtruth(settings: Settings, aws: AwsTarget) -> GroundTruthBackend:
    # The backend retries throttled calls with its own backoff; botocore's retries stay
    # off for its clients so the two do not multiply.
    return GroundTruthBackend(
        aws.client("sagemaker", max_attempts=1),
        settings.aws_role_arn,
        aws,
        sqs=aws.client("sqs", max_attempts=1),
        queue_name=settings.aws_names()["events_queue"],
    )


# -- models -------------------------------------------------------------------------------


def model_workflow(home: Home, *, local_files: bool = False) -> ModelWorkflow:
    """The model workflow of a home; under the stepfunctions orchestrator runs train and
    deploy on SageMaker. ``local_files``: a csvUri may name any local file but the state
    files (the CLI)."""
    settings = home.settings
    return ModelWorkflow(
        model_store(home),
        home.objects,
        home.lake,
        ModelConfig(
            max_endpoints=settings.model_endpoints_max,
            hpo_data_fraction=settings.hpo_data_fraction,
        ),
        inputs=home.input_policy(local_files=local_files),
        orchestrator=(
            _model_state_machine(home) if settings.orchestrator == "stepfunctions" else None
        ),
    )


def engine_models(engine: Engine) -> ModelWorkflow:
    """A model workflow over an engine's own stores (its state db, object store and lake)
    with the default configuration: for an API built around an engine alone."""
    return ModelWorkflow(SqliteModelRunStore(engine.state.db), engine.objects, engine.lake)


def model_worker(workflow: ModelWorkflow) -> ModelWorker | None:
    """The worker of a workflow's model runs on Step Functions (None when they run here)."""
    if workflow.orchestrator is None:
        return None
    from labellake.workflows.models.stepfunctions import ModelWorker

    return ModelWorker(workflow, workflow.orchestrator)


def _model_state_machine(home: Home) -> ModelStateMachine:
    from labellake.workflows.models.stepfunctions import ModelStateMachine

    settings = home.settings
    aws = settings.aws
    names = settings.aws_names()
    return ModelStateMachine(
        aws.client("stepfunctions"),
        aws.client("sqs"),
        aws.client("sagemaker"),
        home.objects,
        names["model_queue"],
        names["states_role_arn"],
        names["role_arn"],
        settings.aws_prefix,
        settings.aws_region,
        runtime=aws.client("sagemaker-runtime"),
    )
