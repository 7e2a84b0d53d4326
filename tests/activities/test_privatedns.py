"""ensure_dns_zone_link against the simulated Private DNS provider (a zone as AKS leaves it)."""

from __future__ import annotations

from typing import Any

import pytest

from activities import network, privatedns
from simulator.providers.privatedns import create_system_link, create_system_zone
from tests.activities.helpers import (
    INSTANCE_ID,
    LOCATION,
    OTHER_RUN_ID,
    RUN_ID,
    SUB,
    assert_error,
    assert_ok,
    common,
    stored,
    writes_after,
)

LINK = "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
NODE_RG = "MC_hopsworks-rg_hopsaks-cluster_northeurope"
ZONE = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0.privatelink.northeurope.azmk8s.io"
FQDN = f"hopsaks-cluster-abc123de.{ZONE}"


@pytest.fixture
def cluster_zone(azure: Any) -> dict[str, str]:
    """What a private AKS cluster leaves: its node RG, the system zone, AKS's own link to the AKS vnet; plus
    the Hopsworks vnet the setup made."""
    azure.add_resource_group(SUB, NODE_RG, LOCATION)
    aks_vnet = assert_ok(
        network.ensure_aks_network(
            common(
                vnetName="aks-vnet",
                addressSpace="10.240.0.0/16",
                subnets=[{"name": "nodes", "prefix": "10.240.0.0/20"}],
            )
        )
    )["outputs"]["vnetId"]
    hops_vnet = assert_ok(
        network.ensure_hopsworks_network(
            common(
                vnetName="hopsworks-vnet",
                addressSpace="172.18.0.0/16",
                subnetName="default",
                subnetPrefix="172.18.0.0/24",
            )
        )
    )["outputs"]["vnetId"]
    zone = create_system_zone(azure.arm, SUB, NODE_RG, ZONE)
    create_system_link(azure.arm, zone, "aks-link", aks_vnet)
    return {"aks": aks_vnet, "hopsworks": hops_vnet}


def link_input(vnet_id: str, run_id: str = RUN_ID, **overrides: Any) -> dict[str, Any]:
    fields = {
        "nodeResourceGroup": NODE_RG,
        "privateFqdn": FQDN,
        "vnetId": vnet_id,
        "linkName": "hopsworks-vnet-link",
    }
    fields.update(overrides)
    return common(run_id, **fields)


def our_links(azure: Any, vnet_id: str) -> list[dict[str, Any]]:
    return [
        link
        for link in stored(azure, LINK)
        if link["properties"]["virtualNetwork"]["id"].casefold() == vnet_id.casefold()
    ]


def test_link_created_global_without_registration(azure: Any, cluster_zone: dict[str, str]) -> None:
    result = assert_ok(privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"])))

    assert result["outputs"]["zoneName"] == ZONE
    assert result["outputs"]["id"].endswith(
        f"/privateDnsZones/{ZONE}/virtualNetworkLinks/hopsworks-vnet-link"
    )
    assert result["resources"] == [{"id": result["outputs"]["id"], "type": LINK, "action": "created"}]
    (link,) = our_links(azure, cluster_zone["hopsworks"])
    assert link["location"] == "global"
    assert link["properties"]["registrationEnabled"] is False
    assert link["tags"] == {
        "owner": "platform",
        "hopsworks-setup": INSTANCE_ID,
        "hopsworks-setup-run": RUN_ID,
    }


def test_link_rerun_finds_it_and_adds_no_second(azure: Any, cluster_zone: dict[str, str]) -> None:
    first = assert_ok(privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"])))
    before = len(azure.requests)

    same = assert_ok(privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"])))
    other = assert_ok(
        privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"], run_id=OTHER_RUN_ID))
    )

    assert same["outputs"] == other["outputs"] == first["outputs"]
    assert same["resources"][0]["action"] == "created" and other["resources"][0]["action"] == "existing"
    assert writes_after(azure, before) == []
    assert len(our_links(azure, cluster_zone["hopsworks"])) == 1


def test_link_made_by_hand_under_another_name_is_adopted(azure: Any, cluster_zone: dict[str, str]) -> None:
    assert_ok(privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"], linkName="by-hand")))
    before = len(azure.requests)

    result = assert_ok(
        privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"], run_id=OTHER_RUN_ID))
    )

    assert result["outputs"]["id"].endswith("/virtualNetworkLinks/by-hand")
    assert result["resources"][0]["action"] == "existing"
    assert writes_after(azure, before) == []


def test_deleted_link_is_put_back(azure: Any, cluster_zone: dict[str, str]) -> None:
    first = assert_ok(privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"])))
    from azure.mgmt.privatedns import PrivateDnsManagementClient

    from simulator.testing import sdk_client

    client = sdk_client(PrivateDnsManagementClient, azure, SUB)
    client.virtual_network_links.begin_delete(NODE_RG, ZONE, "hopsworks-vnet-link").result()
    assert our_links(azure, cluster_zone["hopsworks"]) == []

    again = assert_ok(
        privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"], run_id=OTHER_RUN_ID))
    )
    assert again["outputs"]["id"] == first["outputs"]["id"]
    assert again["resources"][0]["action"] == "created"
    assert len(our_links(azure, cluster_zone["hopsworks"])) == 1


def test_registration_turned_on_by_hand_is_put_back(azure: Any, cluster_zone: dict[str, str]) -> None:
    assert_ok(privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"])))
    from azure.mgmt.privatedns import PrivateDnsManagementClient, models

    from simulator.testing import sdk_client

    client = sdk_client(PrivateDnsManagementClient, azure, SUB)
    client.virtual_network_links.begin_create_or_update(
        NODE_RG,
        ZONE,
        "hopsworks-vnet-link",
        models.VirtualNetworkLink(
            location="global",
            properties=models.VirtualNetworkLinkProperties(
                virtual_network=models.SubResource(id=cluster_zone["hopsworks"]), registration_enabled=True
            ),
        ),
    ).result()
    before = len(azure.requests)

    assert_ok(privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"])))

    assert writes_after(azure, before) == [("PUT", LINK)]
    (link,) = our_links(azure, cluster_zone["hopsworks"])
    assert link["properties"]["registrationEnabled"] is False


def test_zone_found_by_listing_when_no_fqdn(azure: Any, cluster_zone: dict[str, str]) -> None:
    result = assert_ok(
        privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"], privateFqdn=None))
    )
    assert result["outputs"]["zoneName"] == ZONE


def test_missing_zone_is_a_permanent_error(azure: Any, cluster_zone: dict[str, str]) -> None:
    error = assert_error(
        privatedns.ensure_dns_zone_link(
            link_input(cluster_zone["hopsworks"], privateFqdn="x.nozone.example.com")
        ),
        "PrivateDnsZoneNotFound",
    )
    assert NODE_RG in error["message"] and "nozone.example.com" in error["message"]


def test_our_link_name_on_another_vnet_is_refused(azure: Any, cluster_zone: dict[str, str]) -> None:
    # "aks-link" is the link AKS made for its own vnet
    error = assert_error(
        privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"], linkName="aks-link")),
        "IncompatibleExistingResource",
    )
    assert "aks-link" in error["message"]


def test_link_write_throttled_is_retried_by_the_sdk(azure: Any, cluster_zone: dict[str, str]) -> None:
    azure.add_fault(method="PUT", path="/virtualNetworkLinks/", status=429, retry_after=1, count=1)
    result = assert_ok(privatedns.ensure_dns_zone_link(link_input(cluster_zone["hopsworks"])))
    assert result["resources"][0]["action"] == "created"
