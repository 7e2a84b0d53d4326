"""HTTP helpers of the lifecycle tests: plan, setup and teardown as a pipeline would call them."""

from __future__ import annotations

import re
from typing import Any

import requests

from tests.reliability.harness import Lab, RunResult, Target

CHECK_NAME_PATH = "/checknameavailability"
REGISTRY = "Microsoft.ContainerRegistry/registries"
PEERING = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
VNET = "Microsoft.Network/virtualNetworks"
IDENTITY = "Microsoft.ManagedIdentity/userAssignedIdentities"
ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"


def post(lab: Lab, route: str, body: Any) -> requests.Response:
    host = lab.host
    return lab.http.post(f"{host.base_url}/api/{route}", json=body, headers=host.auth_headers, timeout=60)


def plan(lab: Lab, target: Target, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = post(lab, "plans", body or target.body())
    assert answer.status_code == 200, answer.text
    return answer.json()


def start_teardown(lab: Lab, target: Target) -> dict[str, Any]:
    accepted = post(lab, "teardowns", target.body())
    assert accepted.status_code == 202, accepted.text
    assert "returnInternalServerErrorOnFailure=true" in accepted.json()["statusQueryGetUri"]
    assert accepted.json()["id"].startswith("teardown-")
    return accepted.json()


def teardown(lab: Lab, target: Target, timeout: float = 90.0) -> RunResult:
    accepted = start_teardown(lab, target)
    status, payload = lab.wait(accepted["statusQueryGetUri"], timeout)
    return RunResult(target, status, payload, 0.0, accepted)


def actions(answer: dict[str, Any]) -> dict[str, list[str]]:
    """{action: [type:name, ...]} of a plan's changes."""
    grouped: dict[str, list[str]] = {}
    for change in answer["changes"]:
        grouped.setdefault(change["action"], []).append(
            f"{short(change['type'])}:{change['id'].rsplit('/', 1)[-1]}"
        )
    return grouped


def short(resource_type: str) -> str:
    return resource_type.rsplit("/", 1)[-1]


def arm_writes(lab: Lab, target: Target, since: int) -> list[dict[str, Any]]:
    """Writes to the target's subscription since `since` (checkNameAvailability is a POST that only reads)."""
    return [e for e in lab.writes(target, since) if not e["path"].lower().endswith(CHECK_NAME_PATH)]


def ids(resources: list[dict[str, Any]]) -> set[str]:
    return {r["id"].casefold() for r in resources}


def drift_retention(lab: Lab, target: Target, days: int) -> None:
    rid = target.rid(f"{REGISTRY}/{target.acr_name}")
    lab.arm_settled(
        "PATCH",
        rid,
        REGISTRY,
        {"properties": {"policies": {"retentionPolicy": {"days": days, "status": "enabled"}}}},
    )


def drift_peering_flag(lab: Lab, target: Target, vnet: str, peering: str) -> str:
    """Turn on 'traffic forwarded from remote' by hand, as someone at the portal would; the peering's id."""
    rid = target.rid(f"{VNET}/{vnet}/virtualNetworkPeerings/{peering}")
    _, body = lab.arm("GET", rid, PEERING)
    body["properties"]["allowForwardedTraffic"] = True
    body["properties"] = {k: v for k, v in body["properties"].items() if k != "provisioningState"}
    lab.arm_settled("PUT", rid, PEERING, {"properties": body["properties"]})
    return rid


def scoped_fault(lab: Lab, target: Target, **fields: Any) -> Any:
    """A simulator fault that only hits requests of `target`'s subscription."""
    return lab.sim.add_fault(path="^" + re.escape(target.path_scope), regex=True, **fields)


def hold_registry(lab: Lab, target: Target, method: str) -> Any:
    """The target's next registry `method` (PUT, DELETE) takes a second: 429 with Retry-After 1, which the
    SDK waits out inside the activity, so the run is surely still going a moment later."""
    return scoped_fault(
        lab, target, method=method, resource_type=REGISTRY, kind="status", status=429, retry_after=1, count=1
    )
