"""What a setup target consists of, and how plan and teardown read it: pure, no SDK or Functions imports.

A *target* is a normalized SetupRequest (subscription, resource group, AKS name, topology, names). Plan and
teardown read the same things, with the same read-only `inspect_*` activities, in two rounds: the first needs
only the request (identity, vnets, cluster, registry), the second needs principals and the node resource group
the first found (role assignments, the DNS zone link). The answers are kept as *facts*: `{name: outputs}`.

Instance ids: one run per target across kinds. Setups run under `naming.instance_id(...)` ("setup-<uuid>"),
teardowns under "teardown-<same uuid>", and the durable record of what setups for the target created under
"setuprecord-<same uuid>".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from provisioning import contracts as c
from provisioning import naming, roles, topology

IDENTITY = "Microsoft.ManagedIdentity/userAssignedIdentities"
ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
VNET = "Microsoft.Network/virtualNetworks"
SUBNET = "Microsoft.Network/virtualNetworks/subnets"
PEERING = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
CLUSTER = "Microsoft.ContainerService/managedClusters"
REGISTRY = "Microsoft.ContainerRegistry/registries"
DNS_LINK = "Microsoft.Network/privateDnsZones/virtualNetworkLinks"

SETUP = "setup"
TEARDOWN = "teardown"
RECORD = "setuprecord"
KINDS = (SETUP, TEARDOWN)

# Fact names (keys of the facts mapping) and the activity that reads each.
F_IDENTITY = "identity"
F_AKS_VNET = "aksVnet"
F_HOPSWORKS_VNET = "hopsworksVnet"
F_CLUSTER = "cluster"
F_REGISTRY = "registry"
F_ROLE_ASSIGNMENTS = "roleAssignments"
F_DNS_LINKS = "dnsLinks"


def instance_ids(setup_instance_id: str) -> dict[str, str]:
    """{kind: instance id} for setup, teardown and the record of one target."""
    key = setup_instance_id.split("-", 1)[1]
    return {kind: f"{kind}-{key}" for kind in (SETUP, TEARDOWN, RECORD)}


# ---------------------------------------------------------------- the target's names and ids


class WantedVnet(NamedTuple):
    fact: str
    name: str
    id: str
    address_space: str
    subnets: list[tuple[str, str]]  # (name, prefix)


@dataclass(frozen=True)
class Target:
    request: Mapping[str, Any]

    @property
    def subscription_id(self) -> str:
        return str(self.request["subscriptionId"])

    @property
    def resource_group(self) -> str:
        return str(self.request["resourceGroup"])

    @property
    def aks(self) -> Mapping[str, Any]:
        return self.request["aks"]

    @property
    def hopsworks_network(self) -> Mapping[str, Any] | None:
        separate = topology.of(self.request["topology"]).separate_hopsworks_network
        return self.request.get("hopsworksNetwork") if separate else None

    def rid(self, provider_type: str, name: str, *children: str) -> str:
        return naming.resource_id(self.subscription_id, self.resource_group, provider_type, name, *children)

    @property
    def identity_id(self) -> str:
        return self.rid(IDENTITY, self.request["identity"]["name"])

    @property
    def aks_vnet_id(self) -> str:
        return self.rid(VNET, self.aks["vnetName"])

    @property
    def hopsworks_vnet_id(self) -> str | None:
        network = self.hopsworks_network
        return self.rid(VNET, network["vnetName"]) if network else None

    @property
    def cluster_id(self) -> str:
        return self.rid(CLUSTER, self.aks["name"])

    @property
    def registry_id(self) -> str:
        return self.rid(REGISTRY, self.request["acr"]["name"])

    @property
    def identity_role_scope(self) -> str:
        return naming.identity_role_scope(
            self.subscription_id,
            self.resource_group,
            self.request["identity"].get("roleScope", "resourceGroup"),
        )

    def aks_subnets(self) -> list[tuple[str, str]]:
        """(name, prefix) of the subnets the setup wants in the AKS vnet."""
        return [
            (subnet.name, subnet.prefix)
            for subnet in topology.of(self.request["topology"]).aks_subnets(self.request)
        ]

    def hopsworks_subnets(self) -> list[tuple[str, str]]:
        network = self.hopsworks_network
        return [(network["subnetName"], network["subnetPrefix"])] if network else []

    def vnets(self) -> list[WantedVnet]:
        """The AKS vnet, then the Hopsworks vnet (topology peering)."""
        wanted = [(F_AKS_VNET, self.aks, self.aks_subnets())]
        if self.hopsworks_network:
            wanted.append((F_HOPSWORKS_VNET, self.hopsworks_network, self.hopsworks_subnets()))
        return [
            WantedVnet(
                fact, spec["vnetName"], self.rid(VNET, spec["vnetName"]), spec["addressSpace"], subnets
            )
            for fact, spec, subnets in wanted
        ]

    def peerings(self) -> list[tuple[str, str, str]]:
        """(fact of the vnet it is on, peering name, remote vnet id): Hopsworks->AKS, then AKS->Hopsworks."""
        network = self.hopsworks_network
        if not network:
            return []
        on_hopsworks, on_aks = naming.peering_names(network["vnetName"], self.aks["vnetName"])
        return [
            (F_HOPSWORKS_VNET, on_hopsworks, self.aks_vnet_id),
            (F_AKS_VNET, on_aks, str(self.hopsworks_vnet_id)),
        ]

    @property
    def dns_link_name(self) -> str | None:
        network = self.hopsworks_network
        return naming.dns_link_name(network["vnetName"]) if network else None


# ---------------------------------------------------------------- role assignments the setup makes


@dataclass(frozen=True)
class WantedAssignment:
    """One role assignment of the guide: `principal` names whose principal gets it (identity, cluster,
    kubelet); `principal_id` is None while that principal does not exist yet."""

    role: roles.BuiltInRole
    scope: str
    principal: str
    principal_id: str | None

    @property
    def label(self) -> str:
        return f"{self.role.name} for the {self.principal}"

    @property
    def id(self) -> str:
        """The id the setup gives it (a deterministic name), or a stand-in while the principal is unknown."""
        base = f"{self.scope.rstrip('/')}/providers/{ROLE_ASSIGNMENT}/"
        if self.principal_id:
            return base + naming.role_assignment_name(self.scope, self.role.guid, self.principal_id)
        return base + f"<{self.label}>"


def wanted_assignments(target: Target, facts: Mapping[str, Mapping[str, Any]]) -> list[WantedAssignment]:
    """The identity's four guide roles, Network Contributor for the cluster on its vnet, AcrPull for the
    kubelet identity on the registry; principals from the facts of the first round."""
    identity = facts.get(F_IDENTITY) or {}
    cluster = facts.get(F_CLUSTER) or {}
    identity_principal = identity.get("principalId") if identity.get("exists") else None
    cluster_principal = cluster.get("principalId") if cluster.get("exists") else None
    kubelet = cluster.get("kubeletObjectId") if cluster.get("exists") else None
    return [
        *(
            WantedAssignment(role, target.identity_role_scope, "managed identity", identity_principal)
            for role in roles.IDENTITY_ROLES
        ),
        WantedAssignment(roles.NETWORK_CONTRIBUTOR, target.aks_vnet_id, "cluster", cluster_principal),
        WantedAssignment(roles.ACR_PULL, target.registry_id, "kubelet identity", kubelet),
    ]


# ---------------------------------------------------------------- the two rounds of reads


@dataclass(frozen=True, kw_only=True)
class InspectIdentityInput(c.ActivityInput):
    NAME: ClassVar[str] = "inspect_identity"
    name: str


@dataclass(frozen=True, kw_only=True)
class InspectVnetInput(c.ActivityInput):
    NAME: ClassVar[str] = "inspect_vnet"
    vnet_name: str


@dataclass(frozen=True, kw_only=True)
class InspectClusterInput(c.ActivityInput):
    NAME: ClassVar[str] = "inspect_cluster"
    name: str


@dataclass(frozen=True, kw_only=True)
class InspectRegistryInput(c.ActivityInput):
    NAME: ClassVar[str] = "inspect_registry"
    name: str
    check_name: bool = False  # absent: ask whether the global name is free (a POST that only reads)


@dataclass(frozen=True, kw_only=True)
class InspectRoleAssignmentsInput(c.ActivityInput):
    NAME: ClassVar[str] = "inspect_role_assignments"
    assignments: list[dict[str, Any]]  # [{scope, roleDefinitionGuid, principalId}]


@dataclass(frozen=True, kw_only=True)
class InspectDnsLinksInput(c.ActivityInput):
    NAME: ClassVar[str] = "inspect_dns_links"
    node_resource_group: str
    private_fqdn: str | None = None


@dataclass(frozen=True)
class Inspection:
    fact: str
    input: c.ActivityInput

    @property
    def activity(self) -> str:
        return self.input.NAME


def common(target: Target, run_id: str, instance_id: str) -> c.Common:
    """The fields every activity input carries; `run_id` is the teardown's own (or "plan")."""
    return c.Common(
        subscription_id=target.subscription_id,
        resource_group=target.resource_group,
        location=target.request.get("location"),
        run_id=run_id,
        instance_id=instance_id,
    )


