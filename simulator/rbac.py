"""Azure RBAC of the simulated ARM: role definitions, the callers' grants, and ARM's authorization rules.

A grant is a role assignment: (principal, role definition, scope). The effective assignments are

* the **configured grants** (``Simulator.grant`` / control API ``/_simulator/grants`` / ``--grant``), which
  stand for what an administrator assigned outside the run; the scope ``/subscriptions/*`` means "every
  subscription" (the simulator has no list of subscriptions: any GUID is one). Default: the app's identity
  (:data:`APP_PRINCIPAL_ID`) is Owner on every subscription;
* the **role assignments made through ARM** (``PUT .../roleAssignments/{name}``, stored in ``arm.store``),
  e.g. the ones the app makes for the identity and the cluster it creates.

Authorization, as ARM does it (https://learn.microsoft.com/azure/role-based-access-control/overview):
the action comes from the request (:func:`action_for`); an assignment applies when its scope is the request's
scope or above it (case-insensitive prefix on path segments); an assignment allows the action when one of
its role's ``actions`` matches and none of the same role's ``notActions`` does (``*`` is a wildcard, case is
ignored); the request is allowed when any applicable assignment allows it and no deny applies. Denies come
from ``Simulator.deny_permission(subscription, group, action)``: that action is removed for everyone at that
group and below (ARM's deny assignments; shown as ``notActions`` in the permissions API answer).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# The app's managed identity in the simulator (the function app's system-assigned identity): fixed so that
# settings, tests and documentation can name it.
APP_PRINCIPAL_ID = "5f1e0c1a-7b3d-4e5f-9a8b-0c1d2e3f4a5b"
APP_CLIENT_ID = "0a4c7e1f-2b3d-4c5e-8f9a-b1c2d3e4f5a6"
APP_RESOURCE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/simulated-functions"
    "/providers/Microsoft.Web/sites/hopsworks-aks-acr"
)
EVERY_SUBSCRIPTION = "/subscriptions/*"
RD_TYPE = "Microsoft.Authorization/roleDefinitions"
RA_TYPE = "Microsoft.Authorization/roleAssignments"
_NAMESPACE = uuid.UUID("3f0b6c1e-3c7a-4a8e-9d55-6f2b1d0c9e11")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class Permission:
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()

    def body(self) -> dict[str, list[str]]:
        return {
            "actions": list(self.actions),
            "notActions": list(self.not_actions),
            "dataActions": list(self.data_actions),
            "notDataActions": list(self.not_data_actions),
        }

    def allows(self, action: str) -> bool:
        return any(action_matches(p, action) for p in self.actions) and not any(
            action_matches(p, action) for p in self.not_actions
        )


@dataclass
class RoleDefinition:
    guid: str
    role_name: str
    description: str
    permissions: list[Permission]
    role_type: str = "BuiltInRole"
    assignable_scopes: list[str] = field(default_factory=lambda: ["/"])
    created_on: str = "2015-02-02T21:55:09.8806423Z"
    updated_on: str = "2024-01-01T00:00:00.0000000Z"

    def allows(self, action: str) -> bool:
        return any(p.allows(action) for p in self.permissions)

    def body(self, subscription_id: str | None = None) -> dict[str, Any]:
        prefix = f"/subscriptions/{subscription_id}" if subscription_id else ""
        return {
            "id": f"{prefix}/providers/{RD_TYPE}/{self.guid}",
            "name": self.guid,
            "type": RD_TYPE,
            "properties": {
                "roleName": self.role_name,
                "type": self.role_type,
                "description": self.description,
                "assignableScopes": list(self.assignable_scopes),
                "permissions": [p.body() for p in self.permissions],
                "createdOn": self.created_on,
                "updatedOn": self.updated_on,
                "createdBy": None,
                "updatedBy": None,
            },
        }


def _builtin(
    guid: str, name: str, description: str, actions: list[str], not_actions: list[str] | None = None
) -> RoleDefinition:
    return RoleDefinition(guid, name, description, [Permission(tuple(actions), tuple(not_actions or ()))])


# Built-in roles with Azure's ids and permissions (learn.microsoft.com, "Azure built-in roles").
BUILT_IN_ROLES: dict[str, RoleDefinition] = {
    r.role_name: r
    for r in (
        _builtin(
            "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
            "Owner",
            "Grants full access to manage all resources, including the ability to assign roles in Azure "
            "RBAC.",
            ["*"],
        ),
        _builtin(
            "b24988ac-6180-42a0-ab88-20f7382dd24c",
            "Contributor",
            "Grants full access to manage all resources, but does not allow you to assign roles in Azure "
            "RBAC, manage assignments in Azure Blueprints, or share image galleries.",
            ["*"],
            [
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
            ],
        ),
        _builtin(
            "acdd72a7-3385-48ef-bd42-f606fba81ae7",
            "Reader",
            "View all resources, but does not allow you to make any changes.",
            ["*/read"],
        ),
        _builtin(
            "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
            "User Access Administrator",
            "Lets you manage user access to Azure resources.",
            ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
        ),
        _builtin(
            "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
            "Role Based Access Control Administrator",
            "Manage access to Azure resources by assigning roles using Azure RBAC. This role does not allow "
            "you to manage access using other ways, such as Azure Policy.",
            [
                "Microsoft.Authorization/roleAssignments/write",
                "Microsoft.Authorization/roleAssignments/delete",
                "*/read",
                "Microsoft.Support/*",
            ],
        ),
        _builtin(
            "4d97b98b-1d4f-4787-a291-c67834d212e7",
            "Network Contributor",
            "Lets you manage networks, but not access to them.",
            [
                "Microsoft.Authorization/*/read",
                "Microsoft.Insights/alertRules/*",
                "Microsoft.Network/*",
                "Microsoft.ResourceHealth/availabilityStatuses/read",
                "Microsoft.Resources/deployments/*",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
                "Microsoft.Support/*",
            ],
        ),
        _builtin(
            "b12aa53e-6015-4669-85d0-8515ebb3ae7f",
            "Private DNS Zone Contributor",
            "Lets you manage private DNS zone resources, but not the virtual networks they are linked to.",
            [
                "Microsoft.Insights/alertRules/*",
                "Microsoft.Resources/deployments/*",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
                "Microsoft.Support/*",
                "Microsoft.Network/privateDnsZones/*",
                "Microsoft.Network/privateDnsOperationResults/*",
                "Microsoft.Network/privateDnsOperationStatuses/*",
                "Microsoft.Network/virtualNetworks/read",
                "Microsoft.Network/virtualNetworks/join/action",
                "Microsoft.Authorization/*/read",
            ],
        ),
        _builtin(
            "7f951dda-4ed3-4680-a7ca-43fe172d538d",
            "AcrPull",
            "acr pull",
            ["Microsoft.ContainerRegistry/registries/pull/read"],
        ),
        _builtin(
            "8311e382-0749-4cb8-b61a-304f252e45ec",
            "AcrPush",
            "acr push",
            [
                "Microsoft.ContainerRegistry/registries/pull/read",
                "Microsoft.ContainerRegistry/registries/push/write",
            ],
        ),
        _builtin(
            "c2f4ef07-c644-48eb-af81-4b1b4947fb11",
            "AcrDelete",
            "acr delete",
            ["Microsoft.ContainerRegistry/registries/artifacts/delete"],
        ),
        _builtin(
            "4abbcc35-e782-43d8-92c5-2d3f1bd2253f",
            "Azure Kubernetes Service Cluster User Role",
            "List cluster user credential action.",
            [
                "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
                "Microsoft.ContainerService/managedClusters/read",
            ],
        ),
        _builtin(
            "f1a07417-d97a-45cb-824c-7a7467783830",
            "Managed Identity Operator",
            "Read and Assign User Assigned Identity",
            [
                "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
                "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
                "Microsoft.Authorization/*/read",
                "Microsoft.Insights/alertRules/*",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
                "Microsoft.Resources/deployments/*",
                "Microsoft.Support/*",
            ],
        ),
    )
}
BUILT_IN_BY_GUID: dict[str, RoleDefinition] = {r.guid: r for r in BUILT_IN_ROLES.values()}


# ----- action matching and scopes ---------------------------------------------------------------------------
def action_matches(pattern: str, action: str) -> bool:
    """ARM's wildcard rule: ``*`` matches any run of characters (slashes included); case is ignored."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, action, re.IGNORECASE) is not None


