"""preflight: every problem in one PreflightFailed, before anything is written."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from activities import containerregistry, msi, network, resources
from tests.activities.helpers import LOCATION, RG, SUB, assert_error, assert_ok, common, writes

REQUEST: dict[str, Any] = {
    "subscriptionId": SUB,
    "resourceGroup": RG,
    "location": None,
    "topology": "peering",
    "identity": {"name": "hopsworks-identity", "roleScope": "resourceGroup"},
    "aks": {
        "name": "hopsaks-cluster",
        "vnetName": "aks-vnet",
        "addressSpace": "10.240.0.0/16",
        "nodeSubnetName": "aks-nodes",
        "nodeSubnetPrefix": "10.240.0.0/20",
        "serviceCidr": "10.0.0.0/16",
        "dnsServiceIp": "10.0.0.10",
        "nodeCount": 1,
        "vmSize": "Standard_D4s_v5",
        "kubernetesVersion": None,
    },
    "acr": {"name": "hopsworksaks", "retentionDays": 7},
    "hopsworksNetwork": {
        "vnetName": "hopsworks-vnet",
        "addressSpace": "172.18.0.0/16",
        "subnetName": "default",
        "subnetPrefix": "172.18.0.0/24",
    },
    "hopsworksSubnet": None,
    "tags": {"owner": "platform"},
}


def preflight_input(**changes: Any) -> dict[str, Any]:
    request = copy.deepcopy(REQUEST)
    request.update(changes)
    payload = common(request=request)
    payload["location"] = request["location"]
    return payload


def test_clean_resource_group_passes_and_reports_its_location(azure: Any) -> None:
    result = assert_ok(resources.preflight(preflight_input()))
    assert result["outputs"] == {"location": LOCATION, "existedBefore": []}
    assert result["resources"] == []
    assert writes(azure) == []


def test_request_location_wins(azure: Any) -> None:
    result = assert_ok(resources.preflight(preflight_input(location="westeurope")))
    assert result["outputs"]["location"] == "westeurope"


def test_missing_resource_group(azure: Any) -> None:
    error = assert_error(resources.preflight(preflight_input(resourceGroup="nope-rg")), "PreflightFailed")
    assert [p["code"] for p in error["problems"]] == ["ResourceGroupNotFound"]
    assert "nope-rg" in error["message"]


def test_every_problem_listed_at_once_and_nothing_written(azure: Any) -> None:
    # a vnet with another space, an identity elsewhere, two missing permissions, a registry name taken
    network.ensure_aks_network(common(vnetName="aks-vnet", addressSpace="10.50.0.0/16", subnets=[]))
    assert_ok(msi.ensure_identity(common(name="hopsworks-identity", location="westeurope")))
    azure.add_resource_group(SUB, "someone-else", LOCATION)
    assert_ok(containerregistry.ensure_registry(common(name="hopsworksaks", resourceGroup="someone-else")))
    azure.deny_permission(SUB, RG, "Microsoft.Authorization/roleAssignments/write")
    azure.deny_permission(SUB, RG, "Microsoft.Network/virtualNetworks/peer/action")
    before = len(writes(azure))

    error = assert_error(resources.preflight(preflight_input()), "PreflightFailed")

    codes = sorted(p["code"] for p in error["problems"])
    assert codes == sorted(
        [
            "IncompatibleExistingResource",
            "IncompatibleExistingResource",
            "AlreadyInUse",
            "MissingPermission",
            "MissingPermission",
        ]
    ), error["problems"]
    for words in (
        "aks-vnet",
        "10.50.0.0/16",
        "hopsworks-identity",
        "westeurope",
        "hopsworksaks",
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.Network/virtualNetworks/peer/action",
    ):
        assert words in error["message"], words
    assert error["message"].startswith("preflight found 5 problems")
    assert len(writes(azure)) == before


def test_compatible_existing_resources_pass(azure: Any) -> None:
    assert_ok(
        network.ensure_aks_network(
            common(
                vnetName="aks-vnet",
                addressSpace="10.240.0.0/16",
                subnets=[{"name": "aks-nodes", "prefix": "10.240.0.0/20"}],
            )
        )
    )
    assert_ok(msi.ensure_identity(common(name="hopsworks-identity")))
    assert_ok(containerregistry.ensure_registry(common(name="hopsworksaks")))
    assert_ok(resources.preflight(preflight_input()))


def test_incompatible_registry_in_the_group(azure: Any) -> None:
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient, models

    from simulator.testing import sdk_client

    client = sdk_client(ContainerRegistryManagementClient, azure, SUB)
    client.registries.begin_create(
        RG,
        "hopsworksaks",
        models.Registry(
            location=LOCATION,
            sku=models.Sku(name="Standard"),
        ),
    ).result()

    error = assert_error(resources.preflight(preflight_input()), "PreflightFailed")
    assert [p["code"] for p in error["problems"]] == ["IncompatibleExistingResource"]
    assert "Premium" in error["message"]


def test_subnet_topology_checks_the_hopsworks_subnet_in_the_aks_vnet(azure: Any) -> None:
    assert_ok(
        network.ensure_aks_network(
            common(
                vnetName="aks-vnet",
                addressSpace="10.240.0.0/16",
                subnets=[
                    {"name": "aks-nodes", "prefix": "10.240.0.0/20"},
                    {"name": "users", "prefix": "10.240.16.0/28"},
                ],
            )
        )
    )
    error = assert_error(
        resources.preflight(
            preflight_input(
                topology="subnet",
                hopsworksNetwork=None,
                hopsworksSubnet={"name": "hopsworks", "prefix": "10.240.16.0/24"},
            )
        ),
        "PreflightFailed",
    )
    assert "overlaps its subnet 'users'" in error["message"]


def test_transient_failure_is_returned_transient_not_as_a_problem(azure: Any) -> None:
    azure.add_fault(
        method="GET", path="/virtualNetworks/aks-vnet", status=409, code="AnotherOperationInProgress"
    )
    assert_error(resources.preflight(preflight_input()), "AnotherOperationInProgress", transient=True)


def test_throttled_reads_are_retried_by_the_sdk(azure: Any) -> None:
    azure.add_fault(method="GET", path="/permissions", status=429, retry_after=1, count=1)
    assert_ok(resources.preflight(preflight_input()))


def test_preflight_snapshots_the_subnets_and_peerings_that_exist_before_the_run(azure: Any) -> None:
    """Subnets and peerings carry no runId tag: preflight's list is what later tells them apart."""
    from tests.activities.helpers import rid
    from tests.activities.test_network import VNET, peering_input, put_vnet

    aks_subnets = {"aks-nodes": "10.240.0.0/20", "users": "10.240.32.0/24"}
    put_vnet(azure, "hopsaks-vnet", "10.240.0.0/16", aks_subnets)
    put_vnet(azure, "hopsworks-vnet", "172.18.0.0/16", {"default": "172.18.0.0/24"})
    users_peering = peering_input("hopsworks-vnet", "users-peering", rid(VNET, "hopsaks-vnet"))
    assert_ok(network.ensure_peering(users_peering))

    request = preflight_input()
    request["request"]["aks"]["vnetName"] = "hopsaks-vnet"
    result = assert_ok(resources.preflight(request))
    names = sorted("/".join(item.split("/")[-2:]) for item in result["outputs"]["existedBefore"])
    assert names == [
        "subnets/aks-nodes", "subnets/default", "subnets/users", "virtualNetworkPeerings/users-peering"
    ]