def first_inspections(
    target: Target, base: c.Common, *, check_registry_name: bool = False
) -> list[Inspection]:
    fields, request = base.fields(), target.request
    return [
        Inspection(F_IDENTITY, InspectIdentityInput(**fields, name=request["identity"]["name"])),
        *(Inspection(vnet.fact, InspectVnetInput(**fields, vnet_name=vnet.name)) for vnet in target.vnets()),
        Inspection(F_CLUSTER, InspectClusterInput(**fields, name=target.aks["name"])),
        Inspection(
            F_REGISTRY,
            InspectRegistryInput(**fields, name=request["acr"]["name"], check_name=check_registry_name),
        ),
    ]


def second_inspections(
    target: Target, base: c.Common, facts: Mapping[str, Mapping[str, Any]]
) -> list[Inspection]:
    """Role assignments whose principal exists, and the cluster's DNS zone links (topology peering)."""
    fields, cluster = base.fields(), facts.get(F_CLUSTER) or {}
    known = [
        {"scope": w.scope, "roleDefinitionGuid": w.role.guid, "principalId": w.principal_id}
        for w in wanted_assignments(target, facts)
        if w.principal_id
    ]
    inspections = []
    if known:
        inspections.append(
            Inspection(F_ROLE_ASSIGNMENTS, InspectRoleAssignmentsInput(**fields, assignments=known))
        )
    if target.hopsworks_network and cluster.get("exists") and cluster.get("nodeResourceGroup"):
        links = InspectDnsLinksInput(
            **fields,
            node_resource_group=cluster["nodeResourceGroup"],
            private_fqdn=cluster.get("privateFqdn"),
        )
        inspections.append(Inspection(F_DNS_LINKS, links))
    return inspections


