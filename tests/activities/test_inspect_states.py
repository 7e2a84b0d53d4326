"""The plan's reads (inspect_* activities) carry each resource's provisioningState, so the plan can call one
an earlier operation left Failed or Canceled a conflict (provisioning/plan_diff.py): the DNS link (with its
virtualNetworkLinkState), the peering and the registry, read with the real SDK clients."""

from __future__ import annotations

from typing import Any

from activities import containerregistry, network, privatedns
from tests.activities.helpers import OTHER_RUN_ID, assert_error, assert_ok, common, rid
from tests.activities.test_canceled_writes import cancel_next_put
from tests.activities.test_containerregistry import registry_input
from tests.activities.test_failed_states import REGISTRY, fail_next_put
from tests.activities.test_network import PEERING, VNET, make_both_vnets, peering_input
from tests.activities.test_privatedns import LINK, NODE_RG, ZONE, cluster_zone, link_input

__all__ = ["cluster_zone"]  # fixture used by name below


def test_dns_links_carry_their_states(azure: Any, cluster_zone: dict[str, str]) -> None:
    fail_next_put(azure, LINK)
    assert_error(
        privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"], run_id=OTHER_RUN_ID)),
        "InternalServerError",
        transient=True,
    )

    answer = assert_ok(privatedns.inspect_dns_links(common(nodeResourceGroup=NODE_RG, privateFqdn=None)))

    assert answer["outputs"]["zoneName"] == ZONE
    states = {
        link["name"]: (link["provisioningState"], link["virtualNetworkLinkState"])
        for link in answer["outputs"]["links"]
    }
    assert states["aks-link"] == ("Succeeded", "Completed")
    assert states["hopsworks-vnet-link"][0] == "Failed"


def test_peerings_carry_their_state(azure: Any) -> None:
    aks_id, _ = make_both_vnets()
    cancel_next_put(azure, PEERING)
    network.ensure_peering(peering_input("hopsworks-vnet", "hopsworks-vnet-to-aks-vnet", aks_id))

    answer = assert_ok(network.inspect_vnet(common(vnetName="hopsworks-vnet")))

    (peering,) = answer["outputs"]["peerings"]
    assert (
        peering["id"].casefold()
        == rid(VNET, "hopsworks-vnet", "virtualNetworkPeerings", "hopsworks-vnet-to-aks-vnet").casefold()
    )
    assert peering["provisioningState"] == "Canceled"


def test_registry_carries_its_state(azure: Any) -> None:
    fail_next_put(azure, REGISTRY)
    containerregistry.ensure_registry(registry_input())

    answer = assert_ok(containerregistry.inspect_registry(common(name="hopsworksaks")))

    assert answer["outputs"]["exists"] is True and answer["outputs"]["provisioningState"] == "Failed"
