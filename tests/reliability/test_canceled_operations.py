"""A write whose operation ends Canceled, end to end through the local host (issue #9 section 1): once, the
run retries the step, PUTs the wanted body again and completes like a clean run; every time, the step fails
after the retry budget naming the resource, and the rollback leaves the target as it was."""

from __future__ import annotations

import re

from tests.reliability.harness import Lab, Target

VNETS = "Microsoft.Network/virtualNetworks"


def cancel(lab: Lab, target: Target, vnet_name: str, count: int) -> object:
    return lab.sim.add_fault(
        method="PUT",
        resource_type=VNETS,
        path="^" + re.escape(target.path_scope) + rf".*/virtualNetworks/{vnet_name}$",
        regex=True,
        kind="lro_canceled",
        count=count,
    )


def test_a_vnet_create_canceled_once_is_put_right_and_the_run_completes(lab: Lab) -> None:
    target = Target("canceled|once")
    lab.prepare(target)
    fault = cancel(lab, target, "hopsaks-vnet", count=1)
    mark = lab.log_mark()

    result = lab.run(target)

    assert result.runtime_status == "Completed", result.output
    assert fault.fired == 1  # type: ignore[attr-defined]
    vnet_id = target.rid(f"{VNETS}/hopsaks-vnet")
    puts = [
        e for e in lab.writes(target, mark) if e["method"] == "PUT" and e["path"].lower() == vnet_id.lower()
    ]
    assert len(puts) == 2  # the canceled create, then the same body again
    vnet = lab.sim.resource(vnet_id)
    assert vnet["properties"]["provisioningState"] == "Succeeded"
    subnets = [r for r in lab.resources(target) if r["id"].lower().startswith(vnet_id.lower() + "/subnets/")]
    assert {s["name"]: s["properties"]["provisioningState"] for s in subnets} == {"aks-nodes": "Succeeded"}
    actions = {(r["id"].lower(), r["action"]) for r in result.output["resources"]}
    assert (vnet_id.lower(), "created") in actions


def test_a_vnet_create_canceled_every_time_fails_the_step_naming_it(lab: Lab) -> None:
    target = Target("canceled|always")
    lab.prepare(target)
    before = lab.state(target)
    fault = cancel(lab, target, "hopsworks-vnet", count=-1)
    try:
        result = lab.run(target)
    finally:
        with lab.sim.arm.lock:
            lab.sim.arm.faults[:] = [f for f in lab.sim.arm.faults if f is not fault]

    assert result.runtime_status == "Failed", result.output
    error = result.custom_status["error"]
    assert error["step"] == "hopsworks_network"
    assert error["code"] == "ResourceFailedState"
    vnet_id = target.rid(f"{VNETS}/hopsworks-vnet")
    message = str(result.output)
    assert vnet_id.lower() in message.lower() and "Canceled" in message
    assert fault.fired > 1  # type: ignore[attr-defined]  # retried (PUT again) before giving up
    assert lab.state(target) == before  # rolled back: the Canceled vnet too