# ---------------------------------------------------------------- reading the facts


@dataclass
class Reading:
    """The facts of a target as plan and teardown judge them."""

    target: Target
    facts: Mapping[str, Mapping[str, Any]]
    instance_id: str  # the setup's: what a setup for this target made carries it in its hopsworks-setup tag
    record: set[str]  # casefolded ids the record lists as created by a setup for this target

    def fact(self, name: str) -> Mapping[str, Any]:
        return self.facts.get(name) or {}

    def ours(self, fact: Mapping[str, Any]) -> bool:
        """Made by a setup for this target (its tag), and still there."""
        tags = fact.get("tags") or {}
        return bool(fact.get("exists", True)) and tags.get(naming.RUN_TAG_INSTANCE) == self.instance_id

    def vnets_ours(self) -> bool:
        """A peering on or towards a vnet of ours is ours: it cannot predate that vnet."""
        return self.ours(self.fact(F_AKS_VNET)) or self.ours(self.fact(F_HOPSWORKS_VNET))

    def recorded(self, resource_id: str | None) -> bool:
        return bool(resource_id) and str(resource_id).casefold() in self.record


def found_assignment(
    facts: Mapping[str, Mapping[str, Any]], wanted: WantedAssignment
) -> Mapping[str, Any] | None:
    """The inspection's answer for `wanted` (None when its principal is unknown or it was not read)."""
    if not wanted.principal_id:
        return None
    for answer in (facts.get(F_ROLE_ASSIGNMENTS) or {}).get("assignments") or ():
        if (
            naming.same_resource_id(answer.get("scope"), wanted.scope)
            and str(answer.get("roleDefinitionGuid", "")).casefold() == wanted.role.guid.casefold()
            and str(answer.get("principalId", "")).casefold() == wanted.principal_id.casefold()
        ):
            return answer
    return None


def find_child(vnet: Mapping[str, Any] | None, kind: str, name: str) -> Mapping[str, Any] | None:
    """A vnet's subnet or peering (`kind` "subnets" / "peerings") by name, names compared without case."""
    for child in (vnet or {}).get(kind) or ():
        if str(child.get("name", "")).casefold() == name.casefold():
            return child
    return None


def dns_link_for(
    facts: Mapping[str, Mapping[str, Any]], vnet_id: str | None, link_name: str | None
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    """(the link under the setup's name, the link for the Hopsworks vnet under any name)."""
    links = (facts.get(F_DNS_LINKS) or {}).get("links") or ()
    named = next(
        (link for link in links if link_name and link["name"].casefold() == link_name.casefold()), None
    )
    for_vnet = next((link for link in links if naming.same_resource_id(link.get("vnetId"), vnet_id)), None)
    return named, for_vnet