def test_adopted_aks_vnet_is_checked_in_all_its_space_against_the_service_cidr(azure: Any) -> None:
    """The requested space is clear of the service CIDR (request validation), but the existing vnet also
    holds 10.1.0.0/16 with a subnet in it: AKS would refuse the cluster, so preflight says so first."""
    from azure.mgmt.network import NetworkManagementClient

    from simulator.testing import sdk_client

    sdk_client(NetworkManagementClient, azure).virtual_networks.begin_create_or_update(
        RG,
        "aks-vnet",
        {
            "location": LOCATION,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.240.0.0/16", "10.1.0.0/16"]},
                "subnets": [
                    {"name": "aks-nodes", "properties": {"addressPrefix": "10.240.0.0/20"}},
                    {"name": "db", "properties": {"addressPrefix": "10.1.0.0/24"}},
                ],
            },
        },
    ).result()
    request = preflight_input()
    request["request"]["aks"].update(serviceCidr="10.1.0.0/16", dnsServiceIp="10.1.0.10")
    before = len(writes(azure))

    error = assert_error(resources.preflight(request), "PreflightFailed")

    (problem,) = error["problems"]
    assert problem["code"] == "IncompatibleExistingResource"
    assert problem["target"] == "virtual network 'aks-vnet'"
    assert "address prefix 10.1.0.0/16 overlaps aks.serviceCidr 10.1.0.0/16" in problem["message"]
    assert "subnet 'db' 10.1.0.0/24 overlaps aks.serviceCidr" in problem["message"]
    assert "contains aks.dnsServiceIp 10.1.0.10" in problem["message"]
    assert len(writes(azure)) == before

    request["request"]["aks"].update(serviceCidr="10.2.0.0/16", dnsServiceIp="10.2.0.10")
    assert_ok(resources.preflight(request))