def normalize_scope(scope: str) -> str:
    return "/" + scope.strip().strip("/")


def scope_covers(assignment_scope: str, scope: str) -> bool:
    """Whether an assignment at ``assignment_scope`` applies at ``scope`` (same or beneath it)."""
    above = normalize_scope(assignment_scope).lower()
    below = normalize_scope(scope).lower()
    if above == "/":
        return True
    if above == EVERY_SUBSCRIPTION:
        parts = below.split("/")
        return len(parts) >= 3 and parts[1] == "subscriptions" and bool(parts[2])
    return below == above or below.startswith(above + "/")


def concrete_scope(assignment_scope: str, scope: str) -> str:
    """The scope an assignment shows at ``scope``: ``/subscriptions/*`` becomes that subscription."""
    if normalize_scope(assignment_scope).lower() != EVERY_SUBSCRIPTION:
        return normalize_scope(assignment_scope)
    return "/subscriptions/" + normalize_scope(scope).split("/")[2]


def validate_scope(scope: str) -> str:
    """A grant's scope: ``/subscriptions/*`` or ``/subscriptions/<guid>[/...]`` (a group, a resource...)."""
    if not isinstance(scope, str) or not scope.strip():
        raise ValueError("scope is required: /subscriptions/<id>[/resourceGroups/<name>[/providers/...]]")
    norm = normalize_scope(scope)
    if norm.lower() == EVERY_SUBSCRIPTION:
        return EVERY_SUBSCRIPTION
    parts = norm.split("/")
    if len(parts) < 3 or parts[1].lower() != "subscriptions" or not _GUID.match(parts[2]):
        raise ValueError(
            f"scope {scope!r} must be /subscriptions/* or start with /subscriptions/<subscription GUID>"
        )
    if len(parts) % 2 == 0:
        raise ValueError(f"scope {scope!r} must be a resource id (type/name pairs), not end in a type")
    return norm


