"""Private DNS zones and virtual network links in the simulator, through the real azure-mgmt-privatedns
client.

The official REST examples (../shared/arm-examples/privatedns) first, then the rules: global location, the
linked vnet must exist, one link per vnet and zone, the overlapping-namespace failure, link state.
"""

import json
from pathlib import Path

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.privatedns import PrivateDnsManagementClient

from simulator.providers.privatedns import create_system_zone
from simulator.testing import SUBSCRIPTION_ID, sdk_client

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "arm-examples" / "privatedns"
SUB = SUBSCRIPTION_ID
VNET_SUB = "00000000-0000-0000-0000-0000000000bb"  # the example's vnet lives in another subscription
RG = "resourceGroup1"
ZONE = "privatezone1.com"


def example(name: str) -> dict:
    text = (EXAMPLES / name).read_text()
    text = text.replace("/subscriptions/subscriptionId/", f"/subscriptions/{SUB}/")
    text = text.replace('"subscriptionId": "subscriptionId"', f'"subscriptionId": "{SUB}"')
    text = text.replace("virtualNetworkSubscriptionId", VNET_SUB)
    return json.loads(text)


def vnet_id(name: str, sub: str = SUB, rg: str = "net") -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{name}"


def first_status(simulator, method: str, path_part: str) -> int:
    return [r for r in simulator.requests if r["method"] == method and path_part in r["path"]][0]["status"]


@pytest.fixture
def dns(simulator):
    simulator.add_resource_group(SUB, RG, "eastus")
    simulator.add_resource_group(SUB, "net", "eastus")
    simulator.add_resource_group(SUB, "other", "eastus")
    simulator.add_resource_group(VNET_SUB, "virtualNetworkResourceGroup", "eastus")
    return sdk_client(PrivateDnsManagementClient, simulator)


def make_vnet(simulator, name, space, sub=SUB, rg="net"):
    net = sdk_client(NetworkManagementClient, simulator, sub)
    body = {"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": [space]}}}
    return net.virtual_networks.begin_create_or_update(rg, name, body).result()


def make_zone(dns, name=ZONE, rg=RG):
    return dns.private_zones.begin_create_or_update(rg, name, {"location": "global"}).result()


def link(dns, name, vnet, zone=ZONE, rg=RG, registration=False, location="global"):
    body = {
        "location": location,
        "properties": {"virtualNetwork": {"id": vnet}, "registrationEnabled": registration},
    }
    return dns.virtual_network_links.begin_create_or_update(rg, zone, name, body).result()


# ----- official examples -------------------------------------------------------------------------------
def test_example_zone_get_and_list(dns, simulator):
    dns.private_zones.begin_create_or_update(
        RG, ZONE, {"location": "global", "tags": {"key1": "value1"}}
    ).result()
    assert first_status(simulator, "PUT", f"/privateDnsZones/{ZONE}") == 202
    ex = example("PrivateZoneGet.json")
    p = ex["parameters"]
    got = dns.private_zones.get(p["resourceGroupName"], p["privateZoneName"])
    expected = ex["responses"]["200"]["body"]
    assert got.id == expected["id"]
    assert got.name == expected["name"]
    assert got.type == expected["type"]
    assert got.location == "global"
    assert got.tags == {"key1": "value1"}
    assert got.properties.provisioning_state == "Succeeded"
    assert got.properties.number_of_virtual_network_links == 0
    assert got.etag

    ex = example("PrivateZoneListInResourceGroup.json")
    dns.private_zones.begin_create_or_update(RG, "privatezone2.com", {"location": "global"}).result()
    listed = list(dns.private_zones.list_by_resource_group(ex["parameters"]["resourceGroupName"]))
    expected_ids = [z["id"] for z in ex["responses"]["200"]["body"]["value"]]
    assert [z.id for z in listed] == expected_ids
    assert all(z.properties.provisioning_state == "Succeeded" for z in listed)


