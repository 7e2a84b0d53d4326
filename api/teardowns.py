"""HTTP starter: `POST /api/teardowns` removes what setups for a target created.

Body: the SetupRequest of the setup to remove (same validation and 400s as `POST /api/setups`). Answers 202
with the check-status payload and `Location` (the status URL answers 500 once the teardown has failed), like
setups; 409 while a setup for the target runs (`api/instances.py`). The teardown's input carries the
target's record (what its setups created), folded in here before the start.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import azure.durable_functions as df
import azure.functions as func

from api import instances
from api.setups import _json, check_status_response
from provisioning import function_names, lazy_import

if TYPE_CHECKING:
    from provisioning import lifecycle
else:  # imported when a teardown is first asked for, not when the app is indexed (cold start)
    lifecycle = lazy_import.module("provisioning.lifecycle")

logger = logging.getLogger(__name__)

bp = df.Blueprint()


@bp.route(route="teardowns", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def start_teardown(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await handle_start_teardown(req, client, os.environ)


async def handle_start_teardown(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, env: Mapping[str, str]
) -> func.HttpResponse:
    """Validate, then 202 with the target's teardown (started now or going); 409 while a setup runs."""
    parsed = instances.parse_request(req, env, lifecycle.TEARDOWN)
    if isinstance(parsed, func.HttpResponse):
        return parsed
    validated, settings = parsed
    ids = lifecycle.instance_ids(validated.instance_id)
    teardown_id = ids[lifecycle.TEARDOWN]
    try:
        busy = await instances.other_kind_running(client, req, lifecycle.TEARDOWN, ids[lifecycle.SETUP])
        if busy is not None:
            return busy
        if await instances.is_active(client, teardown_id):
            return check_status_response(client, req, teardown_id)
        record = await instances.update_record(client, ids[lifecycle.SETUP])
        orchestration_input = {
            "request": validated.to_orchestration_dict(),
            "timing": settings.timing,
            "record": [resource["id"] for resource in record["resources"]],
            "setupInstanceId": ids[lifecycle.SETUP],
        }
        try:
            await client.start_new(function_names.TEARDOWN_ORCHESTRATOR, teardown_id, orchestration_input)
        except Exception:
            if await instances.is_active(client, teardown_id):
                return check_status_response(client, req, teardown_id)
            raise
        # A setup POSTed at the same moment may have passed its own check before this start: the teardown
        # yields (its first activities only read), so the two never run together.
        busy = await instances.other_kind_running(client, req, lifecycle.TEARDOWN, ids[lifecycle.SETUP])
        if busy is not None:
            await client.terminate(teardown_id, "a setup for this target started at the same time")
            return busy
    except Exception as exc:  # noqa: BLE001 - the durable extension is unreachable or refused the start
        logger.error("teardown %s could not be started: %s", teardown_id, type(exc).__name__)
        return _json(
            500,
            {
                "error": {
                    "code": "StartFailed",
                    "message": f"the orchestration for {teardown_id} could not be started",
                }
            },
        )
    logger.info("teardown %s started", teardown_id)
    return check_status_response(client, req, teardown_id)
