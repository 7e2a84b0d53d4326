"""When may a resource that already exists under a requested name be used, and what must be put right first?

Pure rules over plain values (the activities extract them from the SDK models). Each `*_problems` function
returns the rules the existing resource breaks, in words a user can act on; an empty list means it can be
used. Preflight and the ensure_* activities share them, so preflight reports exactly what the steps refuse.

A resource in provisioningState Failed or Canceled (ARM leaves one behind when its create or update
operation fails) is never taken as done: when it is this run's own it is PUT again with the wanted body (ARM's
documented way to put it right), when the run would adopt it, it is a problem and is left untouched.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from provisioning import cidr, errors, naming

PEERING_SETTINGS: dict[str, bool] = {
    # "Traffic to remote virtual network: Allow", "Traffic forwarded from remote virtual network: Block",
    # and no gateways: exactly what the guide sets.
    "allowVirtualNetworkAccess": True,
    "allowForwardedTraffic": False,
    "allowGatewayTransit": False,
    "useRemoteGateways": False,
}

SUCCEEDED = "Succeeded"
FAILED_STATES = ("failed", "canceled")
LINK_COMPLETED = "Completed"


def is_failed(state: str | None) -> bool:
    """ARM's terminal states of a failed operation: the resource is there but not what was asked for."""
    return (state or "").casefold() in FAILED_STATES


def is_succeeded(state: str | None) -> bool:
    return (state or "").casefold() == SUCCEEDED.casefold()


def failed_state_problems(state: str | None) -> list[str]:
    """The rule a Failed/Canceled resource the run would adopt breaks (it is never modified by the run)."""
    if not is_failed(state):
        return []
    return [
        f"its provisioningState is {state} (an earlier operation on it failed); put it right or delete it, "
        "then run the setup again"
    ]


def same_location(a: str | None, b: str | None) -> bool:
    """ARM answers `northeurope`; some tools write `North Europe`."""
    if not a or not b:
        return False
    return a.replace(" ", "").casefold() == b.replace(" ", "").casefold()


def location_problems(existing: str | None, wanted: str | None) -> list[str]:
    if wanted and not same_location(existing, wanted):
        return [f"it is in location '{existing}', the setup needs '{wanted}'"]
    return []


identity_problems = location_problems  # an identity has nothing to compare but its location


@dataclass(frozen=True)
class ExistingVnet:
    location: str | None
    address_prefixes: tuple[str, ...]
    subnets: Mapping[str, tuple[str, ...]]  # name -> its address prefixes
    provisioning_state: str | None = None
    subnet_states: Mapping[str, str | None] = field(default_factory=dict)  # name -> provisioningState


@dataclass(frozen=True)
class VnetPlan:
    problems: list[str]
    missing_subnets: list[tuple[str, str]]  # (name, prefix) to add, in request order
    # This run's own vnet left Failed: PUT it again with the wanted body (its subnets with it).
    put_vnet_again: bool = False
    # This run's own subnets left Failed in a vnet that is fine: PUT each again.
    failed_subnets: list[tuple[str, str]] = field(default_factory=list)


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
    *,
    vnet_is_ours: bool = False,
    ours: Collection[str] = (),
) -> VnetPlan:
    """Can the existing vnet carry the requested address space and subnets, which subnets must be added, and
    what of this run's own must be PUT again?

    Compatible: same location; one of its address prefixes equals or contains the requested space; each
    requested subnet either exists under its name with exactly the requested prefix, or is absent and fits in
    the vnet's space without overlapping any existing subnet. Failed/Canceled: the vnet or a requested subnet
    that is this run's (`vnet_is_ours`, or the subnet's name, case-folded, in `ours`) is put right; one the
    run would adopt is a problem.
    """
    problems = location_problems(existing.location, wanted_location)
    problems += _space_problems(existing, wanted_space)
    put_vnet_again = vnet_is_ours and is_failed(existing.provisioning_state)
    if not vnet_is_ours:
        problems += failed_state_problems(existing.provisioning_state)
    existing_by_name = {name.casefold(): (name, prefixes) for name, prefixes in existing.subnets.items()}
    missing: list[tuple[str, str]] = []
    failed: list[tuple[str, str]] = []
    for name, prefix in wanted_subnets:
        found = existing_by_name.get(name.casefold())
        if found is None:
            problems += _new_subnet_problems(existing, name, prefix)
            missing.append((name, prefix))
            continue
        if [str(net) for net in _networks(found[1])] != [str(cidr.parse_cidr(prefix))]:
            problems.append(
                f"its subnet '{found[0]}' has prefix {', '.join(found[1]) or '(none)'}, "
                f"the setup needs {prefix}"
            )
        state = existing.subnet_states.get(found[0])
        if not is_failed(state) or put_vnet_again:
            continue
        if vnet_is_ours or name.casefold() in ours:
            failed.append((name, prefix))
        else:
            problems += [f"its subnet '{found[0]}': {rule}" for rule in failed_state_problems(state)]
    return VnetPlan(problems, missing, put_vnet_again, failed)


