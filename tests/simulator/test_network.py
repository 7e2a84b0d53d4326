"""Microsoft.Network in the simulator, through the real azure-mgmt-network client.

First the official REST examples (../shared/arm-examples/network), then the rules and state transitions the
app depends on: vnet PUT replacing subnets, CIDR validations, one write at a time per vnet, peerings
Initiated -> Connected -> Disconnected, in-use subnets.
"""

import json
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.network import NetworkManagementClient

from simulator.providers.network import mark_subnet_in_use
from simulator.testing import SUBSCRIPTION_ID, sdk_client

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "arm-examples" / "network"
SUB = SUBSCRIPTION_ID
RG = "rg1"


def example(name: str) -> dict:
    """An example file with its placeholder subscription ids replaced by the test subscription (a GUID)."""
    text = (EXAMPLES / name).read_text()
    for placeholder in ('"subid"', "/subid/"):
        text = text.replace(placeholder, placeholder.replace("subid", SUB))
    return json.loads(text)


def vnet_id(name: str, rg: str = RG) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{name}"


def last(simulator, method: str) -> dict:
    return [r for r in simulator.requests if r["method"] == method][-1]


def first_status(simulator, method: str, path_part: str) -> int:
    return [r for r in simulator.requests if r["method"] == method and path_part in r["path"]][0]["status"]


@pytest.fixture
def net(simulator):
    for rg in ("rg1", "subnet-test", "peerTest", "rg2"):
        simulator.add_resource_group(SUB, rg, "eastus")
    return sdk_client(NetworkManagementClient, simulator)


def make_vnet(net, name, space, subnets=(), rg=RG, location="eastus"):
    body = {
        "location": location,
        "properties": {
            "addressSpace": {"addressPrefixes": list(space)},
            "subnets": [{"name": n, "properties": {"addressPrefix": p}} for n, p in subnets],
        },
    }
    return net.virtual_networks.begin_create_or_update(rg, name, body).result()


def peer(net, vnet, name, remote, rg=RG, **flags):
    props = {"remoteVirtualNetwork": {"id": remote}, "allowVirtualNetworkAccess": True}
    props.update(flags)
    return net.virtual_network_peerings.begin_create_or_update(rg, vnet, name, {"properties": props}).result()


# ----- official examples -------------------------------------------------------------------------------
def test_example_virtual_network_create(net, simulator):
    ex = example("VirtualNetworkCreate.json")
    p = ex["parameters"]
    poller = net.virtual_networks.begin_create_or_update(
        p["resourceGroupName"], p["virtualNetworkName"], p["parameters"]
    )
    result = poller.result()
    assert first_status(simulator, "PUT", "/virtualNetworks/test-vnet") == 201
    expected = ex["responses"]["201"]["body"]
    assert result.id == expected["id"]
    assert result.name == expected["name"]
    assert result.type == expected["type"]
    assert result.location == expected["location"]
    assert result.properties.address_space.address_prefixes == ["10.0.0.0/16"]
    assert result.properties.flow_timeout_in_minutes == 10
    assert result.properties.provisioning_state == "Succeeded"
    assert result.properties.subnets == []
    assert result.properties.virtual_network_peerings == []
    # The same PUT again: 200 (updated), still fine.
    net.virtual_networks.begin_create_or_update(
        p["resourceGroupName"], p["virtualNetworkName"], p["parameters"]
    ).result()
    assert [r["status"] for r in simulator.requests if r["method"] == "PUT"] == [201, 200]


def test_example_virtual_network_get_list_delete(net, simulator):
    make_vnet(net, "test-vnet", ["10.0.0.0/16"], [("subnet1", "10.0.1.0/24")])
    ex = example("VirtualNetworkGet.json")
    got = net.virtual_networks.get(
        ex["parameters"]["resourceGroupName"], ex["parameters"]["virtualNetworkName"]
    )
    assert last(simulator, "GET")["status"] == 200
    assert got.id == vnet_id("test-vnet")
    assert got.properties.provisioning_state == "Succeeded"
    assert [s.name for s in got.properties.subnets] == ["subnet1"]
    assert got.properties.subnets[0].id == vnet_id("test-vnet") + "/subnets/subnet1"
    assert got.etag and got.properties.resource_guid

    ex = example("VirtualNetworkList.json")
    listed = list(net.virtual_networks.list(ex["parameters"]["resourceGroupName"]))
    assert [v.name for v in listed] == ["test-vnet"]

    ex = example("VirtualNetworkDelete.json")
    net.virtual_networks.begin_delete(
        ex["parameters"]["resourceGroupName"], ex["parameters"]["virtualNetworkName"]
    ).result()
    assert first_status(simulator, "DELETE", "/virtualNetworks/test-vnet") == 202
    with pytest.raises(ResourceNotFoundError):
        net.virtual_networks.get(RG, "test-vnet")
    # Subnets went with it; deleting again is a 204.
    assert simulator.resource(vnet_id("test-vnet") + "/subnets/subnet1") is None
    net.virtual_networks.begin_delete(RG, "test-vnet").result()
    assert last(simulator, "DELETE")["status"] == 204


