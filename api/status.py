"""The app's own status endpoints: `GET /api/setups/{instanceId}`, `GET /api/teardowns/{instanceId}`
(auth FUNCTION).

The Durable extension's status URL answers a fixed `Retry-After`; a poller that honours it (Logic Apps) sees a
finished run up to that long after it ended. This endpoint answers the same status with a `Retry-After` that
follows the run (`provisioning.status_polling`): 202 + `Location` + `Retry-After` while it runs, 200 + the
output when Completed, 500 + the output when Failed, Terminated or Canceled (so a poller that stops at the
first non-202 never takes a failure for success).

Where POST's `Location` points (`app_status_location`): here, carrying the caller's own function key as
`code` when the caller sent it that way; a caller that sent the key in the `x-functions-key` header gets the
extension's status URL (as before), because a poller that does not re-send headers (Logic Apps) could not
authenticate here, and the extension's URL carries its own system key.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

import azure.durable_functions as df
import azure.functions as func

from provisioning.status_polling import retry_after_seconds

logger = logging.getLogger(__name__)

bp = df.Blueprint()

RUNNING_STATES = frozenset({"Pending", "Running", "ContinuedAsNew", "Suspended"})
FAILED_STATES = frozenset({"Failed", "Terminated", "Canceled"})
# Instance ids the app makes (`provisioning.naming.instance_id`): a prefix, then a UUID.
_INSTANCE_ID = re.compile(r"^(?P<kind>[a-z]+)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@bp.route(route="setups/{instanceId}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def setup_status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await status_response(client, req, req.route_params.get("instanceId", ""), "setup")


@bp.route(route="teardowns/{instanceId}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def teardown_status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await status_response(client, req, req.route_params.get("instanceId", ""), "teardown")


async def status_response(
    client: df.DurableOrchestrationClient, req: func.HttpRequest, instance_id: str, kind: str
) -> func.HttpResponse:
    """202 (running, with `Location` = this URL as called and `Retry-After`), 200, 500, 400 or 404.

    `kind` is the instance id's prefix (`setup`, `teardown`): each collection shows its own runs only.
    """
    match = _INSTANCE_ID.match(instance_id)
    if not match or match["kind"] != kind:
        message = f"must be the id a POST answered: '{kind}-' then a lower-case UUID"
        return _json(400, {"errors": [{"field": "instanceId", "message": message}]})
    try:
        status = await client.get_status(instance_id)
    except Exception as exc:  # noqa: BLE001 - the durable extension is unreachable or answered oddly
        logger.error("status of %s could not be read: %s", instance_id, type(exc).__name__)
        return _json(500, {"error": {"code": "StatusUnavailable",
                                     "message": f"the status of {instance_id} could not be read"}})
    runtime_status = _state_name(status)
    if runtime_status is None:
        return _json(404, {"error": {"code": "NotFound", "message": f"no run with id {instance_id}"}})
    body = _status_body(status, runtime_status)
    if runtime_status in RUNNING_STATES:
        headers = {"Location": req.url, "Retry-After": str(retry_after_seconds(body.get("customStatus")))}
        return _json(202, body, headers)
    return _json(500 if runtime_status in FAILED_STATES else 200, body)


def app_status_location(req: func.HttpRequest, instance_id: str) -> str | None:
    """This endpoint's URL for `instance_id`, as seen by the caller of `req` (a POST to the collection).

    None when the caller did not send its key as `code` in the query: a poller that follows `Location`
    without re-sending headers (Logic Apps) must find the key in the URL, and no other key may go there.
    """
    parts = urlsplit(req.url)
    key = req.params.get("code") or next(iter(parse_qs(parts.query).get("code", [])), None)
    if not key:
        return None
    path = f"{parts.path.rstrip('/')}/{quote(instance_id, safe='')}"
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode({"code": key}), ""))


def _state_name(status: Any) -> str | None:
    runtime_status = getattr(status, "runtime_status", None) if status is not None else None
    name = getattr(runtime_status, "name", runtime_status)
    return str(name) if name else None


def _status_body(status: Any, runtime_status: str) -> dict[str, Any]:
    """The extension's status fields a poller reads (no input, no history)."""
    body = status.to_json()
    body.pop("input", None)
    body.pop("history", None)
    body["runtimeStatus"] = runtime_status
    return body


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(body=json.dumps(body), status_code=status, mimetype="application/json",
                             headers=headers)
