"""delete_resource: one dispatch per resource type, idempotent (already gone = done)."""

from __future__ import annotations

from typing import Any

import pytest

from activities import authorization, containerservice, msi, network, resources
from provisioning import roles
from tests.activities.helpers import RG, SUB, assert_error, assert_ok, common, stored

IDENTITY = "Microsoft.ManagedIdentity/userAssignedIdentities"
ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
VNET = "Microsoft.Network/virtualNetworks"
SUBNET = "Microsoft.Network/virtualNetworks/subnets"
PEERING = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"


def delete(resource_id: str, resource_type: str) -> dict[str, Any]:
    return resources.delete_resource(common(id=resource_id, type=resource_type))


def test_identity_and_its_role_assignment_deleted_then_done_again(azure: Any) -> None:
    identity = assert_ok(msi.ensure_identity(common(name="hopsworks-identity")))["outputs"]
    assignment = assert_ok(
        authorization.ensure_role_assignment(
            common(
                scope=f"/subscriptions/{SUB}/resourceGroups/{RG}",
                roleDefinitionGuid=roles.ACR_PUSH.guid,
                principalId=identity["principalId"],
                principalType="ServicePrincipal",
            )
        )
    )["outputs"]

    assert assert_ok(delete(assignment["id"], ROLE_ASSIGNMENT))["outputs"] == {"done": True}
    assert assert_ok(delete(identity["id"], IDENTITY))["outputs"] == {"done": True}
    assert stored(azure, ROLE_ASSIGNMENT) == [] and stored(azure, IDENTITY) == []

    assert assert_ok(delete(assignment["id"], ROLE_ASSIGNMENT))["outputs"] == {"done": True}
    assert assert_ok(delete(identity["id"], IDENTITY))["outputs"] == {"done": True}


def test_network_resources_deleted_in_rollback_order(azure: Any) -> None:
    aks = assert_ok(
        network.ensure_aks_network(
            common(
                vnetName="aks-vnet",
                addressSpace="10.240.0.0/16",
                subnets=[
                    {"name": "nodes", "prefix": "10.240.0.0/20"},
                    {"name": "hopsworks", "prefix": "10.240.16.0/24"},
                ],
            )
        )
    )["outputs"]
    hops = assert_ok(
        network.ensure_hopsworks_network(
            common(
                vnetName="hopsworks-vnet",
                addressSpace="172.18.0.0/16",
                subnetName="default",
                subnetPrefix="172.18.0.0/24",
            )
        )
    )["outputs"]
    peering = assert_ok(
        network.ensure_peering(
            common(vnetName="hopsworks-vnet", peeringName="h-to-a", remoteVnetId=aks["vnetId"])
        )
    )["outputs"]

    for resource_id, resource_type in [
        (peering["id"], PEERING),
        (aks["subnetIds"]["hopsworks"], SUBNET),
        (hops["vnetId"], VNET),
        (aks["vnetId"], VNET),
    ]:
        assert assert_ok(delete(resource_id, resource_type))["outputs"] == {"done": True}
        assert assert_ok(delete(resource_id, resource_type))["outputs"] == {"done": True}  # idempotent
    assert stored(azure, VNET) == [] and stored(azure, SUBNET) == [] and stored(azure, PEERING) == []


def test_transient_delete_failure_is_returned_transient(azure: Any) -> None:
    vnet = assert_ok(
        network.ensure_hopsworks_network(
            common(
                vnetName="hopsworks-vnet",
                addressSpace="172.18.0.0/16",
                subnetName="default",
                subnetPrefix="172.18.0.0/24",
            )
        )
    )["outputs"]["vnetId"]
    azure.add_fault(method="DELETE", path="/virtualNetworks/", status=409, code="AnotherOperationInProgress")

    assert_error(delete(vnet, VNET), "AnotherOperationInProgress", transient=True)
    assert assert_ok(delete(vnet, VNET))["outputs"] == {"done": True}


def test_delete_denied_is_permanent(azure: Any) -> None:
    identity = assert_ok(msi.ensure_identity(common(name="hopsworks-identity")))["outputs"]
    azure.deny_permission(SUB, RG, "Microsoft.ManagedIdentity/userAssignedIdentities/delete")
    error = assert_error(delete(identity["id"], IDENTITY), "AuthorizationFailed")
    assert error["status"] == 403
    assert len(stored(azure, IDENTITY)) == 1


def test_unknown_type_is_a_bug_not_an_arm_failure(azure: Any) -> None:
    with pytest.raises(ValueError, match="no deleter"):
        delete(
            f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/x",
            "Microsoft.Storage/storageAccounts",
        )


def test_cluster_still_creating_answers_busy_then_is_deleted(azure: Any) -> None:
    """AKS answers 409 OperationNotAllowed to deleting a cluster that is still Creating: the delete answers
    `busy` (the orchestrator waits for a terminal state instead of spending its retry budget) and goes
    through once the cluster's create has ended."""
    from tests.activities.test_containerservice import CLUSTER, cluster_input

    nodes = assert_ok(
        network.ensure_aks_network(
            common(
                vnetName="aks-vnet",
                addressSpace="10.240.0.0/16",
                subnets=[{"name": "aks-nodes", "prefix": "10.240.0.0/20"}],
            )
        )
    )["outputs"]["subnetIds"]["aks-nodes"]
    azure.polls_to_complete = 3  # the create stays Creating for a few reads
    cluster_id = assert_ok(containerservice.begin_aks_cluster(cluster_input(nodes)))["outputs"]["id"]
    before = len(azure.requests)

    busy = assert_ok(delete(cluster_id, CLUSTER))

    assert busy["outputs"] == {"done": False, "busy": True}
    assert [(r["method"], r["status"]) for r in azure.requests[before:] if r["method"] == "DELETE"] == [
        ("DELETE", 409)
    ]
    answers = [assert_ok(delete(cluster_id, CLUSTER))["outputs"] for _ in range(30)]
    assert {"done": True} in answers, answers
    assert stored(azure, CLUSTER) == []
    accepted = [r for r in azure.requests[before:] if r["method"] == "DELETE" and r["status"] in (200, 202)]
    assert len(accepted) == 1  # once accepted, no second DELETE while Deleting


def test_each_type_is_deleted_by_its_service_module() -> None:
    from provisioning import deletion

    assert set(deletion.SERVICE_BY_TYPE.values()) == set(resources.DELETERS)
    for module_name, delete_function in resources.DELETERS.items():
        assert delete_function.__module__ == f"activities.{module_name}"
