"""Preflight's checklist: what to read before any write, and every problem found in what was read.

Pure: the `preflight` activity reads (in parallel) what `checklist` names and hands the plain facts to the
rule functions here; `Problems` collects every problem so one PreflightFailed lists them all. The rules
themselves are the adoption rules the ensure_* activities apply (`provisioning.adoption`), so preflight
reports exactly what the steps would refuse.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from provisioning import adoption, cidr, naming, permissions, roles, topology

PREFLIGHT_FAILED = "PreflightFailed"
INCOMPATIBLE_EXISTING = "IncompatibleExistingResource"
RESOURCE_GROUP_NOT_FOUND = "ResourceGroupNotFound"
MISSING_PERMISSION = permissions.MISSING_PERMISSION
ADDRESS_SPACE_OVERLAP = "AddressSpaceOverlap"
SUBSCRIPTION_VNETS = "virtual networks of the subscription"

VNET_TYPE = "Microsoft.Network/virtualNetworks"


@dataclass(frozen=True)
class WantedVnet:
    """A vnet the run uses: adopted when it exists and is compatible."""

    name: str
    space: str
    subnets: tuple[tuple[str, str], ...]  # (name, prefix)
    carries_cluster: bool  # the AKS vnet: its whole space must stay clear of the service CIDR
    peering: tuple[str, str] | None = None  # topology peering: (the run's peering on it, its remote vnet id)

    @property
    def target(self) -> str:
        return f"virtual network '{self.name}'"


@dataclass(frozen=True)
class Checklist:
    """What preflight reads, from the normalized request."""

    subscription_id: str
    resource_group: str
    location: str | None  # the request's (None: the resource group's)
    topology: str
    identity_name: str
    vnets: tuple[WantedVnet, ...]
    cluster_name: str
    node_subnet_id: str
    service_cidr: str
    dns_service_ip: str
    registry_name: str
    role_scope: str = "resourceGroup"  # identity.roleScope: where the identity's roles are assigned

    @property
    def group_target(self) -> str:
        return f"resource group '{self.resource_group}'"

    @property
    def identity_target(self) -> str:
        return f"managed identity '{self.identity_name}'"

    @property
    def cluster_target(self) -> str:
        return f"AKS cluster '{self.cluster_name}'"

    @property
    def registry_target(self) -> str:
        return f"container registry '{self.registry_name}'"


def checklist(request: Mapping[str, Any]) -> Checklist:
    subscription_id, resource_group = request["subscriptionId"], request["resourceGroup"]
    aks = request["aks"]
    kind = topology.of(request["topology"])
    vnet_id = functools.partial(naming.resource_id, subscription_id, resource_group, VNET_TYPE)
    aks_subnets = tuple((subnet.name, subnet.prefix) for subnet in kind.aks_subnets(request))
    vnets = [WantedVnet(aks["vnetName"], aks["addressSpace"], aks_subnets, True)]
    network = request["hopsworksNetwork"] if kind.separate_hopsworks_network else None
    if network:
        on_hopsworks, on_aks = naming.peering_names(network["vnetName"], aks["vnetName"])
        hopsworks_subnets = ((network["subnetName"], network["subnetPrefix"]),)
        vnets = [
            dataclasses.replace(vnets[0], peering=(on_aks, vnet_id(network["vnetName"]))),
            WantedVnet(network["vnetName"], network["addressSpace"], hopsworks_subnets, False,
                       (on_hopsworks, vnet_id(aks["vnetName"]))),
        ]
    return Checklist(
        subscription_id=subscription_id,
        resource_group=resource_group,
        location=request.get("location"),
        topology=request["topology"],
        identity_name=request["identity"]["name"],
        vnets=tuple(vnets),
        cluster_name=aks["name"],
        node_subnet_id=vnet_id(aks["vnetName"], "subnets", aks["nodeSubnetName"]),
        service_cidr=aks["serviceCidr"],
        dns_service_ip=aks["dnsServiceIp"],
        registry_name=request["acr"]["name"],
        role_scope=request["identity"].get("roleScope") or "resourceGroup",
    )


@dataclass
class Problems:
    """Every problem preflight finds, each with a code, the resource or field it concerns, and the rule."""

    items: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be checked ahead (not a problem)

    def add(self, code: str, target: str, message: str) -> None:
        self.items.append({"code": code, "target": target, "message": message})

    def incompatible(self, kind: str, name: str, rules: Sequence[str]) -> None:
        """An existing resource the run would adopt breaks `rules` (nothing when there are none)."""
        if rules:
            self.add(
                INCOMPATIBLE_EXISTING,
                f"{kind} '{name}'",
                f"existing {kind} '{name}' cannot be used: " + "; ".join(rules),
            )

    def summary(self) -> str:
        count = len(self.items)
        listing = "; ".join(f"({index}) {item['message']}" for index, item in enumerate(self.items, 1))
        return f"preflight found {count} problem{'s' if count > 1 else ''}: {listing}"


# ---------------------------------------------------------------- the rules over what was read


def group_problem(check: Checklist, problems: Problems) -> None:
    problems.add(
        RESOURCE_GROUP_NOT_FOUND,
        f"resourceGroup '{check.resource_group}'",
        f"resource group '{check.resource_group}' does not exist in subscription {check.subscription_id}",
    )


def vnet_rules(wanted: WantedVnet, existing: adoption.ExistingVnet, location: str | None,
               check: Checklist) -> list[str]:
    """A vnet that exists before the run is adopted: it must carry the requested space and subnets, be
    neither Failed nor Canceled (nor its requested subnets), and, for the AKS vnet, leave the service CIDR
    clear in its whole space and every subnet (AKS refuses the cluster otherwise)."""
    rules = adoption.plan_existing_vnet(existing, location, wanted.space, list(wanted.subnets)).problems
    if wanted.carries_cluster:
        rules += adoption.service_network_problems(existing, check.service_cidr, check.dns_service_ip)
    return rules


def peering_rules(
    wanted: WantedVnet, existing_peerings: Mapping[str, tuple[str | None, str | None]]
) -> tuple[str, list[str]]:
    """The run's peering on `wanted` when it exists before the run (`existing_peerings`: name -> (remote vnet
    id, provisioningState)): it is adopted, so it must point at the other vnet and not be Failed/Canceled.
    Answers (its vnet/peering name, the rules it breaks)."""
    if wanted.peering is None:
        return "", []
    name, remote_id = wanted.peering
    folded = {key.casefold(): value for key, value in existing_peerings.items()}
    found = folded.get(name.casefold())
    if found is None:
        return "", []
    rules = adoption.peering_problems(found[0], remote_id) + adoption.failed_state_problems(found[1])
    return f"{wanted.name}/{name}", rules


def cluster_rules(existing: adoption.ExistingCluster, location: str | None, check: Checklist) -> list[str]:
    return adoption.cluster_problems(
        existing,
        wanted_location=location,
        node_subnet_id=check.node_subnet_id,
        service_cidr=check.service_cidr,
        dns_service_ip=check.dns_service_ip,
    )


def registry_rules(
    sku: str | None,
    role_assignment_mode: str | None,
    state: str | None,
    soft_delete_policies: Mapping[str, object] | None,
) -> list[str]:
    rules = adoption.registry_problems(sku, role_assignment_mode) + adoption.failed_state_problems(state)
    if adoption.soft_delete_enabled(soft_delete_policies):
        rules.append(adoption.SOFT_DELETE_PROBLEM)
    return rules


def permission_problems(check: Checklist, grants: permissions.Grants, location: str | None,
                        problems: Problems) -> None:
    """Each action the run needs, at its scope, that the caller's grants do not allow (the run would
    otherwise fail half-way with AuthorizationFailed), naming what to grant; a note for what could not be
    checked ahead (provisioning.permissions)."""
    target = permissions.Target(check.subscription_id, check.resource_group, check.topology,
                                check.role_scope, check.cluster_name, location)
    findings = permissions.check_grants(target, grants)
    for problem in findings.problems:
        problems.add(problem["code"], problem["target"], problem["message"])
    problems.notes.extend(findings.notes)


@dataclass(frozen=True)
class SubscriptionVnet:
    """A vnet anywhere in the subscription, as listing them answers it."""

    id: str
    name: str
    address_prefixes: tuple[str, ...]
    peered_with: tuple[str, ...] = ()  # the remote vnet ids of its peerings


def overlap_problems(
    creates: Sequence[WantedVnet],
    others: Sequence[SubscriptionVnet],
    problems: Problems,
) -> None:
    """A vnet the run will create and peer (`creates`, Option A) whose address space overlaps the vnet it will
    be peered with as that vnet really is (an adopted one may hold more than the request names), or a vnet
    already peered with that one: Azure refuses such a peering (VnetAddressSpacesOverlap,
    VnetAddressSpaceOverlapsWithAlreadyPeeredVnet) only after the cluster is built. Unrelated vnets with the
    same space are fine: isolated vnets may reuse addresses (two setups in one subscription often do)."""
    for wanted in creates:
        if wanted.peering is None:
            continue
        space = cidr.parse_cidr(wanted.space)
        for other, relation in _peer_and_its_peers(_id_key(wanted.peering[1]), others):
            clashing = [prefix for prefix in other.address_prefixes if _overlaps(space, prefix)]
            if clashing:
                problems.add(
                    ADDRESS_SPACE_OVERLAP,
                    wanted.target,
                    f"virtual network '{wanted.name}' would be created with address space {wanted.space}, "
                    f"which overlaps {', '.join(clashing)} of the existing virtual network '{other.name}' "
                    f"({other.id}), {relation}; peered vnets may not overlap: choose another address space",
                )


def _peer_and_its_peers(
    peer_id: str, others: Sequence[SubscriptionVnet]
) -> list[tuple[SubscriptionVnet, str]]:
    """The existing vnet a new one will be peered with, and the vnets already peered with it (either side)."""
    by_id = {_id_key(other.id): other for other in others}
    peer = by_id.get(peer_id)
    if peer is None:
        return []
    linked = {_id_key(remote) for remote in peer.peered_with}
    linked |= {key for key, other in by_id.items() if peer_id in map(_id_key, other.peered_with)}
    linked.discard(peer_id)
    already = f"which is already peered with '{peer.name}'"
    return [(peer, "which it will be peered with")] + [
        (by_id[key], already) for key in sorted(linked) if key in by_id
    ]


def _id_key(resource_id: str) -> str:
    return resource_id.rstrip("/").casefold()


def overlap_unchecked(problems: Problems, failure: Mapping[str, Any]) -> None:
    """Listing the subscription's vnets was refused (403, or any other answer): a note, unless the grants
    already gave one."""
    action = roles.LIST_SUBSCRIPTION_VNETS_ACTION
    what, _ = permissions.OPTIONAL_CHECKS[action]
    if not any(what in note for note in problems.notes):
        answered = f"{failure.get('status')} {failure.get('code')}"
        why = f"listing the {SUBSCRIPTION_VNETS} ('{action}') answered {answered}"
        problems.notes.append(permissions.unchecked_note(action, why))


def _overlaps(space: cidr.IPv4Network, prefix: str) -> bool:
    try:
        return cidr.overlaps(space, cidr.parse_cidr(prefix))
    except cidr.CidrError:
        return False  # IPv6 or other spaces: nothing the run's IPv4 space can collide with