def test_a_failed_peering_under_the_runs_name_is_a_problem_before_any_write(azure: Any) -> None:
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.network import NetworkManagementClient

    from simulator.testing import sdk_client
    from tests.activities.helpers import rid
    from tests.activities.test_network import VNET, put_vnet

    put_vnet(azure, "aks-vnet", "10.240.0.0/16", {"aks-nodes": "10.240.0.0/20"})
    put_vnet(azure, "hopsworks-vnet", "172.18.0.0/16", {"default": "172.18.0.0/24"})
    azure.add_fault(method="PUT", resource_type=f"{VNET}/virtualNetworkPeerings", kind="lro_failed")
    with pytest.raises(HttpResponseError):
        sdk_client(NetworkManagementClient, azure).virtual_network_peerings.begin_create_or_update(
            RG,
            "hopsworks-vnet",
            "hopsworks-vnet-to-aks-vnet",
            {"properties": {"remoteVirtualNetwork": {"id": rid(VNET, "aks-vnet")}}},
        ).result()
    before = len(writes(azure))

    error = assert_error(resources.preflight(preflight_input()), "PreflightFailed")

    (problem,) = error["problems"]
    assert problem["target"] == "virtual network peering 'hopsworks-vnet/hopsworks-vnet-to-aks-vnet'"
    assert "Failed" in problem["message"]
    assert len(writes(azure)) == before


def test_preflight_reads_side_by_side(azure: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two of preflight's reads must be in flight at once: each waits for the other before it reads (it
    would wait in vain, and preflight fail, if the reads ran one after another)."""
    import threading

    both = threading.Barrier(2, timeout=10)
    for module, name in ((msi, "find_identity"), (containerregistry, "find_registry")):
        real = getattr(module, name)

        def waiting(*args: Any, real: Any = real) -> Any:
            both.wait()
            return real(*args)

        monkeypatch.setattr(module, name, waiting)

    assert_ok(resources.preflight(preflight_input()))


def test_grants_above_the_group_that_cannot_be_read_are_a_note_not_a_failure(azure: Any) -> None:
    """A role definition the caller cannot read (any refusal but the permissions API's own): preflight cannot
    tell whether the subscription-scope grants reach the node resource group, says so; the writes decide."""
    azure.add_fault(method="GET", path="/roleDefinitions/", kind="status", status=400, code="BadRequest",
                    count=-1)
    result = assert_ok(resources.preflight(preflight_input()))
    notes = result["outputs"]["notes"]
    assert any("could not check the grants above the resource group" in note for note in notes), notes
    assert writes(azure) == []
