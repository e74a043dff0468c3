"""`labellake model`: train, tune, list and query regression models on the lake."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click

from labellake.errors import LabellakeError
from labellake.portal.cli.common import actor, echo_json, home_of, models_of

F = TypeVar("F", bound=Callable[..., Any])


@click.group()
def model() -> None:
    """Train, tune and serve regression models on the lake (the labeling-effort model)."""


def _data_options(command: F) -> F:
    for option in reversed(
        [
            click.option(
                "--model-name",
                default="labeling-effort",
                show_default=True,
                help="Name the model is registered and served under.",
            ),
            click.option(
                "--sql",
                "query",
                default=None,
                help="Lake SQL query giving the rows [default: the labeling-effort dataset].",
            ),
            click.option(
                "--csv", "csv_uri", default=None, help="CSV file (path or s3:// URI) instead."
            ),
            click.option(
                "--target",
                default=None,
                help="Column to predict [default: seconds, for the labeling-effort dataset].",
            ),
            click.option(
                "--features", default=None, help="Comma-separated feature columns [default: all]."
            ),
            click.option(
                "--estimator",
                type=click.Choice(["gradient_boosting", "mlp"]),
                default=None,
                help="Regressor [train: the newest HPO's best, else gradient_boosting; "
                "hpo: both are searched].",
            ),
            click.option("--seed", default=0, show_default=True, type=int, help="Random seed."),
        ]
    ):
        command = option(command)
    return command


def _run_model(ctx: click.Context, mode: str, **given: object) -> None:
    from labellake.workflows.models import workflow

    features = given.pop("features")
    payload = {k: v for k, v in given.items() if v is not None}
    if features:
        payload["features"] = [f.strip() for f in str(features).split(",") if f.strip()]
    request = workflow.parse_run_request(
        {workflow.RunRequest.model_fields[k].alias or k: v for k, v in payload.items()}, mode
    )
    models = models_of(home_of(ctx), local_files=True)
    started = time.monotonic()
    run_id = models.run(request, actor=actor())
    run = models.describe(run_id)
    click.echo(f"model run {run_id} {run['status']} in {time.monotonic() - started:.1f}s", err=True)
    if run["status"] != "READY":
        raise LabellakeError(f"model run {run_id} ended {run['status']}: {run['cause']}")
    echo_json(
        {
            "runId": run_id,
            "status": run["status"],
            "params": run["params"],
            "metrics": run["metrics"],
            "endpointId": run["endpoint_id"],
        }
    )


def _json(option: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LabellakeError(f"{option}: not JSON ({exc.msg} at column {exc.colno})") from exc


@model.command("train")
@_data_options
@click.option("--params", default=None, help="Hyperparameters as JSON, e.g. '{\"max_iter\": 300}'.")
@click.pass_context
def model_train(ctx: click.Context, params: str | None, **given: object) -> None:
    """Train a model, register it and deploy it as an endpoint (TRAIN)."""
    if params is not None:
        given["params"] = _json("--params", params)
    _run_model(ctx, "TRAIN", **given)


@model.command("hpo")
@_data_options
@click.option(
    "--trials", default=20, show_default=True, type=click.IntRange(1, 500), help="HPO trials."
)
@click.pass_context
def model_hpo(ctx: click.Context, **given: object) -> None:
    """Search the hyperparameters (Bayesian, optuna), then train, register and deploy the best."""
    _run_model(ctx, "HPO", **given)


@model.command("list")
@click.option("--mode", type=click.Choice(["TRAIN", "HPO"]), default=None, help="Only these runs.")
@click.pass_context
def model_list(ctx: click.Context, mode: str | None) -> None:
    """Model runs (newest first) with status, metrics and endpoint, and the endpoints."""
    models = models_of(home_of(ctx))
    echo_json({"runs": models.runs(mode), "endpoints": models.registry.endpoints()})


@model.command("infer")
@click.option(
    "--model-name", default="labeling-effort", show_default=True, help="Model or endpoint."
)
@click.option("--input", "given", required=True, help="Feature values as a JSON object (or list).")
@click.option(
    "--range",
    "sweep",
    default=None,
    help='Sweep one feature, e.g. \'{"feature": "frames", "start": 10, "stop": 200}\'.',
)
@click.pass_context
def model_infer(ctx: click.Context, model_name: str, given: str, sweep: str | None) -> None:
    """Predict with the newest endpoint in service of a model."""
    models = models_of(home_of(ctx))
    rows = _json("--input", given)
    swept = _json("--range", sweep) if sweep else None
    echo_json(models.infer(model_name, rows, swept))
