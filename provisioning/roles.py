"""Built-in role definitions the guide uses, and the ARM actions the app itself needs.

`is_allowed` implements ARM's evaluation of a permissions list (the answer of
`GET .../providers/Microsoft.Authorization/permissions`): an action is allowed when some entry's `actions`
match it and that same entry's `notActions` do not. `*` matches any run of characters, case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class BuiltInRole:
    """A built-in role: the same GUID in every tenant. `actions`/`not_actions` are its control-plane
    permissions as Azure defines them, given for the roles the app's own identity may be granted."""

    name: str
    guid: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()

    def allows(self, action: str) -> bool:
        return is_allowed(action, [{"actions": list(self.actions), "notActions": list(self.not_actions)}])


ACR_PULL = BuiltInRole("AcrPull", "7f951dda-4ed3-4680-a7ca-43fe172d538d")
ACR_PUSH = BuiltInRole("AcrPush", "8311e382-0749-4cb8-b61a-304f252e45ec")
ACR_DELETE = BuiltInRole("AcrDelete", "c2f4ef07-c644-48eb-af81-4b1b4947fb11")
AKS_CLUSTER_USER = BuiltInRole(
    "Azure Kubernetes Service Cluster User Role", "4abbcc35-e782-43d8-92c5-2d3f1bd2253f"
)
NETWORK_CONTRIBUTOR = BuiltInRole(
    "Network Contributor",
    "4d97b98b-1d4f-4787-a291-c67834d212e7",
    (
        "Microsoft.Authorization/*/read",
        "Microsoft.Insights/alertRules/*",
        "Microsoft.Network/*",
        "Microsoft.ResourceHealth/availabilityStatuses/read",
        "Microsoft.Resources/deployments/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Support/*",
    ),
)

# Roles an administrator may grant the app's own identity ("Azure built-in roles", learn.microsoft.com).
OWNER = BuiltInRole("Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", ("*",))
CONTRIBUTOR = BuiltInRole(
    "Contributor",
    "b24988ac-6180-42a0-ab88-20f7382dd24c",
    ("*",),
    (
        "Microsoft.Authorization/*/Delete",
        "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action",
        "Microsoft.Blueprint/blueprintAssignments/write",
        "Microsoft.Blueprint/blueprintAssignments/delete",
        "Microsoft.Compute/galleries/share/action",
        "Microsoft.Purview/consents/write",
        "Microsoft.Purview/consents/delete",
        "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
        "Microsoft.Subscription/cancel/action",
        "Microsoft.Subscription/enable/action",
    ),
)
READER = BuiltInRole("Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7", ("*/read",))
USER_ACCESS_ADMINISTRATOR = BuiltInRole(
    "User Access Administrator",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    ("*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"),
)
RBAC_ADMINISTRATOR = BuiltInRole(
    "Role Based Access Control Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
    (
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.Authorization/roleAssignments/delete",
        "*/read",
        "Microsoft.Support/*",
    ),
)
PRIVATE_DNS_ZONE_CONTRIBUTOR = BuiltInRole(
    "Private DNS Zone Contributor",
    "b12aa53e-6015-4669-85d0-8515ebb3ae7f",
    (
        "Microsoft.Authorization/*/read",
        "Microsoft.Insights/alertRules/*",
        "Microsoft.Resources/deployments/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Support/*",
        "Microsoft.Network/privateDnsZones/*",
        "Microsoft.Network/privateDnsOperationResults/*",
        "Microsoft.Network/privateDnsOperationStatuses/*",
        "Microsoft.Network/virtualNetworks/read",
        "Microsoft.Network/virtualNetworks/join/action",
    ),
)

# The built-in roles the least-privilege plan chooses from, narrowest first (provisioning.permissions).
GRANTABLE_ROLES: tuple[BuiltInRole, ...] = (
    RBAC_ADMINISTRATOR,
    PRIVATE_DNS_ZONE_CONTRIBUTOR,
    NETWORK_CONTRIBUTOR,
    CONTRIBUTOR,
    USER_ACCESS_ADMINISTRATOR,
    OWNER,
)

# The roles the guide gives the Hopsworks managed identity, in the guide's order.
IDENTITY_ROLES: tuple[BuiltInRole, ...] = (ACR_PULL, ACR_PUSH, ACR_DELETE, AKS_CLUSTER_USER)

PRINCIPAL_TYPE_SERVICE_PRINCIPAL = "ServicePrincipal"

# ---------------------------------------------------------------- what the app's own identity must be allowed


