"""begin_aks_cluster and get_aks_cluster against the simulated AKS provider."""

from __future__ import annotations

from typing import Any

import pytest

from activities import containerservice, network, resources
from tests.activities.helpers import (
    INSTANCE_ID,
    LOCATION,
    OTHER_RUN_ID,
    RG,
    RUN_ID,
    SUB,
    assert_error,
    assert_ok,
    common,
    stored,
    writes_after,
)

CLUSTER = "Microsoft.ContainerService/managedClusters"


@pytest.fixture
def node_subnet(azure: Any) -> str:
    outputs = assert_ok(
        network.ensure_aks_network(
            common(
                vnetName="aks-vnet",
                addressSpace="10.240.0.0/16",
                subnets=[{"name": "aks-nodes", "prefix": "10.240.0.0/20"}],
            )
        )
    )["outputs"]
    return outputs["subnetIds"]["aks-nodes"]


def cluster_input(node_subnet: str, run_id: str = RUN_ID, **overrides: Any) -> dict[str, Any]:
    fields = {
        "name": "hopsaks-cluster",
        "nodeSubnetId": node_subnet,
        "serviceCidr": "10.0.0.0/16",
        "dnsServiceIp": "10.0.0.10",
        "nodeCount": 2,
        "vmSize": "Standard_D4s_v5",
        "kubernetesVersion": None,
    }
    fields.update(overrides)
    return common(run_id, **fields)


def read(name: str = "hopsaks-cluster") -> dict[str, Any]:
    return containerservice.get_aks_cluster(common(name=name))


def wait_succeeded(name: str = "hopsaks-cluster") -> dict[str, Any]:
    for _ in range(20):
        result = assert_ok(read(name))
        if result["outputs"]["provisioningState"] == "Succeeded":
            return result
    raise AssertionError(f"cluster never Succeeded: {result}")


def test_begin_starts_the_guide_cluster_without_waiting(azure: Any, node_subnet: str) -> None:
    before = len(azure.requests)
    result = assert_ok(containerservice.begin_aks_cluster(cluster_input(node_subnet)))

    assert result["outputs"]["provisioningState"] == "Creating"
    assert result["resources"] == [{"id": result["outputs"]["id"], "type": CLUSTER, "action": "created"}]
    # one GET (absent), one PUT; no polling of the operation
    assert [(r["method"], r["resourceType"]) for r in azure.requests[before:]] == [
        ("GET", CLUSTER),
        ("PUT", CLUSTER),
    ]
    (body,) = stored(azure, CLUSTER)
    assert body["identity"]["type"] == "SystemAssigned"
    assert body["tags"] == {
        "owner": "platform",
        "hopsworks-setup": INSTANCE_ID,
        "hopsworks-setup-run": RUN_ID,
    }
    properties = body["properties"]
    assert properties["enableRBAC"] is True
    assert "aadProfile" not in properties or not properties["aadProfile"]
    assert properties["networkProfile"]["networkPlugin"] == "azure"
    assert not properties["networkProfile"].get("networkPluginMode")
    assert properties["networkProfile"]["serviceCidr"] == "10.0.0.0/16"
    assert properties["networkProfile"]["dnsServiceIP"] == "10.0.0.10"
    assert properties["apiServerAccessProfile"]["enablePrivateCluster"] is True
    (pool,) = properties["agentPoolProfiles"]
    assert pool["mode"] == "System" and pool["count"] == 2 and pool["vmSize"] == "Standard_D4s_v5"
    assert pool["vnetSubnetID"].casefold() == node_subnet.casefold()
    assert properties["dnsPrefix"] == "hopsaks-cluster"


def test_get_reports_identities_node_group_and_fqdn_once_succeeded(azure: Any, node_subnet: str) -> None:
    begun = assert_ok(containerservice.begin_aks_cluster(cluster_input(node_subnet)))
    before = len(azure.requests)

    outputs = wait_succeeded()["outputs"]

    assert outputs["id"] == begun["outputs"]["id"]
    assert outputs["principalId"] and outputs["kubeletObjectId"]
    assert outputs["nodeResourceGroup"] == f"MC_{RG}_hopsaks-cluster_{LOCATION}"
    assert outputs["privateFqdn"].split(".", 1)[1].endswith(f".privatelink.{LOCATION}.azmk8s.io")
    assert writes_after(azure, before) == []  # get is read-only