def test_example_link_put_get_list_delete(dns, simulator):
    make_zone(dns)
    make_vnet(simulator, "virtualNetworkName", "10.0.0.0/16", VNET_SUB, "virtualNetworkResourceGroup")
    ex = example("VirtualNetworkLinkPut.json")
    p = ex["parameters"]
    seen = []
    poller = dns.virtual_network_links.begin_create_or_update(
        p["resourceGroupName"],
        p["privateZoneName"],
        p["virtualNetworkLinkName"],
        p["parameters"],
        raw_response_hook=lambda r: seen.append((r.http_request.method, r.http_response)),
    )
    result = poller.result()
    method, first = seen[0]
    assert method == "PUT" and first.status_code == 202  # one of the example's answers
    # The example's URLs (Retry-After is left out in deterministic mode: nothing to wait for).
    assert {"Azure-AsyncOperation", "Location"} <= set(first.headers)
    assert first.headers["Azure-AsyncOperation"].startswith(simulator.endpoint + "/subscriptions/")
    expected = ex["responses"]["201"]["body"]
    assert result.id == expected["id"]
    assert result.name == expected["name"]
    assert result.type == expected["type"]
    assert result.location == "global"
    assert result.tags == {"key1": "value1"}
    assert result.properties.virtual_network.id == expected["properties"]["virtualNetwork"]["id"]
    assert result.properties.registration_enabled is False
    assert result.properties.virtual_network_link_state == "Completed"
    assert result.properties.provisioning_state == "Succeeded"

    ex = example("VirtualNetworkLinkGet.json")
    g = ex["parameters"]
    got = dns.virtual_network_links.get(
        g["resourceGroupName"], g["privateZoneName"], g["virtualNetworkLinkName"]
    )
    assert got.id == ex["responses"]["200"]["body"]["id"]
    assert got.properties.virtual_network_link_state == "Completed"

    ex = example("VirtualNetworkLinkList.json")
    listed = list(dns.virtual_network_links.list(ex["parameters"]["resourceGroupName"], ZONE))
    assert [x.id for x in listed] == [got.id]
    assert dns.private_zones.get(RG, ZONE).properties.number_of_virtual_network_links == 1

    ex = example("VirtualNetworkLinkDelete.json")
    d = ex["parameters"]
    dns.virtual_network_links.begin_delete(
        d["resourceGroupName"], d["privateZoneName"], d["virtualNetworkLinkName"]
    ).result()
    assert first_status(simulator, "DELETE", "/virtualNetworkLinks/virtualNetworkLink1") == 202
    with pytest.raises(ResourceNotFoundError):
        dns.virtual_network_links.get(RG, ZONE, "virtualNetworkLink1")
    dns.virtual_network_links.begin_delete(RG, ZONE, "virtualNetworkLink1").result()
    assert simulator.requests[-1]["status"] == 204


# ----- rules -------------------------------------------------------------------------------------------
def test_link_state_in_progress_until_the_operation_ends(dns, simulator):
    make_zone(dns)
    make_vnet(simulator, "hops", "10.1.0.0/16")
    simulator.polls_to_complete = 2
    body = {
        "location": "global",
        "properties": {"virtualNetwork": {"id": vnet_id("hops")}, "registrationEnabled": False},
    }
    dns.virtual_network_links.begin_create_or_update(RG, ZONE, "l", body, polling=False)
    first = dns.virtual_network_links.get(RG, ZONE, "l").properties
    assert (first.provisioning_state, first.virtual_network_link_state) == ("Updating", "InProgress")
    second = dns.virtual_network_links.get(RG, ZONE, "l").properties
    assert (second.provisioning_state, second.virtual_network_link_state) == ("Succeeded", "Completed")


def test_location_must_be_global(dns, simulator):
    make_vnet(simulator, "hops", "10.1.0.0/16")
    with pytest.raises(HttpResponseError) as err:
        dns.private_zones.begin_create_or_update(RG, ZONE, {"location": "eastus"}).result()
    assert err.value.status_code == 400
    assert err.value.error.code == "LocationNotAvailableForResourceType"
    make_zone(dns)
    with pytest.raises(HttpResponseError) as err:
        link(dns, "l", vnet_id("hops"), location="westeurope")
    assert err.value.error.code == "LocationNotAvailableForResourceType"
    assert link(dns, "l", vnet_id("hops"), location="Global").location == "global"


