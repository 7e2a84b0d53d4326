"""HTTP function: `POST /api/plans` answers what a setup of the request would do, without writing anything.

Inline, not an orchestration: a plan is a handful of reads (preflight and the `inspect_*` activities' bodies,
called in this process on worker threads, in two parallel rounds), seconds in all, so the caller gets its
answer in the 200 itself (a pipeline gate or Logic App needs no polling loop). They must finish well inside
the 230 s the Functions front end allows an HTTP answer: past `PLAN_DEADLINE_SECONDS` the answer is 504.
Transient ARM answers are retried briefly; still transient: 503 with Retry-After.

Body: the same SetupRequest as `POST /api/setups` (same validation, same 400s). Answer 200:
`{"changes": [{id, type, action, reason}], "problems": [{step, code, message}], "permissions": {...},
"summary": {action: count}}`. ARM writes: none (checkNameAvailability is a POST that only reads).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df
import azure.functions as func

from api import instances
from api.setups import _json
from provisioning import lazy_import

if TYPE_CHECKING:
    from provisioning import contracts as c
    from provisioning import lifecycle, plan_diff
else:  # imported when a plan is first made, not when the app is indexed (cold start)
    c = lazy_import.module("provisioning.contracts")
    lifecycle = lazy_import.module("provisioning.lifecycle")
    plan_diff = lazy_import.module("provisioning.plan_diff")

PLAN_DEADLINE_SECONDS = 200.0  # the front end cuts an HTTP answer at 230 s
READ_ATTEMPTS = 3
READ_RETRY_SECONDS = 1.0
PLAN_RUN_ID = "plan"  # a plan is no run: nothing it reads can carry this as its hopsworks-setup-run tag

logger = logging.getLogger(__name__)

bp = df.Blueprint()


class _Unavailable(Exception):
    """A read stayed transient after READ_ATTEMPTS."""

    def __init__(self, fact: str, error: Mapping[str, Any]) -> None:
        super().__init__(f"{fact}: {error.get('code')}")
        self.fact = fact
        self.error = dict(error)


@bp.route(route="plans", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def make_plan(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await handle_plan(req, client, os.environ)


async def handle_plan(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, env: Mapping[str, str]
) -> func.HttpResponse:
    parsed = instances.parse_request(req, env, "plan")
    if isinstance(parsed, func.HttpResponse):
        return parsed
    validated, _ = parsed
    request = validated.to_orchestration_dict()
    try:
        record, _ = await instances.read_record(client, validated.instance_id)
    except Exception as exc:  # noqa: BLE001 - without the record the plan still stands (tags decide)
        logger.warning("plan: the target's record could not be read (%s)", type(exc).__name__)
        record = {"resources": []}
    try:
        answer = await asyncio.wait_for(
            make(request, validated.instance_id, [r["id"] for r in record["resources"]]),
            PLAN_DEADLINE_SECONDS,
        )
    except TimeoutError:
        return _json(
            504,
            {
                "error": {
                    "code": "PlanTimeout",
                    "message": f"Azure's answers took longer than {PLAN_DEADLINE_SECONDS:g} s",
                }
            },
        )
    except _Unavailable as unavailable:
        return func.HttpResponse(
            body=_body(
                {
                    "error": {
                        "code": str(unavailable.error.get("code")),
                        "message": f"reading {unavailable.fact}: {unavailable.error.get('message')}",
                    }
                }
            ),
            status_code=503,
            mimetype="application/json",
            headers={"Retry-After": "10"},
        )
    return _json(200, answer)


def _body(payload: Mapping[str, Any]) -> str:
    import json

    return json.dumps(payload)


async def make(request: dict[str, Any], setup_instance_id: str, record: list[str]) -> dict[str, Any]:
    """The plan: preflight and the first reads together, then the reads that need their answers."""
    readers = _readers()
    target = lifecycle.Target(request)
    base = lifecycle.common(target, PLAN_RUN_ID, setup_instance_id)
    first = lifecycle.first_inspections(target, base, check_registry_name=True)
    preflight_input = c.PreflightInput(**base.fields(), request=request).to_dict()
    preflight_read = _read(readers["preflight"], preflight_input, "preflight", may_fail=True)
    answers = await asyncio.gather(
        preflight_read, *(_read(readers[i.activity], i.input.to_dict(), i.fact) for i in first)
    )
    preflight, facts, problems = answers[0], {}, []
    _collect(first, answers[1:], facts, problems)
    second = lifecycle.second_inspections(target, base, facts)
    _collect(
        second,
        await asyncio.gather(*(_read(readers[i.activity], i.input.to_dict(), i.fact) for i in second)),
        facts,
        problems,
    )
    location = request.get("location") or (preflight.get("outputs") or {}).get("location")
    changes = plan_diff.plan_changes(
        request, facts, instance_id=setup_instance_id, location=location, record=record
    )
    return {
        "changes": changes,
        "problems": plan_diff.problems_of(preflight, changes) + problems,
        "permissions": _permissions(request, preflight, location),
        "summary": plan_diff.summary(changes),
    }


def _collect(
    inspections: list[lifecycle.Inspection], answers: list[dict], facts: dict[str, Any], problems: list[dict]
) -> None:
    """Facts from the answers; a read that failed for good is a problem (its resource is then planned as if
    absent, and the plan's problems say why it cannot be trusted there)."""
    for inspection, answer in zip(inspections, answers, strict=True):
        if answer.get("ok"):
            facts[inspection.fact] = dict(answer.get("outputs") or {})
        else:
            error = answer.get("error") or {}
            problems.append(
                {
                    "step": "plan",
                    "code": str(error.get("code")),
                    "message": f"reading {inspection.fact}: {error.get('message')}",
                }
            )


async def _read(
    reader: Callable[[dict], dict], payload: dict[str, Any], fact: str, *, may_fail: bool = False
) -> dict[str, Any]:
    """One read on a worker thread (the SDKs block), retried while its answer is transient."""
    loop = asyncio.get_running_loop()
    for attempt in range(1, READ_ATTEMPTS + 1):
        answer = await loop.run_in_executor(None, reader, payload)
        error = answer.get("error") or {}
        if answer.get("ok") or not error.get("transient"):
            return answer
        if attempt < READ_ATTEMPTS:
            await asyncio.sleep(READ_RETRY_SECONDS * attempt)
    if may_fail:
        return answer
    raise _Unavailable(fact, error)


def _readers() -> dict[str, Callable[[dict], dict]]:
    """The read-only activity bodies, by activity name (imported here: they pull in the Azure SDKs)."""
    from activities import (
        authorization,
        containerregistry,
        containerservice,
        msi,
        network,
        privatedns,
        resources,
    )

    return {
        "preflight": resources.preflight,
        "inspect_identity": msi.inspect_identity,
        "inspect_vnet": network.inspect_vnet,
        "inspect_cluster": containerservice.inspect_cluster,
        "inspect_registry": containerregistry.inspect_registry,
        "inspect_role_assignments": authorization.inspect_role_assignments,
        "inspect_dns_links": privatedns.inspect_dns_links,
    }


def _permissions(request: Mapping[str, Any], preflight: Mapping[str, Any], location: str | None) -> dict:
    """What the app's identity needs for this request (`provisioning.permissions`: every action at its
    scope, the least-privilege built-in assignments, the equivalent custom roles) and what preflight found
    missing."""
    from provisioning import permissions
    from provisioning.preflight import MISSING_PERMISSION

    answer = permissions.plan(request, location).to_dict()
    problems = (preflight.get("error") or {}).get("problems") or []
    answer["missing"] = [
        {"action": p.get("target"), "message": p.get("message")}
        for p in problems
        if p.get("code") == MISSING_PERMISSION
    ]
    return answer
