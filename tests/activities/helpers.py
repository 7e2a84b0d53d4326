"""Shared values and assertions of the activity tests."""

from __future__ import annotations

from typing import Any

from simulator.testing import SUBSCRIPTION_ID

SUB = SUBSCRIPTION_ID
RG = "hopsworks-rg"
LOCATION = "northeurope"
RUN_ID = "11111111-1111-4111-8111-111111111111"
OTHER_RUN_ID = "22222222-2222-4222-8222-222222222222"
INSTANCE_ID = "setup-test-instance"
USER_TAGS = {"owner": "platform"}

READS = {"GET", "HEAD"}


def common(run_id: str = RUN_ID, **fields: Any) -> dict[str, Any]:
    """The fields every activity input carries (DESIGN.md, activity contract), plus `fields`."""
    return {
        "subscriptionId": SUB,
        "resourceGroup": RG,
        "location": LOCATION,
        "tags": dict(USER_TAGS),
        "runId": run_id,
        "instanceId": INSTANCE_ID,
        **fields,
    }


def rid(provider_type: str, name: str, *children: str, resource_group: str = RG) -> str:
    from provisioning import naming

    return naming.resource_id(SUB, resource_group, provider_type, name, *children)


def writes(sim: Any) -> list[dict[str, Any]]:
    """Requests that change something (checkNameAvailability is a POST that only reads)."""
    return [
        r
        for r in sim.requests
        if r["method"] not in READS and not r["path"].lower().endswith("/checknameavailability")
    ]


def write_summary(sim: Any) -> list[tuple[str, str | None]]:
    return [(r["method"], r["resourceType"]) for r in writes(sim)]


def assert_ok(result: dict[str, Any]) -> dict[str, Any]:
    assert result["ok"] is True, result
    assert set(result) == {"ok", "resources", "outputs"}
    return result


def assert_error(result: dict[str, Any], code: str, transient: bool = False) -> dict[str, Any]:
    assert result["ok"] is False, result
    error = result["error"]
    assert error["code"] == code, error
    assert error["transient"] is transient, error
    assert error["message"], error
    return error


def stored(sim: Any, resource_type: str) -> list[dict[str, Any]]:
    """Bodies of every resource of `resource_type` in the simulated Azure."""
    return [
        r for r in sim.state()["resources"] if (r.get("type") or "").casefold() == resource_type.casefold()
    ]


def writes_after(sim: Any, index: int) -> list[tuple[str, str | None]]:
    """(method, resource type) of each non-read request logged after request number `index`."""
    return [(r["method"], r["resourceType"]) for r in sim.requests[index:] if r["method"] not in READS]
