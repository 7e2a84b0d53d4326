"""The AKS vnet while AKS builds a cluster in it, and a cluster delete while it is still Creating.

* While a managed cluster's create runs, writes into its node vnet V (PUT/DELETE of V's subnets and peerings,
  PUT of V) answer 409 ``AnotherOperationInProgress`` naming the cluster's operation, and a peering elsewhere
  towards V answers ``ReferencedResourceNotProvisioned``; other vnets are free. After the create, all fine.
* The other way round: a cluster create started while V (a subnet, a peering) has an operation running, or
  while its node subnet is Failed, ends Failed with ``ReferencedResourceNotProvisioned``; the PUT again once
  the network is right puts the cluster right.
* Deleting a cluster whose create runs: 409 ``OperationNotAllowed`` until the create ends, then accepted.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.network import NetworkManagementClient

from simulator.testing import sdk_client

from .test_failed_states import AKS_SUBNETS, LOCATION, RG, SUB, cluster_body, vnet_body, vnet_id


@pytest.fixture
def net(simulator) -> NetworkManagementClient:
    simulator.add_resource_group(SUB, RG, LOCATION)
    client = sdk_client(NetworkManagementClient, simulator)
    client.virtual_networks.begin_create_or_update(RG, "aks-vnet", vnet_body(subnets=AKS_SUBNETS)).result()
    client.virtual_networks.begin_create_or_update(RG, "hops-vnet", vnet_body("10.20.0.0/16")).result()
    return client


@pytest.fixture
def aks(simulator, net) -> ContainerServiceClient:
    return sdk_client(ContainerServiceClient, simulator)


def peering(remote: str) -> dict[str, Any]:
    return {
        "properties": {"remoteVirtualNetwork": {"id": vnet_id(remote)}, "allowVirtualNetworkAccess": True}
    }


def cluster_operation_id(simulator) -> str:
    ops = [o for o in simulator.state()["operations"] if "/managedClusters/" in o["resourceId"]]
    return ops[-1]["id"]


def writes_into_the_aks_vnet(net: NetworkManagementClient, wait: bool = False) -> dict[str, Any]:
    """Each write into V (and a peering towards V), one after the other: what each raised (None = accepted;
    ``wait``: and ended Succeeded)."""
    writes = {
        "put vnet": lambda: net.virtual_networks.begin_create_or_update(
            RG, "aks-vnet", vnet_body(subnets=AKS_SUBNETS), polling=wait
        ),
        "put subnet": lambda: net.subnets.begin_create_or_update(
            RG, "aks-vnet", "more", {"properties": {"addressPrefix": "10.10.32.0/24"}}, polling=wait
        ),
        "delete subnet": lambda: net.subnets.begin_delete(RG, "aks-vnet", "other", polling=wait),
        "put peering": lambda: net.virtual_network_peerings.begin_create_or_update(
            RG, "aks-vnet", "aks-to-hops", peering("hops-vnet"), polling=wait
        ),
        "put remote peering": lambda: net.virtual_network_peerings.begin_create_or_update(
            RG, "hops-vnet", "hops-to-aks", peering("aks-vnet"), polling=wait
        ),
    }
    out: dict[str, Any] = {}
    for name, write in writes.items():
        try:
            poller = write()
            result = poller.result() if wait else None
            assert result is None or result.provisioning_state == "Succeeded", name
            out[name] = None
        except HttpResponseError as err:
            out[name] = err
    return out


def test_writes_into_the_vnet_wait_for_the_cluster_create(net, aks, simulator):
    simulator.polls_to_complete = 4
    poller = aks.managed_clusters.begin_create_or_update(RG, "hops-aks", cluster_body(), polling=False)
    assert poller is not None
    op_id = cluster_operation_id(simulator)
    simulator.polls_to_complete = 1
    refused = writes_into_the_aks_vnet(net)
    for name in ("put vnet", "put subnet", "delete subnet"):
        err = refused[name]
        assert err is not None and err.status_code == 409, name
        assert err.error.code == "AnotherOperationInProgress"
        assert op_id in err.error.message and "PutManagedClusterOperation" in err.error.message
        assert "Microsoft.ContainerService/locations" in err.error.message  # the status uri of its operation
    assert refused["put peering"].status_code == 409
    remote = refused["put remote peering"]
    assert (remote.status_code, remote.error.code) == (400, "ReferencedResourceNotProvisioned")
    # Another vnet is not held: a subnet there is written at once.
    net.subnets.begin_create_or_update(
        RG, "hops-vnet", "free", {"properties": {"addressPrefix": "10.20.0.0/24"}}
    ).result()
    assert [r["status"] for r in simulator.requests if r["method"] == "PUT"][-1] == 201

    for _ in range(4):
        state = aks.managed_clusters.get(RG, "hops-aks").properties.provisioning_state
    assert state == "Succeeded"
    after = writes_into_the_aks_vnet(net, wait=True)
    assert after == dict.fromkeys(after)  # every write accepted and done
    assert net.virtual_network_peerings.get(RG, "aks-vnet", "aks-to-hops").peering_state == "Connected"


def test_a_peering_already_there_cannot_be_deleted_while_the_cluster_is_created(net, aks, simulator):
    net.virtual_network_peerings.begin_create_or_update(
        RG, "aks-vnet", "aks-to-hops", peering("hops-vnet")
    ).result()
    simulator.polls_to_complete = 3
    aks.managed_clusters.begin_create_or_update(RG, "hops-aks", cluster_body(), polling=False)
    with pytest.raises(HttpResponseError) as err:
        net.virtual_network_peerings.begin_delete(RG, "aks-vnet", "aks-to-hops", polling=False)
    assert (err.value.status_code, err.value.error.code) == (409, "AnotherOperationInProgress")
    for _ in range(3):
        aks.managed_clusters.get(RG, "hops-aks")
    net.virtual_network_peerings.begin_delete(RG, "aks-vnet", "aks-to-hops").result()


def test_a_put_repairing_a_failed_cluster_holds_the_vnet_too(net, aks, simulator):
    simulator.add_fault(method="PUT", path="/managedClusters/", kind="lro_failed", code="InternalServerError")
    with pytest.raises(HttpResponseError):
        aks.managed_clusters.begin_create_or_update(RG, "hops-aks", cluster_body()).result()
    simulator.polls_to_complete = 3
    aks.managed_clusters.begin_create_or_update(RG, "hops-aks", cluster_body(), polling=False)
    simulator.polls_to_complete = 1
    refused = writes_into_the_aks_vnet(net)
    assert refused["put subnet"].error.code == "AnotherOperationInProgress"
    for _ in range(3):
        state = aks.managed_clusters.get(RG, "hops-aks").properties.provisioning_state
    assert state == "Succeeded"
    net.subnets.begin_create_or_update(
        RG, "aks-vnet", "more", {"properties": {"addressPrefix": "10.10.32.0/24"}}
    ).result()


def test_the_hold_lasts_the_scaled_create_time_with_the_latency_model(net, aks, simulator):
    simulator.polls_to_complete = None
    simulator.latency_scale = 0.005  # cluster create: 300 s -> 1.5 s
    more = {"properties": {"addressPrefix": "10.10.32.0/24"}}
    started = time.monotonic()
    aks.managed_clusters.begin_create_or_update(RG, "hops-aks", cluster_body(), polling=False)
    with pytest.raises(ResourceExistsError) as err:
        net.subnets.begin_create_or_update(RG, "aks-vnet", "more", more)
    assert err.value.error.code == "AnotherOperationInProgress"
    assert time.monotonic() - started < 1.5  # (the 409 came while the create ran)
    while aks.managed_clusters.get(RG, "hops-aks").properties.provisioning_state == "Creating":
        assert time.monotonic() - started < 10
        time.sleep(0.05)
    assert time.monotonic() - started >= 1.5  # the create, and the hold, lasted its scaled time
    created = net.subnets.begin_create_or_update(RG, "aks-vnet", "more", more).result()
    assert created.provisioning_state == "Succeeded"


@pytest.mark.parametrize("busy_with", ["vnet update", "subnet create", "peering create"])
def test_a_cluster_created_while_its_vnet_is_busy_ends_failed(net, aks, simulator, busy_with):
    simulator.polls_to_complete = 5
    if busy_with == "vnet update":
        busy = net.virtual_networks.begin_create_or_update(RG, "aks-vnet", vnet_body(subnets=AKS_SUBNETS))
        last = "PutVirtualNetworkOperation"
    elif busy_with == "subnet create":
        busy = net.subnets.begin_create_or_update(
            RG, "aks-vnet", "more", {"properties": {"addressPrefix": "10.10.32.0/24"}}
        )
        last = "PutSubnetOperation"
    else:
        busy = net.virtual_network_peerings.begin_create_or_update(
            RG, "aks-vnet", "aks-to-hops", peering("hops-vnet")
        )
        last = "PutVirtualNetworkPeeringOperation"
    simulator.polls_to_complete = 1
    with pytest.raises(HttpResponseError) as err:
        aks.managed_clusters.begin_create_or_update(RG, "hops-aks", cluster_body()).result()
    assert err.value.error.code == "ReferencedResourceNotProvisioned"
    assert (
        vnet_id("aks-vnet") + "/subnets/nodes" in err.value.error.message and last in err.value.error.message
    )
    cluster = aks.managed_clusters.get(RG, "hops-aks")
    assert cluster.properties.provisioning_state == "Failed"
    assert cluster.properties.status.provisioning_error.code == "ReferencedResourceNotProvisioned"
    # A repair PUT while the network write still runs fails the same way; once it ended, it succeeds.
    with pytest.raises(HttpResponseError) as err:
        aks.managed_clusters.begin_create_or_update(RG, "hops-aks", cluster_body()).result()
    assert err.value.error.code == "ReferencedResourceNotProvisioned"
    assert busy.result().provisioning_state == "Succeeded"
    fixed = aks.managed_clusters.begin_create_or_update(RG, "hops-aks", cluster_body()).result()
    assert fixed.properties.provisioning_state == "Succeeded"


def test_a_cluster_created_on_a_failed_node_subnet_ends_failed(net, aks, simulator):
    simulator.add_fault(
        method="PUT", path="/virtualNetworks/aks-vnet", kind="lro_failed", code="InternalServerError"
    )
    with pytest.raises(HttpResponseError):
        net.virtual_networks.begin_create_or_update(RG, "aks-vnet", vnet_body(subnets=AKS_SUBNETS)).result()
    with pytest.raises(HttpResponseError) as err:
        aks.managed_clusters.begin_create_or_update(RG, "hops-aks", cluster_body()).result()
    assert err.value.error.code == "ReferencedResourceNotProvisioned"
    assert "Resource is in Failed state" in err.value.error.message
    net.virtual_networks.begin_create_or_update(RG, "aks-vnet", vnet_body(subnets=AKS_SUBNETS)).result()
    fixed = aks.managed_clusters.begin_create_or_update(RG, "hops-aks", cluster_body()).result()
    assert fixed.properties.provisioning_state == "Succeeded"


def test_deleting_a_cluster_while_it_is_created_is_refused_until_the_create_ends(aks, simulator):
    simulator.polls_to_complete = 3
    aks.managed_clusters.begin_create_or_update(RG, "hops-aks", cluster_body(), polling=False)
    op_id = cluster_operation_id(simulator)
    with pytest.raises(ResourceExistsError) as err:
        aks.managed_clusters.begin_delete(RG, "hops-aks", polling=False)
    assert (err.value.status_code, err.value.error.code) == (409, "OperationNotAllowed")
    message = err.value.error.message
    assert "in progress create managed cluster operation" in message and op_id in message
    assert aks.managed_clusters.get(RG, "hops-aks").properties.provisioning_state == "Creating"
    for _ in range(3):
        aks.managed_clusters.get(RG, "hops-aks")
    simulator.polls_to_complete = 1
    aks.managed_clusters.begin_delete(RG, "hops-aks").result()
    with pytest.raises(ResourceNotFoundError):
        aks.managed_clusters.get(RG, "hops-aks")


def test_deleting_a_cluster_while_it_is_updated_cancels_the_update(aks, simulator):
    aks.managed_clusters.begin_create_or_update(RG, "hops-aks", cluster_body()).result()
    simulator.polls_to_complete = 5
    update = aks.managed_clusters.begin_create_or_update(RG, "hops-aks", cluster_body(), polling=False)
    assert update is not None
    simulator.polls_to_complete = 1
    aks.managed_clusters.begin_delete(RG, "hops-aks").result()
    with pytest.raises(ResourceNotFoundError):
        aks.managed_clusters.get(RG, "hops-aks")
    updates = [o for o in simulator.state()["operations"] if o["kind"] == "update"]
    assert updates[-1]["status"] == "Canceled"