def test_begin_again_while_creating_or_after_success_writes_nothing(azure: Any, node_subnet: str) -> None:
    assert_ok(containerservice.begin_aks_cluster(cluster_input(node_subnet)))
    before = len(azure.requests)

    while_creating = assert_ok(containerservice.begin_aks_cluster(cluster_input(node_subnet)))
    assert while_creating["resources"][0]["action"] == "created"  # same run, re-executed
    wait_succeeded()
    later = assert_ok(containerservice.begin_aks_cluster(cluster_input(node_subnet, run_id=OTHER_RUN_ID)))
    assert later["outputs"]["provisioningState"] == "Succeeded"
    assert later["resources"][0]["action"] == "existing"
    assert writes_after(azure, before) == []


def put_cluster_by_hand(azure: Any, node_subnet: str, **network_profile: Any) -> None:
    from azure.mgmt.containerservice import ContainerServiceClient, models

    from simulator.testing import sdk_client

    client = sdk_client(ContainerServiceClient, azure, SUB)
    profile = {"network_plugin": "azure", "service_cidr": "10.0.0.0/16", "dns_service_ip": "10.0.0.10"}
    profile.update(network_profile)
    body = models.ManagedCluster(
        location=LOCATION,
        identity=models.ManagedClusterIdentity(type="SystemAssigned"),
        properties=models.ManagedClusterProperties(
            dns_prefix="byhand",
            enable_rbac=True,
            agent_pool_profiles=[
                models.ManagedClusterAgentPoolProfile(
                    name="nodes",
                    mode="System",
                    count=1,
                    vm_size="Standard_D2s_v5",
                    vnet_subnet_id=node_subnet,
                )
            ],
            network_profile=models.ContainerServiceNetworkProfile(**profile),
        ),
    )
    client.managed_clusters.begin_create_or_update(RG, "hopsaks-cluster", body).result()


def test_existing_public_overlay_cluster_is_refused_naming_each_rule(azure: Any, node_subnet: str) -> None:
    put_cluster_by_hand(azure, node_subnet, network_plugin_mode="overlay", pod_cidr="192.168.0.0/16")
    before = len(azure.requests)

    error = assert_error(
        containerservice.begin_aks_cluster(cluster_input(node_subnet)), "IncompatibleExistingResource"
    )

    assert "hopsaks-cluster" in error["message"]
    assert "overlay" in error["message"]
    assert "private cluster" in error["message"]
    assert writes_after(azure, before) == []


def test_create_failed_in_azure_is_reported_by_get(azure: Any, node_subnet: str) -> None:
    azure.add_fault(
        method="PUT", path="/managedClusters/", kind="lro_failed", code="VMExtensionProvisioningError"
    )
    assert_ok(containerservice.begin_aks_cluster(cluster_input(node_subnet)))

    for _ in range(20):
        result = read()
        if not result["ok"]:
            break
    error = assert_error(result, "VMExtensionProvisioningError")
    assert "hopsaks-cluster" in error["message"]
    # a later begin (re-run) reports the same failure instead of writing over it
    assert_error(
        containerservice.begin_aks_cluster(cluster_input(node_subnet)), "VMExtensionProvisioningError"
    )


def test_busy_cluster_is_transient(azure: Any, node_subnet: str) -> None:
    azure.add_fault(method="PUT", path="/managedClusters/", status=409, code="OperationNotAllowed")
    assert_error(
        containerservice.begin_aks_cluster(cluster_input(node_subnet)), "OperationNotAllowed", transient=True
    )


def test_missing_subnet_is_permanent(azure: Any, node_subnet: str) -> None:
    error = assert_error(
        containerservice.begin_aks_cluster(cluster_input(node_subnet + "-missing")), "SubnetNotFound"
    )
    assert error["status"] == 400


def test_get_of_missing_cluster_is_permanent_not_found(azure: Any) -> None:
    error = assert_error(read("nothere"), "ResourceNotFound")
    assert error["status"] == 404


def test_delete_starts_without_waiting_then_done(azure: Any, node_subnet: str) -> None:
    cluster_id = assert_ok(containerservice.begin_aks_cluster(cluster_input(node_subnet)))["outputs"]["id"]
    wait_succeeded()
    payload = common(id=cluster_id, type=CLUSTER)
    before = len(azure.requests)

    first = assert_ok(resources.delete_resource(payload))
    assert first["outputs"] == {"done": False}
    assert [r["method"] for r in azure.requests[before:]] == ["GET", "DELETE"]

    for _ in range(20):
        if assert_ok(resources.delete_resource(payload))["outputs"]["done"]:
            break
    else:
        raise AssertionError("cluster delete never finished")
    assert stored(azure, CLUSTER) == []
    assert [r["method"] for r in azure.requests[before:]].count(
        "DELETE"
    ) == 1  # no second delete while Deleting