# ----- actions derived from requests ------------------------------------------------------------------------
# POST actions ARM documents under another verb.
_DOCUMENTED_ACTIONS = {
    "microsoft.containerregistry/checknameavailability/action": (
        "Microsoft.ContainerRegistry/checkNameAvailability/read"
    ),
}
# Actions ARM answers for any authenticated caller of the directory: role definitions are public to it, and
# the permissions API tells callers their own permissions (an empty list where they have none).
UNAUTHORIZED_ACTIONS = {
    "microsoft.authorization/roledefinitions/read",
    "microsoft.authorization/permissions/read",
}
_VERBS = {
    "GET": "read",
    "HEAD": "read",
    "PUT": "write",
    "PATCH": "write",
    "DELETE": "delete",
    "POST": "action",
}


def action_for(method: str, path: str, canonical: dict[str, str] | None = None) -> str | None:
    """The RBAC action of a request, e.g. ``Microsoft.Network/virtualNetworks/subnets/write``; None for a path
    ARM does not authorize (operation-status URLs).

    ``canonical`` maps lower-case type segments to their documented spelling (``resourcegroups`` ->
    ``resourceGroups``) so messages read like ARM's.
    """
    parts = [p for p in path.strip("/").split("/") if p]
    lowered = [p.lower() for p in parts]
    verb = _VERBS.get(method.upper())
    if verb is None:
        return None
    if "locations" in lowered and lowered[-2:-1] and lowered[-2] in ("operationstatuses", "operationresults"):
        return None
    names = canonical or {}
    last = max((i for i, p in enumerate(lowered) if p == "providers"), default=-1)
    if last == -1:
        types = ["Microsoft.Resources", *parts[0::2]]  # subscriptions, resourceGroups
    elif last + 1 >= len(parts):
        types = ["Microsoft.Resources", "subscriptions", "providers"]
    else:
        rest = parts[last + 2 :]
        if not rest:  # GET /subscriptions/{id}/providers/{namespace}: the provider's registration
            types = ["Microsoft.Resources", "subscriptions", "providers"]
        else:
            types = [parts[last + 1], *rest[0::2]]
    action = "/".join(names.get(t.lower(), t) for t in types) + "/" + verb
    return _DOCUMENTED_ACTIONS.get(action.lower(), action)


# ----- grants -----------------------------------------------------------------------------------------------
@dataclass
class Grant:
    """One role assignment configured in the simulator (not made through ARM)."""

    principal_id: str
    role_guid: str
    scope: str
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            key = f"{self.scope.lower()}|{self.role_guid.lower()}|{self.principal_id.lower()}"
            self.name = str(uuid.uuid5(_NAMESPACE, key))


@dataclass
class Assignment:
    """An applicable assignment at some scope (configured grant or ARM role assignment)."""

    principal_id: str
    role_guid: str
    scope: str  # concrete (never /subscriptions/*)
    name: str
    principal_type: str = "ServicePrincipal"
    body: dict[str, Any] | None = None  # the stored ARM body, for assignments made through ARM


def parse_grant_spec(spec: str) -> dict[str, str]:
    """``[PRINCIPAL_ID:]ROLE@SCOPE`` (role = name or GUID) -> ``{"principalId"?, "role", "scope"}``."""
    text = spec.strip()
    principal = None
    head, sep, rest = text.partition(":")
    if sep and _GUID.match(head.strip()):
        principal, text = head.strip(), rest
    role, sep, scope = text.rpartition("@")
    if not sep or not role.strip() or not scope.strip():
        raise ValueError(f"grant {spec!r} must be [PRINCIPAL_ID:]ROLE@SCOPE, e.g. Owner@/subscriptions/<id>")
    out = {"role": role.strip(), "scope": scope.strip()}
    if principal:
        out["principalId"] = principal
    return out


