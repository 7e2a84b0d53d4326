"""Failed and Canceled long-running writes in the simulator, through the real azure-mgmt clients.

For every resource type the app writes with a long-running operation (virtual network with its subnets,
subnet, virtual network peering, private DNS zone virtual network link, container registry, managed
cluster): a fault makes the write end Failed (a retryable code, a permanent one) or Canceled; the SDK poller
raises with the code; the resource stays behind in that state (GET 200); the operation status URL answers
the same with the error; a PUT of the wanted body starts a new operation and puts it right (ARM's
documented recovery); a Failed resource can be deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.mgmt.containerregistry import ContainerRegistryManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.privatedns import PrivateDnsManagementClient

from simulator.testing import SUBSCRIPTION_ID, sdk_client

SUB = SUBSCRIPTION_ID
RG = "rg"
LOCATION = "westeurope"
ZONE = "privatelink.westeurope.azmk8s.io"
NETWORK = "Microsoft.Network"


def vnet_id(name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/{name}"


def vnet_body(space: str = "10.10.0.0/16", subnets: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    return {
        "location": LOCATION,
        "properties": {
            "addressSpace": {"addressPrefixes": [space]},
            "subnets": [{"name": n, "properties": {"addressPrefix": p}} for n, p in subnets],
        },
    }


AKS_SUBNETS = (("nodes", "10.10.0.0/20"), ("other", "10.10.16.0/24"))


def cluster_body() -> dict[str, Any]:
    return {
        "location": LOCATION,
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "dnsPrefix": "hops",
            "agentPoolProfiles": [
                {
                    "name": "system",
                    "mode": "System",
                    "count": 3,
                    "vmSize": "Standard_D8s_v5",
                    "vnetSubnetID": vnet_id("aks-vnet") + "/subnets/nodes",
                }
            ],
            "networkProfile": {
                "networkPlugin": "azure",
                "serviceCidr": "10.0.0.0/16",
                "dnsServiceIP": "10.0.0.10",
            },
            "apiServerAccessProfile": {"enablePrivateCluster": True},
        },
    }


@dataclass
class Clients:
    net: NetworkManagementClient
    dns: PrivateDnsManagementClient
    acr: ContainerRegistryManagementClient
    aks: ContainerServiceClient


@pytest.fixture
def az(simulator) -> Clients:
    simulator.add_resource_group(SUB, RG, LOCATION)
    return Clients(
        net=sdk_client(NetworkManagementClient, simulator),
        dns=sdk_client(PrivateDnsManagementClient, simulator),
        acr=sdk_client(ContainerRegistryManagementClient, simulator),
        aks=sdk_client(ContainerServiceClient, simulator),
    )


@dataclass
class Case:
    """One resource type: how to prepare its surroundings, write it, read it and delete it."""

    resource_type: str
    prepare: Callable[[Clients], None]
    put: Callable[..., Any]  # (clients, **kwargs) -> poller
    get: Callable[[Clients], Any]
    delete: Callable[[Clients], Any]  # -> poller


def _prepare_nothing(az: Clients) -> None:
    return None


def _prepare_aks_vnet(az: Clients) -> None:
    az.net.virtual_networks.begin_create_or_update(RG, "aks-vnet", vnet_body(subnets=AKS_SUBNETS)).result()


def _prepare_two_vnets(az: Clients) -> None:
    _prepare_aks_vnet(az)
    az.net.virtual_networks.begin_create_or_update(RG, "hops-vnet", vnet_body("10.20.0.0/16")).result()


def _prepare_zone(az: Clients) -> None:
    _prepare_aks_vnet(az)
    az.dns.private_zones.begin_create_or_update(RG, ZONE, {"location": "global"}).result()


def _peering(remote: str) -> dict[str, Any]:
    return {
        "properties": {"remoteVirtualNetwork": {"id": vnet_id(remote)}, "allowVirtualNetworkAccess": True}
    }


CASES = {
    "vnet": Case(
        f"{NETWORK}/virtualNetworks",
        _prepare_nothing,
        lambda az, **kw: az.net.virtual_networks.begin_create_or_update(
            RG, "aks-vnet", vnet_body(subnets=AKS_SUBNETS), **kw
        ),
        lambda az: az.net.virtual_networks.get(RG, "aks-vnet"),
        lambda az: az.net.virtual_networks.begin_delete(RG, "aks-vnet"),
    ),
    "subnet": Case(
        f"{NETWORK}/virtualNetworks/subnets",
        lambda az: az.net.virtual_networks.begin_create_or_update(RG, "aks-vnet", vnet_body()).result(),
        lambda az, **kw: az.net.subnets.begin_create_or_update(
            RG, "aks-vnet", "nodes", {"properties": {"addressPrefix": "10.10.0.0/20"}}, **kw
        ),
        lambda az: az.net.subnets.get(RG, "aks-vnet", "nodes"),
        lambda az: az.net.subnets.begin_delete(RG, "aks-vnet", "nodes"),
    ),
    "peering": Case(
        f"{NETWORK}/virtualNetworks/virtualNetworkPeerings",
        _prepare_two_vnets,
        lambda az, **kw: az.net.virtual_network_peerings.begin_create_or_update(
            RG, "aks-vnet", "aks-to-hops", _peering("hops-vnet"), **kw
        ),
        lambda az: az.net.virtual_network_peerings.get(RG, "aks-vnet", "aks-to-hops"),
        lambda az: az.net.virtual_network_peerings.begin_delete(RG, "aks-vnet", "aks-to-hops"),
    ),
    "dns_link": Case(
        f"{NETWORK}/privateDnsZones/virtualNetworkLinks",
        _prepare_zone,
        lambda az, **kw: az.dns.virtual_network_links.begin_create_or_update(
            RG,
            ZONE,
            "aks-link",
            {
                "location": "global",
                "properties": {"virtualNetwork": {"id": vnet_id("aks-vnet")}, "registrationEnabled": False},
            },
            **kw,
        ),
        lambda az: az.dns.virtual_network_links.get(RG, ZONE, "aks-link"),
        lambda az: az.dns.virtual_network_links.begin_delete(RG, ZONE, "aks-link"),
    ),
    "registry": Case(
        "Microsoft.ContainerRegistry/registries",
        _prepare_nothing,
        lambda az, **kw: az.acr.registries.begin_create(
            RG, "hopsacr1", {"location": LOCATION, "sku": {"name": "Premium"}, "properties": {}}, **kw
        ),
        lambda az: az.acr.registries.get(RG, "hopsacr1"),
        lambda az: az.acr.registries.begin_delete(RG, "hopsacr1"),
    ),
    "cluster": Case(
        "Microsoft.ContainerService/managedClusters",
        _prepare_aks_vnet,
        lambda az, **kw: az.aks.managed_clusters.begin_create_or_update(RG, "hops-aks", cluster_body(), **kw),
        lambda az: az.aks.managed_clusters.get(RG, "hops-aks"),
        lambda az: az.aks.managed_clusters.begin_delete(RG, "hops-aks"),
    ),
}

OUTCOMES = [
    pytest.param("lro_failed", "RetryableError", "Failed", id="failed-retryable"),
    pytest.param("lro_failed", "InvalidParameter", "Failed", id="failed-permanent"),
    pytest.param("lro_canceled", None, "Canceled", id="canceled"),
]


def _write_that_ends_badly(
    az: Clients, simulator, case: Case, kind: str, code: str | None
) -> tuple[Any, str]:
    """Run the write under a one-shot fault; return (the poller's error, the operation status URL)."""
    simulator.add_fault(method="PUT", resource_type=case.resource_type, kind=kind, code=code)
    urls: list[str] = []

    def keep_status_url(response: Any) -> None:
        url = response.http_response.headers.get("Azure-AsyncOperation")
        if url and not urls:
            urls.append(url)

    with pytest.raises(HttpResponseError) as err:
        case.put(az, raw_response_hook=keep_status_url).result()
    assert urls, "the write answered no Azure-AsyncOperation URL"
    return err.value, urls[0]


def _status_of(client: Any, url: str) -> dict[str, Any]:
    response = client.send_request(HttpRequest("GET", url))
    assert response.status_code == 200
    return response.json()


def _state(model: Any) -> str:
    props = getattr(model, "properties", None)
    state = getattr(props, "provisioning_state", None) or model.provisioning_state
    return str(getattr(state, "value", state))  # some SDKs give a str enum


def _check_left_behind(case_id: str, az: Clients, model: Any, state: str) -> None:
    """What each type shows besides its own provisioningState."""
    if case_id == "vnet":
        assert {s.name: s.provisioning_state for s in model.subnets} == {"nodes": state, "other": state}
        assert az.net.subnets.get(RG, "aks-vnet", "nodes").provisioning_state == state
    elif case_id == "peering":
        assert model.peering_state != "Connected"
    elif case_id == "dns_link":
        assert model.virtual_network_link_state != "Completed"
    elif case_id == "cluster":
        assert model.properties.agent_pool_profiles[0].provisioning_state == state
        assert model.properties.status.provisioning_error.code


def _check_put_right(case_id: str, az: Clients, model: Any) -> None:
    if case_id == "vnet":
        assert {s.name: s.provisioning_state for s in model.subnets} == {
            "nodes": "Succeeded",
            "other": "Succeeded",
        }
    elif case_id == "peering":
        assert model.peering_state == "Initiated"  # the remote side has no peering back yet
    elif case_id == "dns_link":
        assert model.virtual_network_link_state == "Completed"
    elif case_id == "cluster":
        assert model.properties.agent_pool_profiles[0].provisioning_state == "Succeeded"
        assert model.properties.status is None or model.properties.status.provisioning_error is None


def _client_for(case_id: str, az: Clients) -> Any:
    return {"dns_link": az.dns, "registry": az.acr, "cluster": az.aks}.get(case_id, az.net)


@pytest.mark.parametrize("case_id", list(CASES))
@pytest.mark.parametrize(("kind", "code", "state"), OUTCOMES)
def test_a_write_that_ends_badly_leaves_the_resource_in_that_state_and_a_put_puts_it_right(
    az, simulator, case_id, kind, code, state
):
    case = CASES[case_id]
    case.prepare(az)
    error, status_url = _write_that_ends_badly(az, simulator, case, kind, code)
    expected_code = code or "Canceled"
    assert error.error.code == expected_code

    left = case.get(az)  # GET 200 with the state the operation ended in
    assert _state(left) == state
    _check_left_behind(case_id, az, left, state)
    status = _status_of(_client_for(case_id, az), status_url)
    assert status["status"] == state
    assert status["error"]["code"] == expected_code and status["error"]["message"]

    simulator.polls_to_complete = 3  # the repair is an operation of its own: Updating first
    poller = case.put(az)
    assert _state(case.get(az)) == "Updating"
    fixed = poller.result()
    right = case.get(az)
    assert _state(fixed) == "Succeeded" and _state(right) == "Succeeded"
    _check_put_right(case_id, az, right)


@pytest.mark.parametrize("case_id", list(CASES))
def test_a_failed_resource_can_be_deleted(az, simulator, case_id):
    case = CASES[case_id]
    case.prepare(az)
    _write_that_ends_badly(az, simulator, case, "lro_failed", "InternalServerError")
    case.delete(az).result()
    with pytest.raises(ResourceNotFoundError):
        case.get(az)


def test_a_failed_vnet_update_leaves_existing_subnets_failed_too(az, simulator):
    _prepare_aks_vnet(az)
    simulator.add_fault(method="PUT", path="/virtualNetworks/aks-vnet", regex=False, kind="lro_failed")
    body = vnet_body(subnets=AKS_SUBNETS)
    body["tags"] = {"changed": "yes"}
    with pytest.raises(HttpResponseError):
        az.net.virtual_networks.begin_create_or_update(RG, "aks-vnet", body).result()
    assert [s.provisioning_state for s in az.net.subnets.list(RG, "aks-vnet")] == ["Failed", "Failed"]
    az.net.virtual_networks.begin_create_or_update(RG, "aks-vnet", body).result()
    assert [s.provisioning_state for s in az.net.subnets.list(RG, "aks-vnet")] == ["Succeeded", "Succeeded"]


def test_a_failed_peering_side_does_not_connect_the_other_until_put_right(az, simulator):
    """The remote side's own write succeeds but stays Initiated while this side is Failed; PUT right -> both
    Connected."""
    _prepare_two_vnets(az)
    case = CASES["peering"]
    _write_that_ends_badly(az, simulator, case, "lro_failed", "InternalServerError")
    back = az.net.virtual_network_peerings.begin_create_or_update(
        RG, "hops-vnet", "hops-to-aks", _peering("aks-vnet")
    ).result()
    assert back.provisioning_state == "Succeeded" and back.peering_state == "Initiated"
    assert case.get(az).peering_state != "Connected"
    fixed = case.put(az).result()
    assert (fixed.provisioning_state, fixed.peering_state) == ("Succeeded", "Connected")
    assert az.net.virtual_network_peerings.get(RG, "hops-vnet", "hops-to-aks").peering_state == "Connected"


def test_a_failed_link_is_put_right_by_the_same_put_with_timed_latency(az, simulator):
    """Not only in deterministic mode: with the latency model, the repair takes the link's own time."""
    _prepare_zone(az)
    case = CASES["dns_link"]
    _write_that_ends_badly(az, simulator, case, "lro_failed", "RetryableError")
    simulator.polls_to_complete = None
    simulator.latency_scale = 0.002  # a link operation: 30 s * 0.002 = 60 ms
    poller = case.put(az)
    assert case.get(az).virtual_network_link_state == "InProgress"
    fixed = poller.result()
    assert (fixed.provisioning_state, fixed.virtual_network_link_state) == ("Succeeded", "Completed")
