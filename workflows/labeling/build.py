"""The engine and runner of a home, assembled from its settings."""

from __future__ import annotations

from labellake.home import Home
from labellake.workflows.labeling import lake_sync, qa_routing
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
        seed=settings.seed,
        aws=aws,
    )
    local = LocalBackend(state, home.objects, account=settings.aws_account_id, **aws)
    backends = {b.name: b for b in (simulated, local)}
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


def build_runner(home: Home) -> Runner:
    return Runner(build_engine(home), poll_s=home.settings.runner_poll_s)
