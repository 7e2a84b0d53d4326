"""When may a resource that already exists under a requested name be adopted?

Pure rules over plain values (the activity adapters extract them from the SDK models). Each function returns
the list of rules the existing resource breaks, in words a user can act on; an empty list means compatible.
preflight and the ensure_* activities share them, so preflight reports exactly what the steps would refuse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from provisioning import cidr, naming

PEERING_SETTINGS: dict[str, bool] = {
    # "Traffic to remote virtual network: Allow", "Traffic forwarded from remote virtual network: Block",
    # and no gateways: exactly what the guide sets.
    "allowVirtualNetworkAccess": True,
    "allowForwardedTraffic": False,
    "allowGatewayTransit": False,
    "useRemoteGateways": False,
}


def same_location(a: str | None, b: str | None) -> bool:
    """ARM answers `northeurope`; some tools write `North Europe`."""
    if not a or not b:
        return False
    return a.replace(" ", "").casefold() == b.replace(" ", "").casefold()


def location_problems(existing: str | None, wanted: str | None) -> list[str]:
    if wanted and not same_location(existing, wanted):
        return [f"it is in location '{existing}', the setup needs '{wanted}'"]
    return []


def identity_problems(existing_location: str | None, wanted_location: str | None) -> list[str]:
    return location_problems(existing_location, wanted_location)


# ---------------------------------------------------------------- virtual networks


@dataclass(frozen=True)
class ExistingVnet:
    location: str | None
    address_prefixes: tuple[str, ...]
    subnets: Mapping[str, tuple[str, ...]]  # name -> its address prefixes


@dataclass(frozen=True)
class VnetPlan:
    problems: list[str]
    missing_subnets: list[tuple[str, str]]  # (name, prefix) to add, in request order


def _networks(prefixes: Iterable[str]) -> list[cidr.IPv4Network]:
    parsed = []
    for prefix in prefixes:
        try:
            parsed.append(cidr.parse_cidr(prefix))
        except cidr.CidrError:
            continue  # IPv6 or other spaces: nothing the setup's IPv4 ranges can collide with
    return parsed


def plan_existing_vnet(
    existing: ExistingVnet,
    wanted_location: str | None,
    wanted_space: str,
    wanted_subnets: Sequence[tuple[str, str]],
) -> VnetPlan:
    """Can the existing vnet carry the requested address space and subnets, and which subnets must be added?

    Compatible: same location; one of its address prefixes equals or contains the requested space; each
    requested subnet either exists under its name with exactly the requested prefix, or is absent and fits in
    the vnet's space without overlapping any existing subnet.
    """
    problems = location_problems(existing.location, wanted_location)
    space = cidr.parse_cidr(wanted_space)
    vnet_spaces = _networks(existing.address_prefixes)
    if not any(cidr.contains(outer, space) for outer in vnet_spaces):
        problems.append(
            f"its address space {', '.join(existing.address_prefixes) or '(none)'} does not equal or contain "
            f"the requested {wanted_space}"
        )
    existing_by_name = {name.casefold(): (name, prefixes) for name, prefixes in existing.subnets.items()}
    missing: list[tuple[str, str]] = []
    for name, prefix in wanted_subnets:
        found = existing_by_name.get(name.casefold())
        wanted = cidr.parse_cidr(prefix)
        if found is not None:
            if [str(net) for net in _networks(found[1])] != [str(wanted)]:
                problems.append(
                    f"its subnet '{found[0]}' has prefix {', '.join(found[1]) or '(none)'}, "
                    f"the setup needs {prefix}"
                )
            continue
        for other_name, other_prefixes in existing.subnets.items():
            clashing = [str(net) for net in _networks(other_prefixes) if cidr.overlaps(net, wanted)]
            if clashing:
                problems.append(
                    f"the requested subnet '{name}' ({prefix}) overlaps its subnet '{other_name}' "
                    f"({', '.join(clashing)})"
                )
        if vnet_spaces and not any(cidr.contains(outer, wanted) for outer in vnet_spaces):
            problems.append(f"the requested subnet '{name}' ({prefix}) is outside its address space")
        missing.append((name, prefix))
    return VnetPlan(problems, missing)


# ---------------------------------------------------------------- peering


def peering_problems(existing_remote_id: str | None, wanted_remote_id: str) -> list[str]:
    if not naming.same_resource_id(existing_remote_id, wanted_remote_id):
        return [f"it peers with '{existing_remote_id}', the setup needs '{wanted_remote_id}'"]
    return []


def peering_drift(settings: Mapping[str, bool | None]) -> list[str]:
    """The guide's peering settings the existing peering no longer has (put back by the next run)."""
    return [key for key, wanted in PEERING_SETTINGS.items() if bool(settings.get(key)) is not wanted]