def test_example_subnet_create_and_get(net, simulator):
    ex = example("SubnetCreate.json")
    p = ex["parameters"]
    make_vnet(net, p["virtualNetworkName"], ["10.0.0.0/16"], rg=p["resourceGroupName"])
    sub = net.subnets.begin_create_or_update(
        p["resourceGroupName"], p["virtualNetworkName"], p["subnetName"], p["subnetParameters"]
    ).result()
    assert first_status(simulator, "PUT", "/subnets/subnet1") == 201
    expected = ex["responses"]["201"]["body"]
    assert sub.id == expected["id"]
    assert sub.name == "subnet1"
    assert sub.properties.address_prefix == "10.0.0.0/16"
    assert sub.properties.provisioning_state == "Succeeded"

    ex = example("SubnetGet.json")
    g = ex["parameters"]
    got = net.subnets.get(g["resourceGroupName"], g["virtualNetworkName"], g["subnetName"])
    assert got.id == ex["responses"]["200"]["body"]["id"]
    assert got.properties.address_prefix == ex["responses"]["200"]["body"]["properties"]["addressPrefix"]


def test_example_peering_create_get_delete(net, simulator):
    ex = example("VirtualNetworkPeeringCreate.json")
    p = ex["parameters"]
    make_vnet(net, "vnet1", ["10.0.0.0/16"], rg="peerTest")
    make_vnet(net, "vnet2", ["12.0.0.0/8"], rg="peerTest")
    result = net.virtual_network_peerings.begin_create_or_update(
        p["resourceGroupName"],
        p["virtualNetworkName"],
        p["virtualNetworkPeeringName"],
        p["VirtualNetworkPeeringParameters"],
    ).result()
    assert first_status(simulator, "PUT", "/virtualNetworkPeerings/peer") == 201
    expected = ex["responses"]["201"]["body"]
    assert result.id == expected["id"]
    props = result.properties
    assert props.peering_state == "Initiated"  # as in the example: only one side exists
    assert props.peering_sync_level == "FullyInSync"
    assert props.provisioning_state == "Succeeded"
    assert props.allow_virtual_network_access is True
    assert props.allow_forwarded_traffic is True
    assert props.allow_gateway_transit is False
    assert props.use_remote_gateways is False
    assert props.remote_virtual_network.id == expected["properties"]["remoteVirtualNetwork"]["id"]
    assert props.remote_address_space.address_prefixes == ["12.0.0.0/8"]
    assert props.remote_virtual_network_address_space.address_prefixes == ["12.0.0.0/8"]

    ex = example("VirtualNetworkPeeringGet.json")
    g = ex["parameters"]
    got = net.virtual_network_peerings.get(
        g["resourceGroupName"], g["virtualNetworkName"], g["virtualNetworkPeeringName"]
    )
    assert got.id == result.id
    assert got.properties.peering_state == "Initiated"

    ex = example("VirtualNetworkPeeringDelete.json")
    d = ex["parameters"]
    net.virtual_network_peerings.begin_delete(
        d["resourceGroupName"], d["virtualNetworkName"], d["virtualNetworkPeeringName"]
    ).result()
    assert first_status(simulator, "DELETE", "/virtualNetworkPeerings/peer") == 202
    with pytest.raises(ResourceNotFoundError):
        net.virtual_network_peerings.get(
            g["resourceGroupName"], g["virtualNetworkName"], g["virtualNetworkPeeringName"]
        )


