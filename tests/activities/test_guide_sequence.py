"""The activities chained as the step plan chains them (topology peering), then the same run again: each
output feeds the next input, the second pass writes nothing and reports everything `existing`."""

from __future__ import annotations

from typing import Any

from activities import (
    authorization,
    containerregistry,
    containerservice,
    msi,
    network,
    privatedns,
    resources,
)
from provisioning import naming, roles
from tests.activities.helpers import OTHER_RUN_ID, RG, RUN_ID, SUB, assert_ok, common, writes_after
from tests.activities.test_preflight import preflight_input


def run_guide(run_id: str) -> list[dict[str, Any]]:
    """Every activity of a peering setup, in dependency order; returns every reported resource."""
    reported: list[dict[str, Any]] = []

    def step(result: dict[str, Any]) -> dict[str, Any]:
        assert_ok(result)
        reported.extend(result["resources"])
        return result["outputs"]

    def c(**fields: Any) -> dict[str, Any]:
        return common(run_id, **fields)

    location = step(resources.preflight(preflight_input()))["location"]
    assert location == "northeurope"
    identity = step(msi.ensure_identity(c(name="hopsworks-identity")))
    scope = naming.resource_group_scope(SUB, RG)
    for role in roles.IDENTITY_ROLES:
        step(
            authorization.ensure_role_assignment(
                c(
                    scope=scope,
                    roleDefinitionGuid=role.guid,
                    principalId=identity["principalId"],
                    principalType="ServicePrincipal",
                )
            )
        )
    aks_net = step(
        network.ensure_aks_network(
            c(
                vnetName="aks-vnet",
                addressSpace="10.240.0.0/16",
                subnets=[{"name": "aks-nodes", "prefix": "10.240.0.0/20"}],
            )
        )
    )
    step(
        containerservice.begin_aks_cluster(
            c(
                name="hopsaks-cluster",
                nodeSubnetId=aks_net["subnetIds"]["aks-nodes"],
                serviceCidr="10.0.0.0/16",
                dnsServiceIp="10.0.0.10",
                nodeCount=1,
                vmSize="Standard_D4s_v5",
                kubernetesVersion=None,
            )
        )
    )
    for _ in range(20):
        cluster = step(containerservice.get_aks_cluster(c(name="hopsaks-cluster")))
        if cluster["provisioningState"] == "Succeeded":
            break
    step(
        authorization.ensure_role_assignment(
            c(
                scope=aks_net["vnetId"],
                roleDefinitionGuid=roles.NETWORK_CONTRIBUTOR.guid,
                principalId=cluster["principalId"],
                principalType="ServicePrincipal",
            )
        )
    )
    registry = step(containerregistry.ensure_registry(c(name="hopsworksaks")))
    step(containerregistry.ensure_retention_policy(c(name="hopsworksaks", days=7)))
    step(
        authorization.ensure_role_assignment(
            c(
                scope=registry["id"],
                roleDefinitionGuid=roles.ACR_PULL.guid,
                principalId=cluster["kubeletObjectId"],
                principalType="ServicePrincipal",
            )
        )
    )
    hops_net = step(
        network.ensure_hopsworks_network(
            c(
                vnetName="hopsworks-vnet",
                addressSpace="172.18.0.0/16",
                subnetName="default",
                subnetPrefix="172.18.0.0/24",
            )
        )
    )
    on_hops, on_aks = naming.peering_names("hopsworks-vnet", "aks-vnet")
    step(
        network.ensure_peering(
            c(vnetName="hopsworks-vnet", peeringName=on_hops, remoteVnetId=aks_net["vnetId"])
        )
    )
    peering = step(
        network.ensure_peering(c(vnetName="aks-vnet", peeringName=on_aks, remoteVnetId=hops_net["vnetId"]))
    )
    assert peering["peeringState"] == "Connected"
    step(
        privatedns.ensure_dns_zone_link(
            c(
                nodeResourceGroup=cluster["nodeResourceGroup"],
                privateFqdn=cluster["privateFqdn"],
                vnetId=hops_net["vnetId"],
                linkName=naming.dns_link_name("hopsworks-vnet"),
            )
        )
    )
    return reported


def test_whole_guide_then_a_second_run_creates_nothing(azure: Any) -> None:
    first = run_guide(RUN_ID)
    assert {r["action"] for r in first} == {"created"}
    # identity, 6 role assignments, 2 vnets with a subnet each, cluster, registry, 2 peerings, DNS link
    assert len(first) == 16
    before = len(azure.requests)

    second = run_guide(OTHER_RUN_ID)

    assert {r["action"] for r in second} == {"existing"}
    assert sorted(r["id"].casefold() for r in second) == sorted(r["id"].casefold() for r in first)
    assert writes_after(azure, before) == []
