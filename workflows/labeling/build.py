"""The engine and runner of a home, assembled from its settings."""

from __future__ import annotations

from labellake.aws_clients import client
from labellake.home import Home
from labellake.settings import Settings
from labellake.workflows.labeling import lake_sync, qa_routing
from labellake.workflows.labeling.backends.groundtruth import GroundTruthBackend
from labellake.workflows.labeling.backends.local import LocalBackend
from labellake.workflows.labeling.backends.simulated import SimulatedBackend, SimulationConfig
from labellake.workflows.labeling.dynamo import DynamoStateStore
from labellake.workflows.labeling.engine import Engine, EngineConfig
from labellake.workflows.labeling.runner import Runner
from labellake.workflows.labeling.state import StateStore
from labellake.workflows.labeling.stepfunctions import StepFunctions, Worker


def build_engine(home: Home, *, local_files: bool = False) -> Engine:
    """The engine of a home; ``local_files``: requests may name any local file but the
    state files (the CLI, whose user names files on their own machine)."""
    settings = home.settings
    aws = {"region": settings.aws_region, "endpoint_url": settings.aws_endpoint_url}
    state = _state_store(home)
    simulated = SimulatedBackend(
        home.objects,
        SimulationConfig(
            region=settings.aws_region,
            account=settings.aws_account_id,
            seed=settings.seed,
            job_seconds=settings.simulated_job_seconds,
        ),
        **aws,
    )
    config = EngineConfig(
        region=settings.aws_region,
        account=settings.aws_account_id,
        job_timeout_s=settings.job_timeout_s,
        webhook_url=settings.notify_webhook_url,
        topic_arn=settings.aws_topic_arn,
        seed=settings.seed,
        aws=aws,
    )
    local = LocalBackend(state, home.objects, account=settings.aws_account_id, **aws)
    backends = {b.name: b for b in (simulated, local, _groundtruth(settings, aws))}
    engine = Engine(
        state,
        home.objects,
        home.lake,
        backends[settings.backend],
        config,
        backends=backends,
        inputs=home.input_policy(local_files=local_files),
    )
    lake_sync.install(engine)
    qa_routing.install(engine)
    engine.orchestrator = None
    if settings.workflow_engine == "stepfunctions":
        engine.orchestrator = _stepfunctions(settings)
        engine.orchestrator.install(engine)
    return engine


def _state_store(home: Home) -> StateStore:
    settings = home.settings
    if settings.store == "dynamodb":
        return DynamoStateStore(
            home.state_db,
            client("dynamodb", settings.aws_region, settings.aws_endpoint_url),
            settings.aws_names()["state_table"],
        )
    return StateStore(home.state_db)


def _stepfunctions(settings: Settings) -> StepFunctions:
    names = settings.aws_names()
    return StepFunctions(
        client("stepfunctions", settings.aws_region, settings.aws_endpoint_url),
        client("sqs", settings.aws_region, settings.aws_endpoint_url),
        queue_name=names["task_queue"],
        role_arn=names["states_role_arn"],
        prefix=settings.aws_prefix,
        level_timeout_s=int(settings.job_timeout_s),
    )


def runner_for(engine: Engine, poll_s: float) -> Runner | Worker:
    """What drives the engine's batches in this process: the embedded runner, or a
    Step Functions worker."""
    orchestrator = getattr(engine, "orchestrator", None)
    if orchestrator is not None:
        orchestrator.queue_url  # noqa: B018 - a missing steps queue is said now, in one line
        return Worker(engine, orchestrator, poll_s=poll_s)
    return Runner(engine, poll_s=poll_s)


def _groundtruth(settings: Settings, aws: dict[str, str | None]) -> GroundTruthBackend:
    # The backend retries throttled calls with its own backoff; botocore's retries stay
    # off for its clients so the two do not multiply.
    return GroundTruthBackend(
        client("sagemaker", settings.aws_region, settings.aws_endpoint_url, max_attempts=1),
        settings.aws_role_arn,
        settings.aws_region,
        sqs=client("sqs", settings.aws_region, settings.aws_endpoint_url, max_attempts=1),
        queue_name=settings.aws_names()["events_queue"],
        endpoint_url=aws["endpoint_url"],
    )


def build_runner(home: Home) -> Runner | Worker:
    return runner_for(build_engine(home), home.settings.runner_poll_s)
