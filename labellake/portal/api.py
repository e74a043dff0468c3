"""The batch REST API (FastAPI), in the reference solution's shapes.

POST /batch/create, GET /batch/show, POST /batch-metadata/post, POST /batch/stop,
POST /batch/retry, DELETE /batch, GET /workforce/show. User errors answer 4xx
with {"message", "errors": [{"field", "message"}]}; with a token configured
(the default of `labellake api` and `up`), every call but /health needs
"Authorization: Bearer <token>": that admin token, or an account's personal
token (`labellake account token NAME`), whose calls are recorded as the account.
Only the admin token, or an admin account's, may name the recorded actor with
X-Labellake-User; without a token every call is recorded as "anonymous".
Bodies over MAX_BODY_BYTES answer 413.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from labellake import __version__, jsontext
from labellake.errors import LabellakeError, TooLargeError
from labellake.workflows import compose
from labellake.workflows.labeling.backends.labelstudio import WEBHOOK_HEADER
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.loop import Pulse
from labellake.workflows.models.store import RunStatus
from labellake.workflows.models.workflow import ModelWorkflow, parse_run_request
from labellake.workflows.people.accounts import Accounts

MAX_BODY_BYTES = 16 << 20  # a batch request of thousands of jobs is well under this
ACTOR_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}")


class Unauthorized(LabellakeError):
    status_code = 401


class Forbidden(LabellakeError):
    status_code = 403


async def _body(request: Request) -> bytes:
    """The request body, refused past MAX_BODY_BYTES before it is all in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise TooLargeError(f"request: the body is over {MAX_BODY_BYTES >> 20} MiB; send less")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TooLargeError(f"request: the body is over {MAX_BODY_BYTES >> 20} MiB; send less")
        chunks.append(chunk)
    return b"".join(chunks)


def _problems(exc: LabellakeError) -> list[dict[str, str]]:
    return list(getattr(exc, "problems", None) or [{"field": "request", "message": str(exc)}])


async def _json_object(request: Request) -> dict[str, Any]:
    payload = jsontext.loads(await _body(request) or b"null", "request")
    if not isinstance(payload, dict):
        raise LabellakeError("the body must be a JSON object")
    return payload


