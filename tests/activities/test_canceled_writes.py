"""A write whose operation ends Canceled (issue #9 section 1), against the simulated Azure with the real SDK
clients: the first answer is transient (the orchestrator retries it, it does not roll back), the resource is
this run's and left Canceled; the retry PUTs the wanted body again and answers done with the resource
Succeeded. A Canceled that keeps happening answers ResourceFailedState naming the resource, still transient,
so the orchestrator's retry budget decides when the step fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from activities import containerregistry, containerservice, network, privatedns
from tests.activities.helpers import assert_error, assert_ok, common, writes_after
from tests.activities.test_containerregistry import registry_input
from tests.activities.test_containerservice import CLUSTER, cluster_input, node_subnet, wait_succeeded
from tests.activities.test_failed_states import REGISTRY, WANTED_SUBNETS, state_of
from tests.activities.test_network import (
    PEERING,
    SUBNET,
    VNET,
    aks_input,
    make_both_vnets,
    peering_input,
    put_vnet,
)
from tests.activities.test_privatedns import LINK, cluster_zone, link_input

__all__ = ["cluster_zone", "node_subnet"]  # fixtures used by name below


@dataclass(frozen=True)
class Case:
    resource_type: str
    prepare: Callable[[Any], None]
    ensure: Callable[[], dict[str, Any]]


def _nothing(azure: Any) -> None:
    return None


def _aks_vnet_exists(azure: Any) -> None:
    put_vnet(azure, "aks-vnet", "10.240.0.0/16", {"aks-nodes": "10.240.0.0/20"})


def _both_vnets(azure: Any) -> None:
    make_both_vnets()


def _peering() -> dict[str, Any]:
    from tests.activities.helpers import rid

    return network.ensure_peering(
        peering_input("hopsworks-vnet", "hopsworks-vnet-to-aks-vnet", rid(VNET, "aks-vnet"))
    )


CASES = [
    pytest.param(
        Case(VNET, _nothing, lambda: network.ensure_aks_network(aks_input(subnets=WANTED_SUBNETS))), id="vnet"
    ),
    pytest.param(
        Case(
            SUBNET,
            _aks_vnet_exists,
            lambda: network.ensure_aks_network(aks_input(subnets=WANTED_SUBNETS, existedBefore=[])),
        ),
        id="subnet",
    ),
    pytest.param(Case(PEERING, _both_vnets, _peering), id="peering"),
    pytest.param(
        Case(REGISTRY, _nothing, lambda: containerregistry.ensure_registry(registry_input())), id="registry"
    ),
]


def cancel_next_put(azure: Any, resource_type: str) -> None:
    azure.add_fault(method="PUT", resource_type=resource_type, kind="lro_canceled")


def left_canceled(result: dict[str, Any], azure: Any, resource_type: str) -> str:
    """The first answer: transient Canceled, the resource reported as this run's and left Canceled."""
    assert_error(result, "Canceled", transient=True)
    (left,) = [r for r in result["resources"] if r["type"] == resource_type]
    assert left["action"] == "created"
    assert state_of(azure, left["id"]) == "Canceled"
    return left["id"]


@pytest.mark.parametrize("case", CASES)
def test_a_write_canceled_once_is_put_right_by_the_retry(azure: Any, case: Case) -> None:
    case.prepare(azure)
    cancel_next_put(azure, case.resource_type)
    left = left_canceled(case.ensure(), azure, case.resource_type)
    before = len(azure.requests)

    again = assert_ok(case.ensure())

    assert ("PUT", case.resource_type) in writes_after(azure, before)
    assert state_of(azure, left) == "Succeeded"
    assert left.casefold() in {r["id"].casefold() for r in again["resources"]}


@pytest.mark.parametrize("case", CASES)
def test_a_write_canceled_again_names_the_resource_and_stays_retryable(azure: Any, case: Case) -> None:
    case.prepare(azure)
    cancel_next_put(azure, case.resource_type)
    left = left_canceled(case.ensure(), azure, case.resource_type)
    cancel_next_put(azure, case.resource_type)

    result = case.ensure()

    error = assert_error(result, "ResourceFailedState", transient=True)
    assert error["resourceId"].casefold() == left.casefold()
    assert left.casefold() in error["message"].casefold() and "Canceled" in error["message"]
    assert left.casefold() in {r["id"].casefold() for r in result["resources"]}  # rollback still sees it
    assert state_of(azure, left) == "Canceled"


def test_dns_link_canceled_once_is_put_right_and_completed(azure: Any, cluster_zone: dict[str, str]) -> None:
    cancel_next_put(azure, LINK)
    left = left_canceled(privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"])), azure, LINK)
    before = len(azure.requests)

    assert_ok(privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"])))

    assert writes_after(azure, before) == [("PUT", LINK)]
    assert azure.resource(left)["properties"]["provisioningState"] == "Succeeded"
    assert azure.resource(left)["properties"]["virtualNetworkLinkState"] == "Completed"


def test_dns_link_canceled_again_is_resource_failed_state(azure: Any, cluster_zone: dict[str, str]) -> None:
    cancel_next_put(azure, LINK)
    left = left_canceled(privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"])), azure, LINK)
    cancel_next_put(azure, LINK)

    error = assert_error(
        privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"])), "ResourceFailedState", True
    )

    assert error["resourceId"].casefold() == left.casefold()


def test_cluster_canceled_is_put_again(azure: Any, node_subnet: str) -> None:
    """The cluster's create is begun without waiting (polling=False): get_aks_cluster reads it Canceled,
    transient for this run's own, and begin_aks_cluster PUTs it again."""
    cancel_next_put(azure, CLUSTER)
    assert_ok(containerservice.begin_aks_cluster(cluster_input(node_subnet)))
    for _ in range(20):
        read = containerservice.get_aks_cluster(common(name="hopsaks-cluster"))
        if not read["ok"]:
            break
    error = assert_error(read, "Canceled", transient=True)
    assert error["provisioningState"] == "Canceled"
    before = len(azure.requests)

    assert_ok(containerservice.begin_aks_cluster(cluster_input(node_subnet)))

    assert writes_after(azure, before) == [("PUT", CLUSTER)]
    assert wait_succeeded()["outputs"]["provisioningState"] == "Succeeded"
