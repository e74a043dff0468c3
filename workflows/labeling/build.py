"""The engine and runner of a home, assembled from its settings."""

from __future__ import annotations

from labellake.home import Home
from labellake.settings import Settings
from labellake.workflows.labeling import lake_sync, qa_routing
from labellake.workflows.labeling.backends.groundtruth import GroundTruthBackend
from labellake.workflows.labeling.backends.local import LocalBackend
from labellake.workflows.labeling.backends.simulated import SimulatedBackend, SimulationConfig
from labellake.workflows.labeling.engine import Engine, EngineConfig
from labellake.workflows.labeling.runner import Runner
from labellake.workflows.labeling.state import StateStore


def build_engine(home: Home) -> Engine:
    settings = home.settings
    aws = {"region": settings.aws_region, "endpoint_url": settings.aws_endpoint_url}
    state = StateStore(home.state_db)
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
    )
    lake_sync.install(engine)
    qa_routing.install(engine)
    return engine


def _groundtruth(settings: Settings, aws: dict[str, str | None]) -> GroundTruthBackend:
    import boto3

    client_args = {"region_name": settings.aws_region, "endpoint_url": settings.aws_endpoint_url}
    return GroundTruthBackend(
        boto3.client("sagemaker", **client_args),
        settings.aws_role_arn,
        settings.aws_region,
        sqs=boto3.client("sqs", **client_args),
        queue_name=settings.aws_names()["events_queue"],
        endpoint_url=aws["endpoint_url"],
    )


def build_runner(home: Home) -> Runner:
    return Runner(build_engine(home), poll_s=home.settings.runner_poll_s)
