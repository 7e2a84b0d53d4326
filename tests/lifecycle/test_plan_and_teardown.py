"""The whole lifecycle over real HTTP on the local host, against the simulated Azure with the real SDK
clients: plan, setup, plan again, drift, teardown, teardown again; adopted resources; one run per target
across kinds."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter

import azure.functions as func
import pytest
import requests

from provisioning import naming, roles
from tests.lifecycle.helpers import (
    IDENTITY,
    ROLE_ASSIGNMENT,
    VNET,
    actions,
    arm_writes,
    drift_peering_flag,
    drift_retention,
    hold_registry,
    ids,
    plan,
    post,
    scoped_fault,
    teardown,
)
from tests.reliability.harness import Lab, Target

PEERING_TYPES = {
    "userAssignedIdentities": 1,
    "roleAssignments": 6,
    "virtualNetworks": 2,
    "subnets": 2,
    "managedClusters": 1,
    "registries": 1,
    "virtualNetworkPeerings": 2,
    "virtualNetworkLinks": 1,
}


def test_plan_of_an_empty_group_creates_everything_and_writes_nothing(lab: Lab) -> None:
    target = Target("lifecycle|empty-plan")
    lab.prepare(target)
    mark = lab.log_mark()
    answer = plan(lab, target)
    assert set(actions(answer)) == {"create"}, answer["changes"]
    assert Counter(c["type"].rsplit("/", 1)[-1] for c in answer["changes"]) == PEERING_TYPES
    assert answer["problems"] == []
    assert answer["summary"]["create"] == sum(PEERING_TYPES.values())
    permissions = answer["permissions"]
    wanted = {"action": "Microsoft.Authorization/roleAssignments/write", "scopeKind": "resourceGroup"}
    assert any(wanted.items() <= need.items() for need in permissions["actions"])
    assert permissions["builtInRoleAssignments"] and permissions["missing"] == []
    assert arm_writes(lab, target, mark) == []


def test_plan_names_what_preflight_would_fail_on(lab: Lab) -> None:
    target = Target("lifecycle|no-group")  # its resource group was never made
    answer = plan(lab, target)
    assert [(p["step"], p["code"]) for p in answer["problems"]] == [("preflight", "ResourceGroupNotFound")]


def test_plan_names_a_missing_permission(lab: Lab) -> None:
    target = Target("lifecycle|denied")
    lab.prepare(target)
    action = "Microsoft.Network/virtualNetworks/subnets/join/action"
    lab.sim.deny_permission(target.subscription_id, "hopsworks-rg", action)
    answer = plan(lab, target)
    assert [(p["step"], p["code"]) for p in answer["problems"]] == [("preflight", "MissingPermission")]
    assert [m["action"] for m in answer["permissions"]["missing"]] == [action]


def test_plan_names_an_overlap_with_a_vnet_already_peered_with_the_aks_vnet(lab: Lab) -> None:
    target = Target("lifecycle|overlap")
    lab.prepare(target)
    lab.seed_vnet(target, "hopsaks-vnet", "10.240.0.0/16", {})  # adopted by the run
    lab.sim.add_resource_group(target.subscription_id, "office-rg", "northeurope")
    office = f"/subscriptions/{target.subscription_id}/resourceGroups/office-rg/providers/{VNET}/office-vnet"
    space = {"addressSpace": {"addressPrefixes": ["172.18.128.0/17"]}}
    lab.arm_settled("PUT", office, VNET, {"location": "northeurope", "properties": space})
    aks_vnet = {"id": target.rid(f"{VNET}/hopsaks-vnet")}
    peering = {"properties": {"remoteVirtualNetwork": aks_vnet, "allowVirtualNetworkAccess": True}}
    office_peering = f"{office}/virtualNetworkPeerings/office-to-aks"
    lab.arm_settled("PUT", office_peering, f"{VNET}/virtualNetworkPeerings", peering)
    mark = lab.log_mark()

    answer = plan(lab, target)

    (problem,) = answer["problems"]
    assert (problem["step"], problem["code"]) == ("preflight", "AddressSpaceOverlap")
    for text in ("'hopsworks-vnet'", "172.18.0.0/16", "'office-vnet'", "172.18.128.0/17"):
        assert text in problem["message"], text
    hopsworks_vnet = target.rid(f"{VNET}/hopsworks-vnet").lower()
    assert [c["action"] for c in answer["changes"] if c["id"].lower() == hopsworks_vnet] == ["create"]
    assert arm_writes(lab, target, mark) == []


def test_plan_refuses_a_bad_request_like_setups(lab: Lab) -> None:
    body = Target("lifecycle|bad").body()
    body["aks"]["serviceCidr"] = "10.240.0.0/16"  # overlaps the AKS vnet
    answer = post(lab, "plans", body)
    assert answer.status_code == 400
    assert "aks.serviceCidr" in {error["field"] for error in answer.json()["errors"]}


def test_setup_then_plan_drift_teardown_and_teardown_again(lab: Lab) -> None:
    target = Target("lifecycle|story")
    lab.prepare(target)
    before = lab.state(target)

    setup = lab.run(target)
    assert setup.runtime_status == "Completed", setup.output
    created = ids([r for r in setup.output["resources"] if r["action"] == "created"])

    mark = lab.log_mark()
    again = plan(lab, target)
    assert set(actions(again)) == {"keep"}, actions(again)
    assert again["problems"] == []
    assert arm_writes(lab, target, mark) == []

    drift_retention(lab, target, days=3)
    drifted = actions(plan(lab, target))
    assert drifted["update"] == [f"registries:{target.acr_name}"], drifted
    assert set(drifted) == {"keep", "update"}

    assert lab.run(target).runtime_status == "Completed"  # the setup puts it back
    assert set(actions(plan(lab, target))) == {"keep"}

    peering_id = drift_peering_flag(lab, target, "hopsworks-vnet", "hopsworks-vnet-to-hopsaks-vnet")
    drifted = plan(lab, target)
    updates = [c for c in drifted["changes"] if c["action"] == "update"]
    assert [u["id"].casefold() for u in updates] == [peering_id.casefold()], updates
    assert "allowForwardedTraffic" in updates[0]["reason"]

    removed = teardown(lab, target)
    assert removed.http_status == 200 and removed.runtime_status == "Completed", removed.output
    assert ids(removed.output["deleted"]) == created
    assert removed.output["kept"] == []
    assert lab.state(target) == before
    custom = removed.custom_status
    assert custom["done"] == custom["total"] and set(custom["steps"].values()) == {"succeeded"}

    mark = lab.log_mark()
    second = teardown(lab, target)
    assert second.runtime_status == "Completed", second.output
    assert second.output == {"deleted": [], "kept": []}
    assert arm_writes(lab, target, mark) == []
    assert set(actions(plan(lab, target))) == {"create"}


def test_adopted_identity_and_vnet_stay_and_only_what_the_setup_added_goes(lab: Lab) -> None:
    target = Target("lifecycle|adopted")
    lab.prepare(target)
    lab.seed_identity(target, "hopsworks-identity")
    # The Hopsworks vnet exists with another subnet: the setup adds its subnet 'default' to it.
    lab.seed_vnet(target, "hopsworks-vnet", "172.18.0.0/16", {"other": "172.18.1.0/24"})
    # Someone already gave the identity AcrPull on the group (under a name of their own).
    _, identity = lab.arm("GET", target.rid(f"{IDENTITY}/hopsworks-identity"), IDENTITY)
    their_assignment = f"{target.rg_id}/providers/{ROLE_ASSIGNMENT}/{uuid.uuid4()}"
    lab.arm_settled(
        "PUT",
        their_assignment,
        ROLE_ASSIGNMENT,
        {
            "properties": {
                "roleDefinitionId": naming.role_definition_id(target.subscription_id, roles.ACR_PULL.guid),
                "principalId": identity["properties"]["principalId"],
                "principalType": "ServicePrincipal",
            }
        },
    )
    before = lab.state(target)

    planned = plan(lab, target)
    by_id = {c["id"].rsplit("/", 1)[-1]: c["action"] for c in planned["changes"]}
    assert by_id["hopsworks-identity"] == "adopt" and by_id["hopsworks-vnet"] == "adopt"
    assert by_id["default"] == "create"
    assert by_id[their_assignment.rsplit("/", 1)[-1]] == "adopt"

    setup = lab.run(target)
    assert setup.runtime_status == "Completed", setup.output
    assert set(actions(plan(lab, target))) <= {"keep", "adopt"}
    # A re-run replaces the first run's output, in which 'default' was created; this one finds it existing.
    rerun = lab.run(target)
    assert rerun.runtime_status == "Completed", rerun.output
    found = {r["id"].rsplit("/", 1)[-1]: r["action"] for r in rerun.output["resources"]}
    assert found["default"] == "existing"  # only the target's record still knows a setup made it

    removed = teardown(lab, target)
    assert removed.runtime_status == "Completed", removed.output
    kept = {k["id"].rsplit("/", 1)[-1]: k for k in removed.output["kept"]}
    assert {"hopsworks-identity", "hopsworks-vnet"} <= set(kept)
    assert kept["hopsworks-identity"]["type"] == IDENTITY and kept["hopsworks-vnet"]["type"] == VNET
    deleted = {d["id"].rsplit("/", 1)[-1] for d in removed.output["deleted"]}
    assert "default" in deleted  # the subnet the setup added to the adopted vnet (the record says so)
    assert their_assignment.casefold() in {k["id"].casefold() for k in removed.output["kept"]}
    assert "other" not in deleted and "hopsworks-identity" not in deleted
    # The identity's four roles were the setup's, the identity was not: the roles go, the identity stays.
    assert lab.state(target) == before


def test_one_run_per_target_across_kinds(lab: Lab) -> None:
    target = Target("lifecycle|busy")
    lab.prepare(target)
    # A registry write that waits 1 s (429 + Retry-After, the SDK retries): the setup is surely still running.
    hold_registry(lab, target, "PUT")
    setup = post(lab, "setups", target.body())
    assert setup.status_code == 202
    refused = post(lab, "teardowns", target.body())
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert set(body) == {"error", "id", "statusQueryGetUri"}
    assert body["id"] == setup.json()["id"] and body["error"]["code"] == "TargetBusy"
    assert body["statusQueryGetUri"] == setup.json()["statusQueryGetUri"]
    assert refused.headers["Location"] == body["statusQueryGetUri"]
    teardown_id = "teardown-" + setup.json()["id"].split("-", 1)[1]
    assert teardown_id not in {i["instanceId"] for i in lab.instances()}  # nothing started
    status, _ = lab.wait(setup.json()["statusQueryGetUri"])
    assert status == 200

    hold_registry(lab, target, "DELETE")
    started = post(lab, "teardowns", target.body())
    assert started.status_code == 202
    refused = post(lab, "setups", target.body())
    assert refused.status_code == 409, refused.text
    assert refused.json()["id"] == teardown_id == started.json()["id"]
    status, payload = lab.wait(started.json()["statusQueryGetUri"])
    assert status == 200 and payload["runtimeStatus"] == "Completed"
    # The refused setup started nothing: the setup instance is still the first, completed run.
    setup_status = requests.get(setup.json()["statusQueryGetUri"], timeout=10).json()
    assert setup_status["runtimeStatus"] == "Completed"
    assert setup_status["createdTime"] < payload["createdTime"]


def test_subnet_topology_setup_and_teardown(lab: Lab) -> None:
    target = Target("lifecycle|subnet", topology="subnet")
    lab.prepare(target)
    before = lab.state(target)
    planned = plan(lab, target)
    assert set(actions(planned)) == {"create"} and len(planned["changes"]) == 12
    assert lab.run(target).runtime_status == "Completed"
    assert set(actions(plan(lab, target))) == {"keep"}
    removed = teardown(lab, target)
    assert removed.runtime_status == "Completed", removed.output
    assert lab.state(target) == before


def test_plan_answers_503_while_azure_stays_busy(lab: Lab) -> None:
    target = Target("lifecycle|busy-reads")
    lab.prepare(target)
    fault = scoped_fault(
        lab,
        target,
        method="GET",
        resource_type=VNET,
        kind="status",
        status=409,
        code="AnotherOperationInProgress",
        count=-1,
    )
    answer = post(lab, "plans", target.body())
    fault.count = 0
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] and answer.json()["error"]["code"] == "AnotherOperationInProgress"
    assert fault.fired >= 3  # each read was tried again before giving up
    assert post(lab, "plans", target.body()).status_code == 200


def test_plan_answers_504_before_the_front_end_cuts_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from api import plans

    async def slow(*_: object) -> dict:
        await asyncio.sleep(5)
        return {}

    class NoDurableExtension:
        async def get_status(self, *_: object, **__: object) -> None:
            raise ConnectionError("no extension in this test: the record is left out")

    monkeypatch.setattr(plans, "make", slow)
    monkeypatch.setattr(plans, "PLAN_DEADLINE_SECONDS", 0.05)
    request = func.HttpRequest(
        "POST", "http://localhost/api/plans", body=json.dumps(Target("x").body()).encode()
    )
    answer = asyncio.run(plans.handle_plan(request, NoDurableExtension(), {}))  # type: ignore[arg-type]
    assert answer.status_code == 504
    assert json.loads(answer.get_body())["error"]["code"] == "PlanTimeout"
