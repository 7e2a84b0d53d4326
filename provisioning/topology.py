"""The two network topologies of the guide, and everything that differs between them, decided here once.

- `peering` (the guide's Option A): Hopsworks gets its own virtual network, peered with the AKS vnet in both
  directions, and the cluster's private DNS zone is linked to it.
- `subnet`: Hopsworks gets a subnet in the AKS vnet; no second vnet, no peering, no DNS link.

A `Topology` says which steps run (with what each needs, for the status and the benchmark's bound), which
subnets the AKS vnet gets, which permissions preflight checks, and where the Hopsworks cluster goes (the
values entered in hopsworks.ai). Everything else asks `topology.of(request["topology"])`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from provisioning import roles
from provisioning.contracts import SubnetSpec

PEERING = "peering"
SUBNET = "subnet"
NAMES = (PEERING, SUBNET)


@dataclass(frozen=True)
class Step:
    """One step of the guide as the custom status shows it, with the steps whose results it needs."""

    name: str
    needs: tuple[str, ...]
    guide_step: str


_COMMON_STEPS = (
    Step("preflight", (), "check the resource group, names and permissions before creating anything"),
    Step("identity", ("preflight",), "user assigned managed identity"),
    Step("identity_roles", ("identity",),
         "add role assignments to the managed identity: AcrPull, AcrPush, AcrDelete, AKS Cluster User"),
    Step("aks_network", ("preflight",),
         "AKS networking: Azure CNI in a virtual network of the resource group"),
    Step("aks_cluster", ("aks_network",), "Step 1: create the private AKS cluster"),
    Step("aks_network_role", ("aks_cluster",), "Network Contributor for the cluster identity on its vnet"),
    Step("acr", ("preflight",), "Step 2: create the Premium container registry"),
    Step("acr_retention", ("acr",), "Step 2: retention policy for untagged manifests"),
    Step("acr_pull", ("acr", "aks_cluster"), "Step 2: integrate the registry with AKS (AcrPull for kubelet)"),
)
_PEERING_STEPS = (
    Step("hopsworks_network", ("preflight",), "Option A: a virtual network and subnet for Hopsworks"),
    # Both sides after the cluster is ready: AKS writes into its vnet while it creates the cluster, and a
    # peering write there then can fail the cluster's create for good (AnotherOperationInProgress).
    Step("peering", ("aks_network", "hopsworks_network", "aks_cluster"),
         "Option A: peer the Hopsworks and AKS virtual networks in both directions"),
    Step("dns_link", ("aks_cluster", "hopsworks_network"),
         "Option A: link the cluster's private DNS zone to the Hopsworks virtual network"),
)


@dataclass(frozen=True)
class Topology:
    name: str
    steps: tuple[Step, ...]  # in a dependency order: each step after everything it needs
    # The guide's Option A: a Hopsworks vnet of its own, peered with the AKS vnet, with the DNS zone linked.
    separate_hopsworks_network: bool

    @property
    def step_names(self) -> tuple[str, ...]:
        return tuple(step.name for step in self.steps)

    def step(self, name: str) -> Step:
        return next(step for step in self.steps if step.name == name)

    def aks_subnets(self, request: Mapping[str, Any]) -> list[SubnetSpec]:
        """The subnets the AKS vnet gets: the nodes', plus Hopsworks' own in topology subnet."""
        aks = request["aks"]
        subnets = [SubnetSpec(name=aks["nodeSubnetName"], prefix=aks["nodeSubnetPrefix"])]
        if not self.separate_hopsworks_network:
            block = request["hopsworksSubnet"]
            subnets.append(SubnetSpec(name=block["name"], prefix=block["prefix"]))
        return subnets

    def hopsworks_placement(self, request: Mapping[str, Any]) -> tuple[str, str]:
        """(virtual network, subnet) the Hopsworks cluster goes into."""
        if self.separate_hopsworks_network:
            network = request["hopsworksNetwork"]
            return network["vnetName"], network["subnetName"]
        return request["aks"]["vnetName"], request["hopsworksSubnet"]["name"]

    def required_actions(self) -> list[str]:
        """What the app's identity must be allowed on the resource group (preflight checks them): Option A
        also writes peerings on the Hopsworks vnet and reads the cluster's node resource group."""
        actions = list(roles.RESOURCE_GROUP_ACTIONS)
        if self.separate_hopsworks_network:
            actions.extend(roles.PEERING_RESOURCE_GROUP_ACTIONS)
        return actions


_TOPOLOGIES = {
    PEERING: Topology(PEERING, _COMMON_STEPS + _PEERING_STEPS, separate_hopsworks_network=True),
    SUBNET: Topology(SUBNET, _COMMON_STEPS, separate_hopsworks_network=False),
}


def of(name: str) -> Topology:
    """The topology called `name` (a normalized request's `topology`)."""
    try:
        return _TOPOLOGIES[name]
    except KeyError:
        raise ValueError(f"topology must be one of {', '.join(NAMES)}, not {name!r}") from None