def _read_write_delete(*resource_types: str) -> tuple[str, ...]:
    return tuple(f"{kind}/{verb}" for kind in resource_types for verb in ("read", "write", "delete"))


# Actions on the request's resource group, for every topology. Reads let the app find existing work,
# writes create it, deletes roll back. `subnets/join/action` is checked by AKS when a cluster is put in a
# subnet the caller names (bring-your-own vnet).
RESOURCE_GROUP_ACTIONS: tuple[str, ...] = (
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    *_read_write_delete(
        "Microsoft.ManagedIdentity/userAssignedIdentities",
        "Microsoft.Authorization/roleAssignments",
        "Microsoft.Network/virtualNetworks",
        "Microsoft.Network/virtualNetworks/subnets",
    ),
    "Microsoft.Network/virtualNetworks/subnets/join/action",
    *_read_write_delete(
        "Microsoft.ContainerService/managedClusters",
        "Microsoft.ContainerRegistry/registries",
    ),
)

# Extra actions on the request's resource group for topology "peering": both peerings and linking the
# Hopsworks vnet to the cluster's private DNS zone (`virtualNetworks/join/action` on the linked vnet).
PEERING_RESOURCE_GROUP_ACTIONS: tuple[str, ...] = (
    *_read_write_delete("Microsoft.Network/virtualNetworks/virtualNetworkPeerings"),
    "Microsoft.Network/virtualNetworks/peer/action",
    "Microsoft.Network/virtualNetworks/join/action",
)

# Actions on the cluster's node resource group (MC_...), where AKS puts the private DNS zone (topology
# "peering"). That group exists only once the cluster does, so only a grant at subscription scope (or above)
# reaches it ahead of the run; preflight checks them against those grants (provisioning.permissions).
NODE_RESOURCE_GROUP_ACTIONS: tuple[str, ...] = (
    "Microsoft.Network/privateDnsZones/read",
    *_read_write_delete("Microsoft.Network/privateDnsZones/virtualNetworkLinks"),
)

# Needed at subscription scope when `identity.roleScope` is `subscription`.
SUBSCRIPTION_ROLE_ACTIONS: tuple[str, ...] = _read_write_delete("Microsoft.Authorization/roleAssignments")

# Used at subscription scope when allowed, not needed: without it the registry name is not checked ahead
# and the registry create's own AlreadyInUse decides.
CHECK_REGISTRY_NAME_ACTION = "Microsoft.ContainerRegistry/checkNameAvailability/read"
# Used at subscription scope when allowed, not needed: listing the subscription's vnets lets preflight refuse
# a new vnet whose address space overlaps one that exists (peering and routing need disjoint spaces).
LIST_SUBSCRIPTION_VNETS_ACTION = "Microsoft.Network/virtualNetworks/read"


def required_actions(topology: str) -> list[str]:
    """Actions the app needs on the request's resource group for `topology` ("peering" or "subnet")."""
    from provisioning import topology as topologies  # the Topology decides; it imports this module

    return topologies.of(topology).required_actions()


@lru_cache(maxsize=1024)
def _pattern(wildcard: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in wildcard.split("*")), re.IGNORECASE | re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    """ARM wildcard match: `*` is any run of characters (also across `/`); case-insensitive."""
    return _pattern(pattern).fullmatch(action) is not None


def _any_matches(patterns: object, action: str) -> bool:
    """Only a list of strings holds patterns: anything else in an entry matches nothing."""
    return isinstance(patterns, list | tuple) and any(
        isinstance(pattern, str) and action_matches(pattern, action) for pattern in patterns
    )


def is_allowed(action: str, permissions: Iterable[Mapping[str, object]]) -> bool:
    """See the module docstring; snake_case keys from SDK models are accepted too."""
    return any(
        isinstance(entry, Mapping)
        and _any_matches(entry.get("actions"), action)
        and not _any_matches(entry.get("notActions", entry.get("not_actions")), action)
        for entry in permissions
    )


def unique(actions: Iterable[str]) -> list[str]:
    """`actions` in order, each once (action names ignore case)."""
    first: dict[str, str] = {}
    for action in actions:
        first.setdefault(action.casefold(), action)
    return list(first.values())


def missing_actions(required: Iterable[str], permissions: Iterable[Mapping[str, object]]) -> list[str]:
    """The actions of `required` (in order, without repeats) that `permissions` do not allow.

    `permissions` is the permissions API's `value` list: `[{"actions": [...], "notActions": [...]}]`.
    """
    entries = list(permissions)
    return [action for action in unique(required) if not is_allowed(action, entries)]