def parse_grant_specs(value: str) -> list[dict[str, str]]:
    """A ``;``-separated list of grant specs (the ``SIMULATOR_GRANTS`` setting)."""
    return [parse_grant_spec(s) for s in value.split(";") if s.strip()]


class Rbac:
    """Role definitions (built-in + custom), configured grants and denies. Callers hold ``arm.lock``."""

    def __init__(self) -> None:
        self.custom_roles: dict[str, RoleDefinition] = {}
        self.grants: list[Grant] = []
        self.denies: list[tuple[str, str]] = []  # (scope, action pattern)
        self.reset()

    def reset(self) -> None:
        self.custom_roles.clear()
        self.denies.clear()
        self.grants = [Grant(APP_PRINCIPAL_ID, BUILT_IN_ROLES["Owner"].guid, EVERY_SUBSCRIPTION)]

    # ----- role definitions -----
    def role(self, ref: str) -> RoleDefinition | None:
        """A role by name (case-insensitive), GUID or role definition id."""
        key = ref.strip().rstrip("/").rsplit("/", 1)[-1].lower()
        found = BUILT_IN_BY_GUID.get(key) or self.custom_roles.get(key)
        if found is not None:
            return found
        by_name = ref.strip().lower()
        for r in (*BUILT_IN_ROLES.values(), *self.custom_roles.values()):
            if r.role_name.lower() == by_name:
                return r
        return None

    def all_roles(self) -> list[RoleDefinition]:
        return [*BUILT_IN_ROLES.values(), *self.custom_roles.values()]

    def add_custom_role(
        self,
        role_name: str,
        actions: Iterable[str],
        not_actions: Iterable[str] = (),
        data_actions: Iterable[str] = (),
        not_data_actions: Iterable[str] = (),
        assignable_scopes: Iterable[str] = ("/",),
        description: str = "",
        guid: str | None = None,
        created_on: str = "",
    ) -> RoleDefinition:
        if not role_name or not isinstance(role_name, str):
            raise ValueError("roleName is required")
        actions = [str(a) for a in actions]
        if not actions:
            raise ValueError("permissions[0].actions must name at least one action")
        guid = (guid or str(uuid.uuid5(_NAMESPACE, "role|" + role_name.lower()))).lower()
        if guid in BUILT_IN_BY_GUID:
            raise ValueError(f"role definition id {guid} is a built-in role")
        for other in self.all_roles():
            if other.role_name.lower() == role_name.lower() and other.guid != guid:
                raise ValueError(f"a role named {role_name!r} exists already ({other.guid})")
        role = RoleDefinition(
            guid=guid,
            role_name=role_name,
            description=description,
            permissions=[
                Permission(tuple(actions), tuple(not_actions), tuple(data_actions), tuple(not_data_actions))
            ],
            role_type="CustomRole",
            assignable_scopes=[normalize_scope(s) for s in assignable_scopes] or ["/"],
        )
        if created_on:
            role.created_on = role.updated_on = created_on
        self.custom_roles[guid] = role
        return role

    # ----- grants -----
    def add_grant(self, role: str, scope: str, principal_id: str | None = None) -> Grant:
        definition = self.role(role)
        if definition is None:
            raise ValueError(f"role {role!r} is neither a built-in role (name or id) nor a custom role")
        principal = (principal_id or APP_PRINCIPAL_ID).lower()
        if not _GUID.match(principal):
            raise ValueError(f"principalId {principal_id!r} must be a GUID")
        grant = Grant(principal, definition.guid, validate_scope(scope))
        if not any(g.name == grant.name for g in self.grants):
            self.grants.append(grant)
        return grant

    def revoke_all(self, principal_id: str | None = None) -> None:
        principal = (principal_id or APP_PRINCIPAL_ID).lower()
        self.grants = [g for g in self.grants if g.principal_id != principal]

    def deny(self, scope: str, action: str) -> None:
        self.denies.append((normalize_scope(scope), action))

    def denied_actions(self, scope: str) -> list[str]:
        return sorted({a for s, a in self.denies if scope_covers(s, scope)})

    def denies_by_scope(self) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        for scope, action in self.denies:
            out.setdefault(scope.lower(), set()).add(action)
        return {k: sorted(v) for k, v in out.items()}

    def grant_body(self, grant: Grant) -> dict[str, str]:
        role = self.role(grant.role_guid)
        return {
            "principalId": grant.principal_id,
            "role": role.role_name if role else grant.role_guid,
            "roleDefinitionId": f"/providers/{RD_TYPE}/{grant.role_guid}",
            "scope": grant.scope,
            "name": grant.name,
        }

    def grants_body(self) -> list[dict[str, str]]:
        return [self.grant_body(g) for g in self.grants]

    # ----- evaluation -----
    def applicable(
        self, arm_assignments: Iterable[Assignment], scope: str, principal_id: str | None
    ) -> list[Assignment]:
        """Configured grants and ARM assignments that apply at ``scope`` (optionally of one principal)."""
        out: list[Assignment] = []
        principal = principal_id.lower() if principal_id else None
        for g in self.grants:
            if (principal is None or g.principal_id == principal) and scope_covers(g.scope, scope):
                shown = concrete_scope(g.scope, scope)
                # one name per subscription for an every-subscription grant, as if assigned there
                name = (
                    g.name
                    if g.scope != EVERY_SUBSCRIPTION
                    else Grant(g.principal_id, g.role_guid, shown).name
                )
                out.append(Assignment(g.principal_id, g.role_guid, shown, name))
        for a in arm_assignments:
            if (principal is None or a.principal_id.lower() == principal) and scope_covers(a.scope, scope):
                out.append(a)
        return out

    def is_allowed(self, assignments: Iterable[Assignment], action: str, scope: str) -> bool:
        if any(action_matches(pattern, action) for pattern in self.denied_actions(scope)):
            return False
        for a in assignments:
            role = self.role(a.role_guid)
            if role is not None and role.allows(action):
                return True
        return False

    def permissions(self, assignments: Iterable[Assignment], scope: str) -> list[dict[str, list[str]]]:
        """The permissions API answer: one entry per applicable assignment (per permission block)."""
        denied = self.denied_actions(scope)
        out = []
        for a in assignments:
            role = self.role(a.role_guid)
            if role is None:
                continue
            for p in role.permissions:
                entry = p.body()
                entry["notActions"] += [d for d in denied if d not in entry["notActions"]]
                out.append(entry)
        return out


