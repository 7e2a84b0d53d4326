"""What the starters share about a target's instances: one run per target across kinds, and its record.

One run per target across both kinds: a setup (`setup-<uuid>`) and a teardown (`teardown-<same uuid>`) of one
target never run at once. A POST of one kind while the other kind's instance is running answers 409 with
that instance's id and status URL (what the check-status payload carries, nothing more) and starts nothing.

The record (`setuprecord-<same uuid>`, an orchestration whose input is the record) is the durable account of
what setups for the target created and no teardown has deleted since (`provisioning.teardown.fold_record`).
A setup's output lists what that run created, but the next run under the same instance id replaces it, and
subnets, peerings and role assignments carry no tag saying so: so before a setup or teardown starts over a
finished instance, the finished runs are folded into the record. It lives in the task hub, so it survives
host restarts like the instances themselves.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df
import azure.functions as func

from api.setups import ACTIVE_STATES, _json, check_status_response
from provisioning import function_names, lazy_import

if TYPE_CHECKING:
    from provisioning import lifecycle, teardown
    from provisioning.request import SetupRequest
    from provisioning.settings import Settings
else:  # imported when a request first comes, not when the app is indexed (cold start)
    lifecycle = lazy_import.module("provisioning.lifecycle")
    teardown = lazy_import.module("provisioning.teardown")

TARGET_BUSY = "TargetBusy"
_RECORD_WRITE_ATTEMPTS = 5

logger = logging.getLogger(__name__)


def parse_request(
    req: func.HttpRequest, env: Mapping[str, str], kind: str
) -> tuple[SetupRequest, Settings] | func.HttpResponse:
    """The validated request and the app settings, or the answer: 400 listing every error in the body, 500
    `InvalidAppSettings` naming the bad settings (never their values)."""
    # Imported here, not at module level: the request model (pydantic) is most of the app's own import time,
    # and every worker start (orchestrations, activities) would pay it; only the HTTP functions need it.
    from provisioning.request import SetupRequest, validate_setup_request
    from provisioning.settings import Settings, SettingsError

    validated = validate_setup_request(req.get_body())
    if not isinstance(validated, SetupRequest):
        logger.info(
            "%s request rejected: %d problem(s) in fields %s",
            kind,
            len(validated),
            sorted({error.field for error in validated}),
        )
        return _json(400, {"errors": [error.to_dict() for error in validated]})
    try:
        return validated, Settings.from_env(env)
    except SettingsError as exc:
        logger.error("%s request refused: %s", kind, exc)
        return _json(500, {"error": {"code": "InvalidAppSettings", "message": str(exc)}})


def runtime_name(status: Any) -> str | None:
    runtime_status = getattr(status, "runtime_status", None) if status else None
    return getattr(runtime_status, "value", runtime_status)


async def is_active(client: df.DurableOrchestrationClient, instance_id: str) -> bool:
    return runtime_name(await client.get_status(instance_id)) in ACTIVE_STATES


async def other_kind_running(
    client: df.DurableOrchestrationClient, req: func.HttpRequest, kind: str, setup_instance_id: str
) -> func.HttpResponse | None:
    """409 naming the other kind's running instance of this target, or None when none is running."""
    other = lifecycle.TEARDOWN if kind == lifecycle.SETUP else lifecycle.SETUP
    other_id = lifecycle.instance_ids(setup_instance_id)[other]
    if not await is_active(client, other_id):
        return None
    logger.info("%s refused: %s %s is running", kind, other, other_id)
    return busy_response(client, req, kind, other, other_id)


def busy_response(
    client: df.DurableOrchestrationClient, req: func.HttpRequest, kind: str, other: str, other_id: str
) -> func.HttpResponse:
    accepted = check_status_response(client, req, other_id)
    status_url = json.loads(accepted.get_body())["statusQueryGetUri"]
    body = {
        "error": {
            "code": TARGET_BUSY,
            "message": f"a {other} for this target is running ({other_id}); start the {kind} once it has "
            "finished (follow statusQueryGetUri)",
        },
        "id": other_id,
        "statusQueryGetUri": status_url,
    }
    return func.HttpResponse(
        body=json.dumps(body), status_code=409, mimetype="application/json", headers={"Location": status_url}
    )


# ---------------------------------------------------------------- the record


def _run(kind: str, status: Any) -> dict[str, Any] | None:
    created = getattr(status, "created_time", None) if status else None
    if created is None:
        return None
    return {
        "kind": kind,
        "createdTime": created.isoformat() if hasattr(created, "isoformat") else str(created),
        "runtimeStatus": runtime_name(status),
        "output": getattr(status, "output", None),
    }


async def read_record(client: df.DurableOrchestrationClient, setup_instance_id: str) -> tuple[dict, bool]:
    """(the record with every finished run folded in, whether that changed the stored record)."""
    ids = lifecycle.instance_ids(setup_instance_id)
    stored_status, setup_status, teardown_status = await asyncio.gather(
        client.get_status(ids[lifecycle.RECORD], show_input=True),
        client.get_status(ids[lifecycle.SETUP]),
        client.get_status(ids[lifecycle.TEARDOWN]),
    )
    stored = getattr(stored_status, "input_", None) if stored_status else None
    if isinstance(stored, str):
        stored = json.loads(stored)
    stored = stored if isinstance(stored, dict) else None
    runs = [
        run for run in (_run(lifecycle.SETUP, setup_status), _run(lifecycle.TEARDOWN, teardown_status)) if run
    ]
    folded = teardown.fold_record(stored, runs)
    # Only a change of resources is written: a run that changed none (its `seen` mark unwritten) changes
    # none when folded again.
    before = teardown.fold_record(stored, [])["resources"]
    return folded, _ids(folded["resources"]) != _ids(before)


def _ids(resources: list[dict]) -> set[str]:
    return {str(resource["id"]).casefold() for resource in resources}


async def update_record(client: df.DurableOrchestrationClient, setup_instance_id: str) -> dict:
    """Fold the target's finished runs into its stored record (before a new run replaces one) and return it.

    Called by the starters only, before they start a run. A write the host refuses (the record instance is
    still finishing its previous write) is tried again shortly; the record returned is right either way.
    """
    record, changed = await read_record(client, setup_instance_id)
    if not changed:
        return record
    record_id = lifecycle.instance_ids(setup_instance_id)[lifecycle.RECORD]
    for attempt in range(_RECORD_WRITE_ATTEMPTS):
        try:
            await client.start_new(function_names.RECORD_ORCHESTRATOR, record_id, record)
            return record
        except Exception:  # noqa: BLE001 - refused while the previous write is running: try again
            await asyncio.sleep(0.2 * (attempt + 1))
    logger.warning("the record %s could not be written; it is folded again at the next start", record_id)
    return record