def test_linked_vnet_must_exist_and_zone_must_exist(dns, simulator):
    make_zone(dns)
    with pytest.raises(HttpResponseError) as err:
        link(dns, "l", vnet_id("absent"))
    assert err.value.status_code == 400
    assert err.value.error.code == "BadRequest"
    assert "Virtual network resource not found" in err.value.error.message
    make_vnet(simulator, "hops", "10.1.0.0/16")
    with pytest.raises(ResourceNotFoundError):
        link(dns, "l", vnet_id("hops"), zone="nozone.example.com")
    with pytest.raises(HttpResponseError) as err:
        dns.virtual_network_links.begin_create_or_update(
            RG, ZONE, "l", {"location": "global", "properties": {"virtualNetwork": {"id": vnet_id("hops")}}}
        ).result()
    assert err.value.error.code == "BadRequest"  # registrationEnabled is required


def test_a_vnet_is_linked_to_a_zone_once(dns, simulator):
    make_zone(dns)
    make_vnet(simulator, "hops", "10.1.0.0/16")
    first = link(dns, "hops-link", vnet_id("hops"))
    assert link(dns, "hops-link", vnet_id("hops")).id == first.id  # the same link again: fine (idempotent)
    with pytest.raises(ResourceExistsError) as err:
        link(dns, "another-name", vnet_id("hops"))
    assert err.value.status_code == 409
    assert err.value.error.code == "Conflict"
    assert [x.name for x in dns.virtual_network_links.list(RG, ZONE)] == ["hops-link"]


def test_same_zone_name_in_two_groups_cannot_both_link_one_vnet(dns, simulator):
    make_zone(dns)
    make_zone(dns, rg="other")
    make_vnet(simulator, "hops", "10.1.0.0/16")
    link(dns, "a", vnet_id("hops"))
    with pytest.raises(HttpResponseError) as err:
        link(dns, "b", vnet_id("hops"), rg="other")
    assert err.value.error.code == "BadRequest"
    assert "overlapping namespaces" in err.value.error.message


def test_if_none_match_star_refuses_an_existing_link(dns, simulator):
    make_zone(dns)
    make_vnet(simulator, "hops", "10.1.0.0/16")
    link(dns, "l", vnet_id("hops"))
    body = {
        "location": "global",
        "properties": {"virtualNetwork": {"id": vnet_id("hops")}, "registrationEnabled": False},
    }
    with pytest.raises(HttpResponseError) as err:
        dns.virtual_network_links.begin_create_or_update(
            RG, ZONE, "l", body, match_condition=MatchConditions.IfMissing
        ).result()
    assert err.value.status_code == 412


def test_system_zone_goes_with_its_resource_group(dns, simulator):
    from azure.mgmt.resource.resources import ResourceManagementClient

    simulator.add_resource_group(SUB, "MC_rg_aks_eastus", "eastus")
    with simulator.arm.lock:
        create_system_zone(simulator.arm, SUB, "MC_rg_aks_eastus", "abc.privatelink.eastus.azmk8s.io")
    make_vnet(simulator, "hops", "10.1.0.0/16")
    link(dns, "hops-link", vnet_id("hops"), zone="abc.privatelink.eastus.azmk8s.io", rg="MC_rg_aks_eastus")
    names = [z.name for z in dns.private_zones.list_by_resource_group("MC_rg_aks_eastus")]
    assert names == ["abc.privatelink.eastus.azmk8s.io"]
    rm = sdk_client(ResourceManagementClient, simulator)
    rm.resource_groups.begin_delete("MC_rg_aks_eastus").result()
    with pytest.raises(ResourceNotFoundError):
        dns.private_zones.get("MC_rg_aks_eastus", "abc.privatelink.eastus.azmk8s.io")
    assert simulator.state()["resources"] and not any(
        "virtualnetworklinks" in r["id"].lower() for r in simulator.state()["resources"]
    )