# ---------------------------------------------------------------- container registry


LEGACY_ROLE_ASSIGNMENT_MODE = "LegacyRegistryPermissions"
ABAC_ROLE_ASSIGNMENT_MODE = "AbacRepositoryPermissions"


def registry_problems(sku: str | None, role_assignment_mode: str | None) -> list[str]:
    problems = []
    if (sku or "").casefold() != "premium":
        problems.append(f"its SKU is {sku or '(unknown)'}, the setup needs Premium (retention policy)")
    if (role_assignment_mode or "").casefold() == ABAC_ROLE_ASSIGNMENT_MODE.casefold():
        problems.append(
            f"its role assignment mode is {ABAC_ROLE_ASSIGNMENT_MODE}, which ignores AcrPull/AcrPush/"
            f"AcrDelete; the setup needs {LEGACY_ROLE_ASSIGNMENT_MODE}"
        )
    return problems


def soft_delete_enabled(policies: Mapping[str, object] | None) -> bool:
    """ACR refuses a retention policy on a registry with soft delete enabled (and vice versa)."""
    soft_delete = (policies or {}).get("softDeletePolicy")
    return isinstance(soft_delete, Mapping) and str(soft_delete.get("status", "")).casefold() == "enabled"


def retention_in_state(retention: Mapping[str, object] | None, days: int) -> bool:
    retention = retention or {}
    return str(retention.get("status", "")).casefold() == "enabled" and retention.get("days") == days


# ---------------------------------------------------------------- AKS cluster


@dataclass(frozen=True)
class ExistingCluster:
    location: str | None
    identity_type: str | None
    enable_rbac: bool | None
    has_aad_profile: bool
    network_plugin: str | None
    network_plugin_mode: str | None
    service_cidr: str | None
    dns_service_ip: str | None
    private_cluster: bool | None
    subnet_ids: tuple[str | None, ...]  # vnetSubnetID of each agent pool


def cluster_problems(
    existing: ExistingCluster,
    *,
    wanted_location: str | None,
    node_subnet_id: str,
    service_cidr: str,
    dns_service_ip: str,
) -> list[str]:
    """The guide's cluster settings (AZURE_FACTS 1) an existing cluster lacks; adopting needs them all.

    Node count, VM size and version of an existing cluster are the owner's business and are not compared.
    """
    problems = location_problems(existing.location, wanted_location)
    if (existing.identity_type or "").casefold() != "systemassigned":
        problems.append(f"its identity is {existing.identity_type or 'none'}, the guide needs SystemAssigned")
    if existing.enable_rbac is not True:
        problems.append("Kubernetes RBAC is disabled, the guide needs it enabled")
    if existing.has_aad_profile:
        problems.append("AKS-managed Azure AD is enabled, the guide needs it disabled")
    if (existing.network_plugin or "").casefold() != "azure":
        problems.append(
            f"its network plugin is {existing.network_plugin or 'none'}, the guide needs Azure CNI"
        )
    if existing.network_plugin_mode:
        problems.append(
            f"its network plugin mode is {existing.network_plugin_mode}; Hopsworks must reach pod IPs, so no "
            "overlay mode"
        )
    if existing.private_cluster is not True:
        problems.append("it is not a private cluster, the guide needs enablePrivateCluster")
    if not any(naming.same_resource_id(subnet, node_subnet_id) for subnet in existing.subnet_ids):
        problems.append(f"its nodes are not in the subnet {node_subnet_id}")
    if existing.service_cidr and existing.service_cidr != service_cidr:
        problems.append(f"its service CIDR is {existing.service_cidr}, the setup needs {service_cidr}")
    if existing.dns_service_ip and existing.dns_service_ip != dns_service_ip:
        problems.append(f"its DNS service IP is {existing.dns_service_ip}, the setup needs {dns_service_ip}")
    return problems


def dns_prefix(cluster_name: str) -> str:
    """AKS dnsPrefix rule: 1-54 characters of letters, digits and '-', starting and ending with a letter or
    digit. Cluster names may also hold '_' (replaced) and be up to 63 characters (cut)."""
    prefix = cluster_name.replace("_", "-")[:54].strip("-")
    return prefix or "aks"


def private_dns_zone_name(private_fqdn: str | None) -> str | None:
    """`<guid>.privatelink.<region>.azmk8s.io` from the cluster's privateFQDN (`<name>-<hash>.<zone>`)."""
    if not private_fqdn or "." not in private_fqdn:
        return None
    return private_fqdn.rstrip(".").split(".", 1)[1]
