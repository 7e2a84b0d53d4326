"""Resources in provisioningState Failed/Canceled (issue #9 section 1), against the simulated Azure.

For each resource type the run writes with a long-running operation: one left Failed by the run's own failed
attempt is PUT again with the wanted body when the activity runs again (the orchestrator's retry) and
reported Succeeded; one that existed before the run (someone else's) in Failed is refused, and nothing is
written to it. When the put-right itself fails, the answer is ResourceFailedState naming the resource.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from activities import containerregistry, containerservice, network, privatedns, resources
from tests.activities.helpers import (
    OTHER_RUN_ID,
    RG,
    assert_error,
    assert_ok,
    common,
    rid,
    stored,
    writes,
    writes_after,
)
from tests.activities.test_containerregistry import registries_client, registry_input
from tests.activities.test_containerservice import CLUSTER, cluster_input, node_subnet, wait_succeeded
from tests.activities.test_network import (
    PEERING,
    SUBNET,
    VNET,
    aks_input,
    make_both_vnets,
    peering_input,
    put_vnet,
)
from tests.activities.test_preflight import preflight_input
from tests.activities.test_privatedns import LINK, NODE_RG, ZONE, cluster_zone, link_input

__all__ = ["cluster_zone", "node_subnet"]  # fixtures used by name below

REGISTRY = "Microsoft.ContainerRegistry/registries"
RETRYABLE = "InternalServerError"  # a failed operation with this code is retried by the orchestrator
WANTED_SUBNETS = [
    {"name": "aks-nodes", "prefix": "10.240.0.0/20"},
    {"name": "hopsworks", "prefix": "10.240.16.0/24"},
]


def state_of(azure: Any, resource_id: str) -> str:
    return azure.resource(resource_id)["properties"]["provisioningState"]


def fail_next_put(azure: Any, resource_type: str, code: str = RETRYABLE) -> None:
    azure.add_fault(method="PUT", resource_type=resource_type, kind="lro_failed", code=code)


# ---------------------------------------------------------------- virtual network (and its subnets)


def test_own_vnet_left_failed_is_put_right_on_the_retry(azure: Any) -> None:
    fail_next_put(azure, VNET)
    first = network.ensure_aks_network(aks_input(subnets=WANTED_SUBNETS))
    assert_error(first, RETRYABLE, transient=True)
    (left,) = first["resources"]
    assert left["action"] == "created" and state_of(azure, left["id"]) == "Failed"
    before = len(azure.requests)

    again = assert_ok(network.ensure_aks_network(aks_input(subnets=WANTED_SUBNETS)))

    assert [(r["type"], r["action"]) for r in again["resources"]] == [
        (VNET, "created"),
        (SUBNET, "created"),
        (SUBNET, "created"),
    ]
    assert writes_after(azure, before) == [("PUT", VNET)]
    assert state_of(azure, left["id"]) == "Succeeded"
    assert {s["name"]: s["properties"]["provisioningState"] for s in stored(azure, SUBNET)} == {
        "aks-nodes": "Succeeded",
        "hopsworks": "Succeeded",
    }


def test_own_vnet_that_fails_again_is_resource_failed_state_naming_it(azure: Any) -> None:
    fail_next_put(azure, VNET)
    assert_error(network.ensure_aks_network(aks_input()), RETRYABLE, transient=True)
    fail_next_put(azure, VNET)

    result = network.ensure_aks_network(aks_input())

    error = assert_error(result, "ResourceFailedState", transient=True)
    vnet_id = rid(VNET, "aks-vnet")
    assert error["resourceId"].casefold() == vnet_id.casefold()
    assert vnet_id.casefold() in error["message"].casefold() and RETRYABLE in error["message"]
    # still this run's: the rollback must see it
    assert [(r["type"], r["action"]) for r in result["resources"]] == [(VNET, "created")]


def test_own_vnet_failing_permanently_on_put_right_is_permanent(azure: Any) -> None:
    fail_next_put(azure, VNET)
    network.ensure_aks_network(aks_input())
    fail_next_put(azure, VNET, code="InvalidRequestFormat")
    assert_error(network.ensure_aks_network(aks_input()), "ResourceFailedState", transient=False)


def test_someone_elses_failed_vnet_is_refused_untouched(azure: Any) -> None:
    fail_next_put(azure, VNET)
    with pytest.raises(HttpResponseError):
        put_vnet(azure, "aks-vnet", "10.240.0.0/16", {"aks-nodes": "10.240.0.0/20"})
    before = len(azure.requests)

    error = assert_error(network.ensure_aks_network(aks_input()), "IncompatibleExistingResource")

    assert "aks-vnet" in error["message"] and "Failed" in error["message"]
    assert writes_after(azure, before) == []
    assert state_of(azure, rid(VNET, "aks-vnet")) == "Failed"


def test_preflight_reports_a_failed_vnet_before_any_write(azure: Any) -> None:
    fail_next_put(azure, VNET)
    with pytest.raises(HttpResponseError):
        put_vnet(azure, "hopsworks-vnet", "172.18.0.0/16", {"default": "172.18.0.0/24"})
    before = len(writes(azure))  # checkNameAvailability is a POST that only reads

    error = assert_error(resources.preflight(preflight_input()), "PreflightFailed")

    (problem,) = error["problems"]
    assert problem["code"] == "IncompatibleExistingResource"
    assert "hopsworks-vnet" in problem["message"] and "Failed" in problem["message"]
    assert len(writes(azure)) == before


# ---------------------------------------------------------------- subnet in an existing vnet


def test_own_subnet_left_failed_is_put_right(azure: Any) -> None:
    put_vnet(azure, "aks-vnet", "10.240.0.0/16", {"aks-nodes": "10.240.0.0/20"})
    fail_next_put(azure, SUBNET)
    first = network.ensure_aks_network(aks_input(subnets=WANTED_SUBNETS, existedBefore=[]))
    assert_error(first, RETRYABLE, transient=True)
    subnet_id = rid(VNET, "aks-vnet", "subnets", "hopsworks")
    assert state_of(azure, subnet_id) == "Failed"
    snapshot = [rid(VNET, "aks-vnet", "subnets", "aks-nodes")]
    before = len(azure.requests)

    again = assert_ok(network.ensure_aks_network(aks_input(subnets=WANTED_SUBNETS, existedBefore=snapshot)))

    assert [(r["type"], r["action"]) for r in again["resources"]] == [
        (VNET, "existing"),
        (SUBNET, "existing"),
        (SUBNET, "created"),
    ]
    assert writes_after(azure, before) == [("PUT", SUBNET)]
    assert state_of(azure, subnet_id) == "Succeeded"


def test_someone_elses_failed_subnet_is_refused_untouched(azure: Any) -> None:
    from azure.mgmt.network import NetworkManagementClient

    from simulator.testing import sdk_client

    put_vnet(azure, "aks-vnet", "10.240.0.0/16", {})
    fail_next_put(azure, SUBNET)
    with pytest.raises(HttpResponseError):
        sdk_client(NetworkManagementClient, azure).subnets.begin_create_or_update(
            RG, "aks-vnet", "aks-nodes", {"properties": {"addressPrefix": "10.240.0.0/20"}}
        ).result()
    before = len(azure.requests)

    error = assert_error(network.ensure_aks_network(aks_input()), "IncompatibleExistingResource")

    assert "'aks-nodes'" in error["message"] and "Failed" in error["message"]
    assert writes_after(azure, before) == []


# ---------------------------------------------------------------- peering


def test_own_peering_left_failed_is_put_right(azure: Any) -> None:
    aks_id, hops_id = make_both_vnets()
    side = peering_input("hopsworks-vnet", "hopsworks-vnet-to-aks-vnet", aks_id)
    fail_next_put(azure, PEERING)
    first = network.ensure_peering(side)
    assert_error(first, RETRYABLE, transient=True)
    (left,) = first["resources"]
    assert left["action"] == "created" and state_of(azure, left["id"]) == "Failed"
    before = len(azure.requests)

    again = assert_ok(network.ensure_peering(side))

    assert again["resources"] == [{"id": left["id"], "type": PEERING, "action": "created"}]
    assert writes_after(azure, before) == [("PUT", PEERING)]
    assert state_of(azure, left["id"]) == "Succeeded"
    other_side = assert_ok(
        network.ensure_peering(peering_input("aks-vnet", "aks-vnet-to-hopsworks-vnet", hops_id))
    )
    assert other_side["outputs"]["peeringState"] == "Connected"


def test_someone_elses_failed_peering_is_refused_untouched(azure: Any) -> None:
    put_vnet(azure, "aks-vnet", "10.240.0.0/16", {"aks-nodes": "10.240.0.0/20"})
    put_vnet(azure, "hopsworks-vnet", "172.18.0.0/16", {"default": "172.18.0.0/24"})
    side = peering_input("hopsworks-vnet", "hopsworks-vnet-to-aks-vnet", rid(VNET, "aks-vnet"))
    fail_next_put(azure, PEERING)
    assert_error(network.ensure_peering(side), RETRYABLE, transient=True)  # made by an earlier run
    peering_id = rid(VNET, "hopsworks-vnet", "virtualNetworkPeerings", "hopsworks-vnet-to-aks-vnet")
    before = len(azure.requests)

    error = assert_error(
        network.ensure_peering({**side, "existedBefore": [peering_id]}), "IncompatibleExistingResource"
    )

    assert "Failed" in error["message"]
    assert writes_after(azure, before) == []
    assert state_of(azure, peering_id) == "Failed"


# ---------------------------------------------------------------- private DNS zone link


def test_own_dns_link_left_failed_is_put_right_and_completed(
    azure: Any, cluster_zone: dict[str, str]
) -> None:
    fail_next_put(azure, LINK)
    first = privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"]))
    assert_error(first, RETRYABLE, transient=True)
    (left,) = first["resources"]
    assert left["action"] == "created" and state_of(azure, left["id"]) == "Failed"
    before = len(azure.requests)

    again = assert_ok(privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"])))

    assert again["resources"] == [{"id": left["id"], "type": LINK, "action": "created"}]
    assert writes_after(azure, before) == [("PUT", LINK)]
    body = azure.resource(left["id"])
    assert body["properties"]["provisioningState"] == "Succeeded"
    assert body["properties"]["virtualNetworkLinkState"] == "Completed"
    assert body["properties"]["registrationEnabled"] is False


def test_someone_elses_failed_dns_link_is_refused_untouched(azure: Any, cluster_zone: dict[str, str]) -> None:
    fail_next_put(azure, LINK)
    assert_error(
        privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"], run_id=OTHER_RUN_ID)),
        RETRYABLE,
        transient=True,
    )
    before = len(azure.requests)

    error = assert_error(
        privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"])), "IncompatibleExistingResource"
    )

    assert ZONE in error["message"] and "Failed" in error["message"]
    assert writes_after(azure, before) == []
    (link,) = [item for item in stored(azure, LINK) if item["name"] == "hopsworks-vnet-link"]
    assert link["properties"]["provisioningState"] == "Failed"
    assert NODE_RG in link["id"]


# ---------------------------------------------------------------- container registry


def test_own_registry_left_failed_is_put_right(azure: Any) -> None:
    fail_next_put(azure, REGISTRY)
    first = containerregistry.ensure_registry(registry_input())
    assert_error(first, RETRYABLE, transient=True)
    (left,) = first["resources"]
    assert state_of(azure, left["id"]) == "Failed"
    before = len(azure.requests)

    again = assert_ok(containerregistry.ensure_registry(registry_input()))

    assert again["resources"] == [{"id": left["id"], "type": REGISTRY, "action": "created"}]
    assert writes_after(azure, before) == [("PUT", REGISTRY)]
    (body,) = stored(azure, REGISTRY)
    assert body["properties"]["provisioningState"] == "Succeeded" and body["sku"]["name"] == "Premium"


def test_someone_elses_failed_registry_is_refused_untouched_and_preflight_says_so(azure: Any) -> None:
    fail_next_put(azure, REGISTRY)
    with pytest.raises(HttpResponseError):
        registries_client(azure).begin_create(
            RG, "hopsworksaks", {"location": "northeurope", "sku": {"name": "Premium"}}
        ).result()
    before = len(azure.requests)

    error = assert_error(containerregistry.ensure_registry(registry_input()), "IncompatibleExistingResource")
    assert "Failed" in error["message"]
    preflight = assert_error(resources.preflight(preflight_input()), "PreflightFailed")
    assert [p["target"] for p in preflight["problems"]] == ["container registry 'hopsworksaks'"]

    assert writes_after(azure, before) == []


# ---------------------------------------------------------------- AKS cluster


def test_own_cluster_failed_for_a_passing_reason_is_put_again(azure: Any, node_subnet: str) -> None:
    fail_next_put(azure, CLUSTER)
    assert_ok(containerservice.begin_aks_cluster(cluster_input(node_subnet)))
    for _ in range(20):
        read = containerservice.get_aks_cluster(common(name="hopsaks-cluster"))
        if not read["ok"]:
            break
    error = assert_error(read, RETRYABLE, transient=True)  # this run's, a retryable cause: begin again
    assert error["provisioningState"] == "Failed" and error["resourceId"].endswith("/hopsaks-cluster")
    before = len(azure.requests)

    again = assert_ok(containerservice.begin_aks_cluster(cluster_input(node_subnet)))

    assert again["resources"][0]["action"] == "created"
    assert again["outputs"]["provisioningState"] in ("Updating", "Creating")
    assert writes_after(azure, before) == [("PUT", CLUSTER)]
    assert wait_succeeded()["outputs"]["provisioningState"] == "Succeeded"


def test_someone_elses_failed_cluster_is_permanent_and_untouched(azure: Any, node_subnet: str) -> None:
    fail_next_put(azure, CLUSTER)
    assert_ok(containerservice.begin_aks_cluster(cluster_input(node_subnet, run_id=OTHER_RUN_ID)))
    for _ in range(20):
        if not containerservice.get_aks_cluster(common(name="hopsaks-cluster"))["ok"]:
            break
    before = len(azure.requests)

    assert_error(containerservice.get_aks_cluster(common(name="hopsaks-cluster")), RETRYABLE)
    assert_error(containerservice.begin_aks_cluster(cluster_input(node_subnet)), RETRYABLE)

    assert writes_after(azure, before) == []


def test_dns_link_not_completed_is_not_done(azure: Any, cluster_zone: dict[str, str]) -> None:
    """A link whose virtualNetworkLinkState is not Completed yet (its operation still running) is not taken
    as done: transient ResourceNotReady naming it; asked again once it is Completed, it is done."""
    azure.polls_to_complete = 4  # the link's PUT stays InProgress for a few reads
    from azure.mgmt.privatedns import PrivateDnsManagementClient

    from simulator.testing import sdk_client

    links = sdk_client(PrivateDnsManagementClient, azure).virtual_network_links
    links.begin_create_or_update(
        NODE_RG,
        ZONE,
        "by-hand",
        {
            "location": "global",
            "properties": {"virtualNetwork": {"id": cluster_zone["hopsworks"]}, "registrationEnabled": False},
        },
        polling=False,
    )

    result = privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"]))
    error = assert_error(result, "ResourceNotReady", transient=True)
    assert error["resourceId"].endswith("/virtualNetworkLinks/by-hand")
    for _ in range(10):
        links.get(NODE_RG, ZONE, "by-hand")  # a read moves its operation on (deterministic mode)
        result = privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"]))
        if result["ok"]:
            break
    assert result["outputs"]["id"].endswith("/virtualNetworkLinks/by-hand")
    assert result["resources"][0]["action"] == "existing"
