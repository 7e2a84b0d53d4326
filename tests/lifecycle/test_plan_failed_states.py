"""The plan's rule for a resource an earlier operation left Failed or Canceled (provisioning/plan_diff.py): a
`conflict` for every type, whose reason names the state; the same resource Succeeded is kept. Pure: the facts
are what the inspect_* activities answer (tests/lifecycle/test_plan_and_teardown covers them over HTTP)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from provisioning import adoption, lifecycle, plan_diff
from tests.lifecycle.test_decisions import INSTANCE, OURS, facts, request

NODE_RG = "MC_hopsworks-rg_hopsaks-cluster_northeurope"
ZONE = "abc.privatelink.northeurope.azmk8s.io"


def completed(target: lifecycle.Target) -> dict[str, Any]:
    """A completed setup of the peering example as the plan's reads see it: everything ours and Succeeded."""
    found = facts(target)
    found[lifecycle.F_IDENTITY]["location"] = "northeurope"
    for fact_name in (lifecycle.F_AKS_VNET, lifecycle.F_HOPSWORKS_VNET):
        vnet = found[fact_name]
        vnet.update(location="northeurope", provisioningState="Succeeded")
        wanted = dict(
            target.aks_subnets() if fact_name == lifecycle.F_AKS_VNET else target.hopsworks_subnets()
        )
        vnet["addressPrefixes"] = [
            target.aks["addressSpace"]
            if fact_name == lifecycle.F_AKS_VNET
            else target.hopsworks_network["addressSpace"]
        ]
        for subnet in vnet["subnets"]:
            subnet.update(prefixes=[wanted[subnet["name"]]], provisioningState="Succeeded")
    for vnet_fact, name, remote_id in target.peerings():
        (peering,) = found[vnet_fact]["peerings"]
        assert peering["name"] == name
        peering.update(
            remoteVnetId=remote_id,
            settings=dict(adoption.PEERING_SETTINGS),
            peeringState="Connected",
            provisioningState="Succeeded",
        )
    found[lifecycle.F_CLUSTER].update(
        location="northeurope",
        nodeResourceGroup=NODE_RG,
        facts={
            "location": "northeurope",
            "identity_type": "SystemAssigned",
            "enable_rbac": True,
            "has_aad_profile": False,
            "network_plugin": "azure",
            "network_plugin_mode": None,
            "private_cluster": True,
            "subnet_ids": [f"{target.aks_vnet_id}/subnets/{target.aks['nodeSubnetName']}"],
            "service_cidr": target.aks["serviceCidr"],
            "dns_service_ip": target.aks["dnsServiceIp"],
        },
    )
    found[lifecycle.F_REGISTRY].update(
        sku="Premium",
        roleAssignmentMode="LegacyRegistryPermissions",
        policies={"retentionPolicy": {"status": "enabled", "days": target.request["acr"]["retentionDays"]}},
        provisioningState="Succeeded",
    )
    link_id = (
        f"/subscriptions/{target.subscription_id}/resourceGroups/{NODE_RG}/providers/Microsoft.Network/"
        f"privateDnsZones/{ZONE}/virtualNetworkLinks/{target.dns_link_name}"
    )
    found[lifecycle.F_DNS_LINKS] = {
        "zoneName": ZONE,
        "links": [
            {
                "id": link_id,
                "name": target.dns_link_name,
                "type": lifecycle.DNS_LINK,
                "vnetId": target.hopsworks_vnet_id,
                "tags": dict(OURS),
                "registrationEnabled": False,
                "provisioningState": "Succeeded",
                "virtualNetworkLinkState": "Completed",
            }
        ],
    }
    return found


def _vnet(found: dict[str, Any]) -> dict[str, Any]:
    return found[lifecycle.F_HOPSWORKS_VNET]


def _subnet(found: dict[str, Any]) -> dict[str, Any]:
    return found[lifecycle.F_AKS_VNET]["subnets"][0]


def _peering(found: dict[str, Any]) -> dict[str, Any]:
    return found[lifecycle.F_AKS_VNET]["peerings"][0]


def _registry(found: dict[str, Any]) -> dict[str, Any]:
    return found[lifecycle.F_REGISTRY]


def _link(found: dict[str, Any]) -> dict[str, Any]:
    return found[lifecycle.F_DNS_LINKS]["links"][0]


LEFT_FAILED: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    lifecycle.VNET: _vnet,
    lifecycle.SUBNET: _subnet,
    lifecycle.PEERING: _peering,
    lifecycle.REGISTRY: _registry,
    lifecycle.DNS_LINK: _link,
}


def changes(found: dict[str, Any]) -> dict[str, dict[str, str]]:
    planned = plan_diff.plan_changes(request(), found, instance_id=INSTANCE, location="northeurope")
    return {change["id"].casefold(): change for change in planned}


def test_a_completed_setup_is_kept_everywhere() -> None:
    target = lifecycle.Target(request())
    assert {change["action"] for change in changes(completed(target)).values()} == {plan_diff.KEEP}


@pytest.mark.parametrize("state", ["Failed", "Canceled"])
@pytest.mark.parametrize("resource_type", list(LEFT_FAILED), ids=lambda t: t.rsplit("/", 1)[-1])
def test_a_resource_left_failed_or_canceled_is_a_conflict_naming_its_state(
    resource_type: str, state: str
) -> None:
    target = lifecycle.Target(request())
    found = completed(target)
    fact = LEFT_FAILED[resource_type](found)
    fact["provisioningState"] = state

    planned = changes(found)

    change = planned[fact["id"].casefold()]
    assert (change["type"], change["action"]) == (resource_type, plan_diff.CONFLICT)
    assert f"provisioningState is {state}" in change["reason"]
    others = {c["action"] for rid, c in planned.items() if rid != fact["id"].casefold()}
    assert others <= {plan_diff.KEEP, plan_diff.CONFLICT}  # a Failed subnet makes its vnet a conflict too


def test_a_failed_cluster_is_a_conflict_too() -> None:
    target = lifecycle.Target(request())
    found = completed(target)
    failed = copy.deepcopy(found)
    failed[lifecycle.F_CLUSTER]["failure"] = {"code": "Canceled", "message": "AKS cluster 'x' is Canceled"}
    assert changes(found)[target.cluster_id.casefold()]["action"] == plan_diff.KEEP
    assert changes(failed)[target.cluster_id.casefold()]["action"] == plan_diff.CONFLICT


def test_a_failed_dns_link_is_a_problem_at_its_step() -> None:
    target = lifecycle.Target(request())
    found = completed(target)
    _link(found)["provisioningState"] = "Failed"
    planned = plan_diff.plan_changes(request(), found, instance_id=INSTANCE, location="northeurope")
    problems = plan_diff.problems_of({"ok": True}, planned)
    assert [(p["step"], p["code"]) for p in problems] == [("dns_link", "IncompatibleExistingResource")]
    assert _link(found)["id"] in problems[0]["message"]
