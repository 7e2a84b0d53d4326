"""HTTP starter: `POST /api/setups` validates a SetupRequest and starts (or finds) its orchestration.

Thin adapter: validation, instance ids and settings live in `provisioning/`. One run per target: the instance
id derives from (subscription, resource group, AKS name), and a target whose run is still going gets that
run's URLs back instead of a second run.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import azure.durable_functions as df
import azure.functions as func

from api.status import app_status_location
from provisioning import function_names
from provisioning.status_polling import retry_after_seconds

ORCHESTRATOR_NAME = function_names.SETUP_ORCHESTRATOR
FAILURE_FLAG = "returnInternalServerErrorOnFailure"
# A run in these states is still going (or may resume): never start a second one over it.
ACTIVE_STATES = frozenset({"Pending", "Running", "ContinuedAsNew", "Suspended"})

logger = logging.getLogger(__name__)

bp = df.Blueprint()


@bp.route(route="setups", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def start_setup(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await handle_start_setup(req, client, os.environ)


async def handle_start_setup(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, env: Mapping[str, str]
) -> func.HttpResponse:
    """Validate, then 202 with the target's run (started now or already going); 400 lists every error."""
    from api import instances  # imports this module: one run per target across kinds, the target's record

    parsed = instances.parse_request(req, env, "setup")
    if isinstance(parsed, func.HttpResponse):
        return parsed
    validated, settings = parsed
    instance_id = validated.instance_id
    try:
        if await instances.is_active(client, instance_id):
            logger.info("setup %s is already running; answering with its status URLs", instance_id)
            return check_status_response(client, req, instance_id)
        busy = await instances.other_kind_running(client, req, "setup", instance_id)
        if busy is not None:
            return busy
        # The run about to start replaces the previous one's output: fold it into the target's record first.
        await instances.update_record(client, instance_id)
        orchestration_input = {"request": validated.to_orchestration_dict(), "timing": settings.timing}
        try:
            await client.start_new(ORCHESTRATOR_NAME, instance_id, orchestration_input)
        except Exception:
            # Another POST for this target may have started the run between our check and our start.
            if await instances.is_active(client, instance_id):
                logger.info("setup %s was started concurrently; answering with its status URLs", instance_id)
                return check_status_response(client, req, instance_id)
            raise
    except Exception as exc:  # noqa: BLE001 - the durable extension is unreachable or refused the start
        logger.error("setup %s could not be started: %s", instance_id, type(exc).__name__)
        return _json(500, {"error": {"code": "StartFailed",
                                     "message": f"the orchestration for {instance_id} could not be started"}})
    logger.info("setup %s started", instance_id)
    return check_status_response(client, req, instance_id)


def check_status_response(
    client: df.DurableOrchestrationClient, req: func.HttpRequest, instance_id: str
) -> func.HttpResponse:
    """The SDK's 202 check-status response, with the polled URL answering 500 once the run has failed.

    Without `returnInternalServerErrorOnFailure=true` the status endpoint answers 200 for a Failed run, and a
    poller that stops at the first non-202 (Logic Apps) would report success. `Location` is the app's own
    status endpoint (`api/status.py`: a `Retry-After` that follows the run) when the caller sent its key as
    `code`; otherwise the extension's status URL, which needs no header.
    """
    original = client.create_check_status_response(req, instance_id)
    payload: dict[str, Any] = json.loads(original.get_body())
    status_url = with_failure_flag(payload["statusQueryGetUri"])
    payload["statusQueryGetUri"] = status_url
    app_location = app_status_location(req, instance_id)
    if app_location is not None:
        headers = {"Location": app_location, "Retry-After": str(retry_after_seconds(None))}
    else:
        headers = {"Location": status_url, "Retry-After": original.headers.get("Retry-After") or "10"}
    return func.HttpResponse(
        body=json.dumps(payload), status_code=202, mimetype="application/json", headers=headers
    )


_FLAG_PARAMETER = re.compile(rf"(^|&){FAILURE_FLAG}=[^&]*", re.IGNORECASE)


def with_failure_flag(url: str) -> str:
    """`url` with `returnInternalServerErrorOnFailure=true` in its query (set, or replaced if present)."""
    parts = urlsplit(url)
    query = parts.query
    if _FLAG_PARAMETER.search(query):
        query = _FLAG_PARAMETER.sub(lambda m: f"{m.group(1)}{FAILURE_FLAG}=true", query)
    else:
        query = f"{query}&{FAILURE_FLAG}=true" if query else f"{FAILURE_FLAG}=true"
    return urlunsplit(parts._replace(query=query))


def _json(status: int, body: Mapping[str, Any]) -> func.HttpResponse:
    return func.HttpResponse(body=json.dumps(body), status_code=status, mimetype="application/json")
