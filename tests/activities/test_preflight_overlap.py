"""preflight: a vnet the run will create and peer (Option A) must overlap neither the vnet it will be peered
with, as that vnet really is, nor a vnet already peered with that one (Azure refuses such a peering, but only
after the cluster is built). Unrelated vnets with the same space are fine. Read with
`virtual_networks.list_all()`; a caller not allowed to list at subscription scope (403) gets a note and the
run goes on."""

from __future__ import annotations

from typing import Any

from activities import resources
from provisioning import roles
from tests.activities.helpers import LOCATION, RG, SUB, assert_error, assert_ok, writes
from tests.activities.test_preflight import preflight_input

OTHER_RG = "someone-elses-rg"
SUBNET_TOPOLOGY = {
    "topology": "subnet",
    "hopsworksNetwork": None,
    "hopsworksSubnet": {"name": "hopsworks", "prefix": "10.240.16.0/24"},
}


def put_vnet(sim: Any, name: str, space: str, resource_group: str = OTHER_RG) -> None:
    """A vnet someone made before the run, through the simulator's ARM API with the real SDK client."""
    from azure.mgmt.network import NetworkManagementClient, models

    from simulator.testing import sdk_client

    client = sdk_client(NetworkManagementClient, sim, SUB)
    body = models.VirtualNetwork(
        location=LOCATION,
        properties=models.VirtualNetworkPropertiesFormat(
            address_space=models.AddressSpace(address_prefixes=[space])
        ),
    )
    client.virtual_networks.begin_create_or_update(resource_group, name, body).result()


def peer(sim: Any, resource_group: str, vnet: str, name: str, remote_id: str) -> None:
    from azure.mgmt.network import NetworkManagementClient, models

    from simulator.testing import sdk_client

    client = sdk_client(NetworkManagementClient, sim, SUB)
    body = models.VirtualNetworkPeering(
        properties=models.VirtualNetworkPeeringPropertiesFormat(
            remote_virtual_network=models.SubResource(id=remote_id), allow_virtual_network_access=True
        )
    )
    client.virtual_network_peerings.begin_create_or_update(resource_group, vnet, name, body).result()


def vnet_id(resource_group: str, name: str) -> str:
    group = f"/subscriptions/{SUB}/resourceGroups/{resource_group}"
    return f"{group}/providers/Microsoft.Network/virtualNetworks/{name}"


def test_a_new_vnet_overlapping_a_vnet_already_peered_with_its_peer_fails_preflight_naming_both(
    azure: Any,
) -> None:
    azure.add_resource_group(SUB, OTHER_RG, LOCATION)
    put_vnet(azure, "aks-vnet", "10.240.0.0/16", resource_group=RG)  # the run adopts it
    put_vnet(azure, "office-vnet", "172.16.0.0/12")
    peer(azure, OTHER_RG, "office-vnet", "office-to-aks", vnet_id(RG, "aks-vnet"))
    put_vnet(azure, "twin-vnet", "172.18.0.0/16")  # the same space, not peered with anything
    before = len(writes(azure))

    error = assert_error(resources.preflight(preflight_input()), "PreflightFailed")

    (problem,) = error["problems"]
    assert problem["code"] == "AddressSpaceOverlap"
    assert problem["target"] == "virtual network 'hopsworks-vnet'"
    named = ("'hopsworks-vnet'", "172.18.0.0/16", "'office-vnet'", "172.16.0.0/12", OTHER_RG, "'aks-vnet'")
    for text in named:
        assert text in problem["message"], text
    assert "twin-vnet" not in error["message"]
    assert len(writes(azure)) == before


def test_unrelated_vnets_with_the_same_spaces_are_no_problem(azure: Any) -> None:
    azure.add_resource_group(SUB, OTHER_RG, LOCATION)
    put_vnet(azure, "twin-aks-vnet", "10.240.0.0/16")
    put_vnet(azure, "twin-hopsworks-vnet", "172.18.0.0/16")
    result = assert_ok(resources.preflight(preflight_input()))
    assert "notes" not in result["outputs"]


def test_a_vnet_the_run_adopts_is_not_compared_with_itself(azure: Any) -> None:
    put_vnet(azure, "hopsworks-vnet", "172.18.0.0/16", resource_group=RG)  # its subnet is added by the run
    result = assert_ok(resources.preflight(preflight_input()))
    assert "notes" not in result["outputs"]


def test_not_allowed_to_list_the_subscriptions_vnets_is_a_note_and_preflight_passes(azure: Any) -> None:
    azure.add_resource_group(SUB, OTHER_RG, LOCATION)
    put_vnet(azure, "office-vnet", "10.240.0.0/12")  # overlaps the AKS vnet, unseen: it may not list
    azure.set_grants([f"Owner@/subscriptions/{SUB}/resourceGroups/{RG}"])
    mark = len(azure.requests)

    result = assert_ok(resources.preflight(preflight_input(**SUBNET_TOPOLOGY)))

    listed = f"/subscriptions/{SUB}/providers/microsoft.network/virtualnetworks"
    listing = [r for r in azure.requests[mark:] if r["path"].rstrip("/").lower() == listed]
    assert [r["status"] for r in listing] == [403]  # it asked, ARM refused
    notes = [n for n in result["outputs"]["notes"] if "address spaces overlap" in n]
    assert len(notes) == 1 and roles.LIST_SUBSCRIPTION_VNETS_ACTION in notes[0]


def test_a_listing_refused_otherwise_is_a_note_too(azure: Any) -> None:
    listing = r".*/subscriptions/[^/]+/providers/Microsoft\.Network/virtualNetworks$"
    azure.add_fault(method="GET", path=listing, regex=True, kind="status", status=400, code="BadRequest",
                    count=-1)
    result = assert_ok(resources.preflight(preflight_input()))
    notes = [n for n in result["outputs"]["notes"] if "address spaces overlap" in n]
    assert len(notes) == 1 and "400 BadRequest" in notes[0]