def _space_problems(existing: ExistingVnet, wanted_space: str) -> list[str]:
    space = cidr.parse_cidr(wanted_space)
    if any(cidr.contains(outer, space) for outer in _networks(existing.address_prefixes)):
        return []
    return [
        f"its address space {', '.join(existing.address_prefixes) or '(none)'} does not equal or contain "
        f"the requested {wanted_space}"
    ]


def _new_subnet_problems(existing: ExistingVnet, name: str, prefix: str) -> list[str]:
    wanted = cidr.parse_cidr(prefix)
    problems = []
    for other_name, other_prefixes in existing.subnets.items():
        clashing = [str(net) for net in _networks(other_prefixes) if cidr.overlaps(net, wanted)]
        if clashing:
            problems.append(
                f"the requested subnet '{name}' ({prefix}) overlaps its subnet '{other_name}' "
                f"({', '.join(clashing)})"
            )
    vnet_spaces = _networks(existing.address_prefixes)
    if vnet_spaces and not any(cidr.contains(outer, wanted) for outer in vnet_spaces):
        problems.append(f"the requested subnet '{name}' ({prefix}) is outside its address space")
    return problems


def service_network_problems(existing: ExistingVnet, service_cidr: str, dns_service_ip: str) -> list[str]:
    """AKS refuses a service CIDR that overlaps any address prefix or subnet of the cluster's vnet: an adopted
    vnet may hold more than the requested space, so its whole space and every subnet is compared."""
    service = cidr.parse_cidr(service_cidr)
    address = cidr.parse_address(dns_service_ip)
    ranges = [("address prefix", str(net), net) for net in _networks(existing.address_prefixes)]
    for name, prefixes in existing.subnets.items():
        ranges += [(f"subnet '{name}'", str(net), net) for net in _networks(prefixes)]
    problems = []
    for what, text, network in ranges:
        if cidr.overlaps(network, service):
            problems.append(f"its {what} {text} overlaps aks.serviceCidr {service_cidr}")
        if cidr.contains_address(network, address):
            problems.append(f"its {what} {text} contains aks.dnsServiceIp {dns_service_ip}")
    return problems


def peering_problems(existing_remote_id: str | None, wanted_remote_id: str) -> list[str]:
    if not naming.same_resource_id(existing_remote_id, wanted_remote_id):
        return [f"it peers with '{existing_remote_id}', the setup needs '{wanted_remote_id}'"]
    return []


def peering_drift(settings: Mapping[str, bool | None]) -> list[str]:
    """The guide's peering settings the existing peering no longer has (put back by the next run)."""
    return [key for key, wanted in PEERING_SETTINGS.items() if bool(settings.get(key)) is not wanted]


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


SOFT_DELETE_PROBLEM = "soft delete is enabled, which ACR cannot combine with the retention policy"


def soft_delete_enabled(policies: Mapping[str, object] | None) -> bool:
    """ACR refuses a retention policy on a registry with soft delete enabled (and vice versa)."""
    soft_delete = (policies or {}).get("softDeletePolicy")
    return isinstance(soft_delete, Mapping) and str(soft_delete.get("status", "")).casefold() == "enabled"


def retention_in_state(retention: Mapping[str, object] | None, days: int) -> bool:
    retention = retention or {}
    return str(retention.get("status", "")).casefold() == "enabled" and retention.get("days") == days


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


def cluster_put_again(state: str | None, error_code: str | None, error_message: str = "") -> bool:
    """This run's cluster, found Failed/Canceled: PUT again (AKS documents re-running the PUT, as
    `az aks update` does, to reconcile a failed cluster) when its operation was canceled or failed for a
    passing reason (a retryable code); a failure that a new PUT would only repeat is reported instead."""
    if not is_failed(state):
        return False
    if (state or "").casefold() == "canceled":
        return True
    return bool(error_code) and errors.is_transient_code(str(error_code), error_message)


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