# Linked access checks: a write that references another resource needs an action on that resource too
# (ARM's "linked scopes"): (action of the write) -> [(path in the body to the referenced id, action on it)].
LINKED_ACTIONS: dict[str, list[tuple[str, str]]] = {
    "microsoft.network/privatednszones/virtualnetworklinks/write": [
        ("properties.virtualNetwork.id", "Microsoft.Network/virtualNetworks/join/action")
    ],
    "microsoft.network/virtualnetworks/virtualnetworkpeerings/write": [
        ("properties.remoteVirtualNetwork.id", "Microsoft.Network/virtualNetworks/peer/action")
    ],
    "microsoft.containerservice/managedclusters/write": [
        (
            "properties.agentPoolProfiles[].vnetSubnetID",
            "Microsoft.Network/virtualNetworks/subnets/join/action",
        )
    ],
}


def _values_at(body: Any, path: str) -> list[Any]:
    """The values at a dotted path; ``name[]`` walks a list."""
    values = [body]
    for key in path.split("."):
        walk_list = key.endswith("[]")
        key = key.removesuffix("[]")
        nxt: list[Any] = []
        for v in values:
            item = v.get(key) if isinstance(v, dict) else None
            if walk_list and isinstance(item, list):
                nxt.extend(item)
            elif item is not None and not walk_list:
                nxt.append(item)
        values = nxt
    return values


def linked_checks(action: str, body: Any) -> list[tuple[str, str]]:
    """(linked action, linked scope) pairs a write must also be allowed, from the ids its body references."""
    out = []
    for path, linked_action in LINKED_ACTIONS.get(action.lower(), []):
        for value in _values_at(body, path):
            if isinstance(value, str) and value.lower().startswith("/subscriptions/"):
                out.append((linked_action, normalize_scope(value)))
    return out


def linked_authorization_failed_message(
    principal_id: str, action: str, scope: str, linked_action: str, linked_scope: str
) -> str:
    return (
        f"The client '{principal_id}' with object id '{principal_id}' has permission to perform action "
        f"'{action}' on scope '{scope}'; however, it does not have permission to perform action "
        f"'{linked_action}' on the linked scope(s) '{linked_scope}' or the linked scope(s) are invalid."
    )


def authorization_failed_message(principal_id: str, action: str, scope: str) -> str:
    return (
        f"The client '{principal_id}' with object id '{principal_id}' does not have authorization to perform "
        f"action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, "
        "please refresh your credentials."
    )