def _field(payload: dict[str, Any], name: str, kind: type | tuple[type, ...] = str) -> Any:
    if name not in payload:
        raise LabellakeError(f"{name}: required field is missing")
    value = payload[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise LabellakeError(f"{name}: expected a {getattr(kind, '__name__', 'number')}")
    return value


def create_app(
    engine: Engine,
    token: str | None = None,
    models: ModelWorkflow | None = None,
    runner: Pulse | None = None,
    stale_s: float = 60.0,
    model_steps: Pulse | None = None,
) -> FastAPI:
    models = models or compose.engine_models(engine)
    app = FastAPI(
        title="labellake",
        version=__version__,
        description="Hierarchical labeling workflows: batches of labeling jobs in "
        "levels, run by a simulated, local or Ground Truth workforce.",
    )

    accounts = Accounts(engine.state)

    def authorize(request: Request) -> str:
        """The actor to record: the admin token (and the person X-Labellake-User names),
        or an account's personal token; 401 without either when the API has a token."""
        if not token:
            return "anonymous"
        given = request.headers.get("authorization", "")
        user = request.headers.get("x-labellake-user", "")
        if user and not ACTOR_PATTERN.fullmatch(user):
            raise LabellakeError(
                "X-Labellake-User: 1-128 letters, digits and . _ @ : -, starting with a "
                "letter or digit"
            )
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            # Held by trusted front ends, which name the person they act for.
            return user or "api"
        account = accounts.by_token(given.removeprefix("Bearer ").strip())
        if account is None:
            raise Unauthorized(
                "missing or wrong API token; send 'Authorization: Bearer <token>' with the "
                "token `labellake api token` prints, or your own from `labellake account "
                "token NAME`"
            )
        if user and user != account["name"] and account["role"] != "admin":
            raise Forbidden(
                f"X-Labellake-User: only an admin's token may act for someone else; "
                f"this token is {account['name']}'s (leave the header out)"
            )
        return user or account["name"]

    @app.exception_handler(LabellakeError)
    async def user_error(request: Request, exc: LabellakeError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code, content={"message": str(exc), "errors": _problems(exc)}
        )

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or "request", "message": e["msg"]}
            for e in exc.errors()
        ]
        return JSONResponse(
            status_code=400,
            content={"message": f"{errors[0]['field']}: {errors[0]['message']}", "errors": errors},
        )

    @app.get("/health")
    def health() -> JSONResponse:
        """ok, with the heartbeat and last error of the runner and of the model steps
        worker when they run beside the API; 503 "stale" once either's last good pass is
        older than ``stale_s`` (runner_stale_s)."""
        loops = {"runner": runner, "modelSteps": model_steps}
        beating = {name: pulse for name, pulse in loops.items() if pulse is not None}
        if not beating:
            return JSONResponse({"status": "ok", "version": __version__})
        stale = any(pulse.age_s() > stale_s for pulse in beating.values())
        return JSONResponse(
            {
                "status": "stale" if stale else "ok",
                "version": __version__,
                **{name: pulse.report() for name, pulse in beating.items()},
            },
            status_code=503 if stale else 200,
        )

    @app.post("/batch/create")
    async def create_batch(request: Request, actor: str = Depends(authorize)) -> dict[str, str]:
        """Submit a batch request (see batch-create-request.json); 400 names the bad field."""
        body = await _body(request)
        batch_id = await run_in_threadpool(engine.submit, body, actor)
        return {"batchId": batch_id, "status": "IN_PROGRESS"}

    @app.get("/batch/show")
    def show_batch(
        batch_id: str | None = Query(default=None, alias="batchId"), actor: str = Depends(authorize)
    ) -> dict[str, Any]:
        """Without batchId: batch ids by status. With it: the batch's detail."""
        if batch_id is None:
            return engine.list_by_status()
        return engine.show(batch_id)

    @app.post("/batch-metadata/post")
    async def batch_metadata(request: Request, actor: str = Depends(authorize)) -> dict[str, Any]:
        """Change the downSamplingRate of a running batch."""
        payload = await _json_object(request)
        batch_id = _field(payload, "batchId")
        rate = _field(payload, "downSamplingRate", (int, float))
        await run_in_threadpool(engine.set_down_sampling_rate, batch_id, float(rate), actor)
        return {"batchId": batch_id, "downSamplingRate": float(rate)}

    @app.post("/batch/stop")
    async def stop_batch(request: Request, actor: str = Depends(authorize)) -> dict[str, str]:
        batch_id = _field(await _json_object(request), "batchId")
        await run_in_threadpool(engine.stop, batch_id, actor)
        return {"batchId": batch_id, "status": "STOPPED"}

    @app.post("/batch/retry")
    async def retry_batch(request: Request, actor: str = Depends(authorize)) -> dict[str, str]:
        batch_id = _field(await _json_object(request), "batchId")
        await run_in_threadpool(engine.retry, batch_id, actor)
        return {"batchId": batch_id, "status": "IN_PROGRESS"}

    @app.delete("/batch")
    def delete_batch(
        batch_id: str = Query(alias="batchId"),
        dry_run: bool = Query(default=False, alias="dryRun"),
        actor: str = Depends(authorize),
    ) -> dict[str, Any]:
        """Delete a batch with its levels, jobs, tasks, raw outputs and lake rows."""
        return engine.delete(batch_id, dry_run=dry_run, actor=actor)

    @app.post("/labelstudio/webhook")
    async def labelstudio_webhook(request: Request) -> dict[str, Any]:
        """Label Studio reports an annotation created, updated or deleted in a project of a
        labelstudio job; the job's next poll happens at once. Authenticated by the
        X-Labellake-Webhook-Token header the backend gave the webhook (not the API token,
        which Label Studio never holds)."""
        backend = engine.backends.get("labelstudio")
        expected = getattr(backend, "webhook_token", None)
        given = request.headers.get(WEBHOOK_HEADER, "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise Forbidden(
                f"{WEBHOOK_HEADER}: missing or wrong; only the webhooks labellake gives its "
                "Label Studio projects may call here"
            )
        payload = await _json_object(request)
        project = await run_in_threadpool(backend.notice, payload)  # type: ignore[union-attr]
        return {"project": project}

    @app.get("/workforce/show")
    def workforce(actor: str = Depends(authorize)) -> dict[str, Any]:
        """Work teams and their workers: the labeling backend's and the local ones."""
        from labellake.workflows.people.workforce import Workforce

        local = Workforce(engine.state, engine.config.region, engine.config.account)
        teams = engine.backend.workforce()
        labelstudio = engine.backends.get("labelstudio")
        if engine.backend is not labelstudio and getattr(labelstudio, "url", None):
            teams += labelstudio.workforce()  # type: ignore[union-attr]
        return {"workteams": teams + local.teams()}

    async def start_run(request: Request, mode: str, actor: str) -> dict[str, Any]:
        run = parse_run_request(await _json_object(request), mode)
        run_id = await run_in_threadpool(models.start, run, actor)
        return {"runId": run_id, "modelName": run.model_name, "status": RunStatus.TRAINING_MODEL}

    @app.post("/model")
    async def start_training(request: Request, actor: str = Depends(authorize)) -> dict[str, Any]:
        """Start a TRAIN run: train, register, deploy; 400 names a bad field or column."""
        return await start_run(request, "TRAIN", actor)

    @app.get("/model")
    def list_models(actor: str = Depends(authorize)) -> dict[str, Any]:
        """Every model run (TRAIN and HPO) with its status, and the endpoints."""
        return {"runs": models.listing(), "endpoints": models.endpoints()}

    @app.post("/hpo")
    async def start_tuning(request: Request, actor: str = Depends(authorize)) -> dict[str, Any]:
        """Start an HPO run: the search, then the best model trained, registered, deployed."""
        return await start_run(request, "HPO", actor)

    @app.get("/hpo")
    def list_tuning(actor: str = Depends(authorize)) -> dict[str, Any]:
        """HPO runs with their statuses and every trial."""
        return {"runs": models.listing("HPO", trials=True)}

    @app.post("/infer")
    async def infer(request: Request, actor: str = Depends(authorize)) -> dict[str, Any]:
        """{modelName, input, range}: predictions, and one input swept over its values."""
        payload = await _json_object(request)
        extra = sorted(set(payload) - {"modelName", "input", "range"})
        if extra:
            raise LabellakeError(f"{extra[0]}: unknown field; give modelName, input and range")
        name = payload.get("modelName", "labeling-effort")
        if not isinstance(name, str):
            raise LabellakeError("modelName: expected a string")
        if "input" not in payload:
            raise LabellakeError("input: required field is missing")
        return await run_in_threadpool(models.infer, name, payload["input"], payload.get("range"))

    return app