# ----- virtual networks and subnets --------------------------------------------------------------------
def test_put_is_asynchronous_with_absolute_operation_url(net, simulator):
    simulator.polls_to_complete = 2
    seen = []
    poller = net.virtual_networks.begin_create_or_update(
        RG,
        "v",
        {"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}},
        polling=False,
        raw_response_hook=lambda r: seen.append((r.http_response.status_code, dict(r.http_response.headers))),
    )
    assert poller.result().properties.provisioning_state == "Updating"
    status, headers = seen[0]
    assert status == 201
    assert headers["Azure-AsyncOperation"].startswith(simulator.endpoint + f"/subscriptions/{SUB}/providers/")
    assert net.virtual_networks.get(RG, "v").properties.provisioning_state == "Updating"
    assert net.virtual_networks.get(RG, "v").properties.provisioning_state == "Succeeded"


def test_vnet_put_replaces_the_subnet_list(net, simulator):
    make_vnet(net, "v", ["10.1.0.0/16"], [("a", "10.1.0.0/24"), ("b", "10.1.1.0/24")])
    updated = make_vnet(net, "v", ["10.1.0.0/16"], [("b", "10.1.1.0/24"), ("c", "10.1.2.0/24")])
    assert sorted(s.name for s in updated.properties.subnets) == ["b", "c"]
    with pytest.raises(ResourceNotFoundError):
        net.subnets.get(RG, "v", "a")
    assert net.subnets.get(RG, "v", "c").properties.provisioning_state == "Succeeded"
    # No subnets in the body at all: every subnet goes.
    emptied = make_vnet(net, "v", ["10.1.0.0/16"])
    assert emptied.properties.subnets == []


def test_vnet_get_then_put_back_keeps_subnets(net):
    make_vnet(net, "v", ["10.1.0.0/16"], [("a", "10.1.0.0/24")])
    current = net.virtual_networks.get(RG, "v")
    current.tags = {"x": "y"}
    again = net.virtual_networks.begin_create_or_update(RG, "v", current).result()
    assert [s.name for s in again.properties.subnets] == ["a"]
    assert again.tags == {"x": "y"}


@pytest.mark.parametrize(
    ("space", "subnets", "code"),
    [
        (["10.0.0.0/16"], [("a", "10.1.0.0/24")], "NetcfgSubnetRangeOutsideVnet"),
        (["10.0.0.0/16"], [("a", "10.0.0.0/15")], "NetcfgSubnetRangeOutsideVnet"),
        (["10.0.0.0/16"], [("a", "10.0.0.0/24"), ("b", "10.0.0.128/25")], "NetcfgSubnetRangesOverlap"),
        (["10.0.0.0/16"], [("a", "10.0.1.5/24")], "InvalidCIDRNotation"),
        (["10.0.0.1/16"], [], "InvalidCIDRNotation"),
        (["10.0.0.0/16"], [("a", "10.0.1.0")], "InvalidAddressPrefixFormat"),
        (["10.0.0.0/16"], [("a", "10.0.1.0/33")], "InvalidAddressPrefixFormat"),
        ([], [], "VnetAddressSpaceMustHaveAtLeastOneAddressPrefix"),
    ],
)
def test_vnet_prefix_rules(net, simulator, space, subnets, code):
    with pytest.raises(HttpResponseError) as err:
        make_vnet(net, "v", space, subnets)
    assert err.value.status_code == 400
    assert err.value.error.code == code
    assert simulator.resource(vnet_id("v")) is None  # nothing half-made


def test_subnet_put_rules(net):
    make_vnet(net, "v", ["10.0.0.0/16"], [("a", "10.0.0.0/24")])
    for prefix, code in [
        ("10.1.0.0/24", "NetcfgSubnetRangeOutsideVnet"),
        ("10.0.0.0/25", "NetcfgSubnetRangesOverlap"),
        ("10.0.1.1/24", "InvalidCIDRNotation"),
    ]:
        with pytest.raises(HttpResponseError) as err:
            net.subnets.begin_create_or_update(
                RG, "v", "b", {"properties": {"addressPrefix": prefix}}
            ).result()
        assert err.value.error.code == code, prefix
    # Updating a subnet in place does not overlap with itself.
    net.subnets.begin_create_or_update(
        RG, "v", "a", {"properties": {"addressPrefix": "10.0.0.0/24"}}
    ).result()
    net.subnets.begin_create_or_update(
        RG, "v", "b", {"properties": {"addressPrefix": "10.0.1.0/24"}}
    ).result()
    assert sorted(s.name for s in net.virtual_networks.get(RG, "v").properties.subnets) == ["a", "b"]


def test_subnet_of_missing_vnet_is_not_found(net):
    with pytest.raises(ResourceNotFoundError):
        net.subnets.begin_create_or_update(
            RG, "nope", "a", {"properties": {"addressPrefix": "10.0.0.0/24"}}
        ).result()


def test_in_use_subnet_cannot_be_deleted(net, simulator):
    make_vnet(net, "v", ["10.0.0.0/16"], [("nodes", "10.0.0.0/24"), ("free", "10.0.1.0/24")])
    user = (
        f"/subscriptions/{SUB}/resourceGroups/MC_rg/providers/Microsoft.Compute/virtualMachineScaleSets/aks"
        "/virtualMachines/0/networkInterfaces/nic/ipConfigurations/ip"
    )
    with simulator.arm.lock:
        mark_subnet_in_use(simulator.arm, vnet_id("v") + "/subnets/nodes", user)
    assert net.subnets.get(RG, "v", "nodes").properties.ip_configurations[0].id == user
    for attempt in (
        lambda: net.subnets.begin_delete(RG, "v", "nodes").result(),
        lambda: make_vnet(net, "v", ["10.0.0.0/16"], [("free", "10.0.1.0/24")]),  # PUT dropping it
        lambda: net.virtual_networks.begin_delete(RG, "v").result(),
    ):
        with pytest.raises(HttpResponseError) as err:
            attempt()
        assert err.value.status_code == 400
        assert err.value.error.code == "InUseSubnetCannotBeDeleted"
    assert net.subnets.get(RG, "v", "nodes").name == "nodes"
    # The unused one can go.
    net.subnets.begin_delete(RG, "v", "free").result()
    assert [s.name for s in net.virtual_networks.get(RG, "v").properties.subnets] == ["nodes"]


def test_a_write_while_an_operation_runs_on_the_vnet_is_refused(net, simulator):
    make_vnet(net, "v", ["10.0.0.0/16"])
    make_vnet(net, "w", ["10.9.0.0/16"])
    simulator.polls_to_complete = 5
    net.subnets.begin_create_or_update(
        RG, "v", "a", {"properties": {"addressPrefix": "10.0.0.0/24"}}, polling=False
    )
    attempts = [
        lambda: net.subnets.begin_create_or_update(
            RG, "v", "b", {"properties": {"addressPrefix": "10.0.1.0/24"}}
        ),
        lambda: make_vnet(net, "v", ["10.0.0.0/16"], [("a", "10.0.0.0/24")]),
        lambda: peer(net, "v", "to-w", vnet_id("w")),
    ]
    for attempt in attempts:
        with pytest.raises(ResourceExistsError) as err:
            attempt()
        assert err.value.status_code == 409
        assert err.value.error.code == "AnotherOperationInProgress"
    # The other vnet is free, but peering towards the busy one is ReferencedResourceNotProvisioned.
    with pytest.raises(HttpResponseError) as err:
        peer(net, "w", "to-v", vnet_id("v"))
    assert err.value.status_code == 400
    assert err.value.error.code == "ReferencedResourceNotProvisioned"
    assert "PutSubnetOperation" in err.value.error.message
    for _ in range(5):
        net.subnets.get(RG, "v", "a")
    assert net.subnets.get(RG, "v", "a").properties.provisioning_state == "Succeeded"
    peer(net, "w", "to-v", vnet_id("v"))  # now fine


# ----- peerings ----------------------------------------------------------------------------------------
def test_peering_initiated_connected_disconnected(net):
    make_vnet(net, "aks", ["10.0.0.0/16"])
    make_vnet(net, "hops", ["10.1.0.0/16"], rg="rg2")
    one = peer(net, "hops", "hops-to-aks", vnet_id("aks"), rg="rg2", allowForwardedTraffic=False)
    assert one.properties.peering_state == "Initiated"
    two = peer(net, "aks", "aks-to-hops", vnet_id("hops", "rg2"))
    assert two.properties.peering_state == "Connected"
    assert (
        net.virtual_network_peerings.get("rg2", "hops", "hops-to-aks").properties.peering_state == "Connected"
    )
    got = net.virtual_network_peerings.get("rg2", "hops", "hops-to-aks").properties
    assert got.allow_forwarded_traffic is False and got.allow_virtual_network_access is True
    assert [p.name for p in net.virtual_networks.get(RG, "aks").properties.virtual_network_peerings] == [
        "aks-to-hops"
    ]
    # Re-PUT of an unchanged peering still works and stays Connected.
    assert peer(net, "aks", "aks-to-hops", vnet_id("hops", "rg2")).properties.peering_state == "Connected"

    net.virtual_network_peerings.begin_delete(RG, "aks", "aks-to-hops").result()
    assert (
        net.virtual_network_peerings.get("rg2", "hops", "hops-to-aks").properties.peering_state
        == "Disconnected"
    )
    # Re-creating the deleted side while the other is Disconnected is refused ...
    with pytest.raises(HttpResponseError) as err:
        peer(net, "aks", "aks-to-hops", vnet_id("hops", "rg2"))
    assert err.value.error.code == "RemotePeeringIsDisconnected"
    # ... until the Disconnected side is updated: Initiated again, then Connected with the other side.
    assert peer(net, "hops", "hops-to-aks", vnet_id("aks"), rg="rg2").properties.peering_state == "Initiated"
    assert peer(net, "aks", "aks-to-hops", vnet_id("hops", "rg2")).properties.peering_state == "Connected"


def test_deleting_a_vnet_deletes_its_peerings_and_disconnects_the_remote_side(net, simulator):
    make_vnet(net, "a", ["10.0.0.0/16"], [("s", "10.0.0.0/24")])
    make_vnet(net, "b", ["10.1.0.0/16"])
    peer(net, "a", "a-to-b", vnet_id("b"))
    peer(net, "b", "b-to-a", vnet_id("a"))
    net.virtual_networks.begin_delete(RG, "a").result()
    assert simulator.resource(vnet_id("a") + "/virtualNetworkPeerings/a-to-b") is None
    assert simulator.resource(vnet_id("a") + "/subnets/s") is None
    assert net.virtual_network_peerings.get(RG, "b", "b-to-a").properties.peering_state == "Disconnected"


@pytest.mark.parametrize(
    ("local", "remote"),
    [(["10.0.0.0/16"], ["10.0.128.0/17"]), (["10.0.0.0/16", "10.5.0.0/16"], ["10.5.1.0/24"])],
)
def test_overlapping_address_spaces_cannot_be_peered(net, local, remote):
    make_vnet(net, "a", local)
    make_vnet(net, "b", remote)
    with pytest.raises(HttpResponseError) as err:
        peer(net, "a", "a-to-b", vnet_id("b"))
    assert err.value.status_code == 400
    assert err.value.error.code == "VnetAddressSpacesOverlap"
    with pytest.raises(ResourceNotFoundError):
        net.virtual_network_peerings.get(RG, "a", "a-to-b")


def test_peering_needs_an_existing_remote_vnet_and_one_peering_per_remote(net):
    make_vnet(net, "a", ["10.0.0.0/16"])
    with pytest.raises(HttpResponseError) as err:
        peer(net, "a", "a-to-x", vnet_id("x"))
    assert err.value.status_code == 400
    assert err.value.error.code == "InvalidResourceReference"
    make_vnet(net, "b", ["10.1.0.0/16"])
    peer(net, "a", "a-to-b", vnet_id("b"))
    with pytest.raises(HttpResponseError) as err:
        peer(net, "a", "second", vnet_id("b"))
    assert err.value.error.code == "AnotherPeeringAlreadyReferencesRemoteVnet"
    with pytest.raises(HttpResponseError) as err:
        peer(net, "a", "a-to-b", vnet_id("b"), useRemoteGateways=True)
    assert err.value.error.code == "RemoteVnetHasNoGateways"
    with pytest.raises(ResourceNotFoundError):
        peer(net, "nope", "p", vnet_id("b"))


def test_peering_flags_are_kept_as_sent(net):
    make_vnet(net, "a", ["10.0.0.0/16"])
    make_vnet(net, "b", ["10.1.0.0/16"])
    got = peer(
        net,
        "a",
        "a-to-b",
        vnet_id("b"),
        allowVirtualNetworkAccess=False,
        allowForwardedTraffic=True,
        allowGatewayTransit=True,
    ).properties
    assert (got.allow_virtual_network_access, got.allow_forwarded_traffic, got.allow_gateway_transit) == (
        False,
        True,
        True,
    )
    assert got.use_remote_gateways is False
