"""What the app's own identity must be allowed to do for one request, where, and what to grant for it.

Pure: `needs` lists every ARM action the run performs with its scope; `missing` evaluates the caller's
grants against them the way ARM does (`roles.is_allowed`); `plan` gives the least-privilege built-in role
assignments, the equivalent custom roles and the `az` commands (`python -m client permissions` prints it;
preflight names the role to grant for each missing action from it).

Scopes: the cluster's private DNS zone (topology peering) lives in the node resource group
`MC_<rg>_<cluster>_<region>`, which AKS creates with the cluster, so only a grant on the subscription (or
above) reaches it before the run. Role assignments at subscription scope (`identity.roleScope`), the
registry-name check and the listing of the subscription's vnets are subscription calls; the last two are
optional (`OPTIONAL_CHECKS`): without them preflight notes what it could not check and the run goes on.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from provisioning import naming, roles, topology

RESOURCE_GROUP = "resourceGroup"
NODE_RESOURCE_GROUP = "nodeResourceGroup"
SUBSCRIPTION = "subscription"

# Custom role names are unique in the tenant: they name the group and its subscription.
CUSTOM_ROLE_NAME = "Hopsworks AKS setup ({resource_group} in {subscription_id})"
CUSTOM_SUBSCRIPTION_ROLE_NAME = (
    "Hopsworks AKS setup, subscription part ({resource_group} in {subscription_id})"
)
PRINCIPAL_PLACEHOLDER = "$APP_PRINCIPAL_ID"
ROLE_ASSIGNMENT_WRITE = "Microsoft.Authorization/roleAssignments/write"

# The roles the run assigns (the identity's four, Network Contributor for the cluster on its vnet; AcrPull
# for the kubelet is one of the four). A grant that may write role assignments could otherwise assign any
# role, Owner included: Azure's "constrain roles" condition (ABAC, conditionVersion 2.0) limits it to these.
ASSIGNED_ROLES: tuple[roles.BuiltInRole, ...] = (*roles.IDENTITY_ROLES, roles.NETWORK_CONTRIBUTOR)
_GUIDS = "{" + ", ".join(role.guid for role in ASSIGNED_ROLES) + "}"
_ROLE_ID = "Microsoft.Authorization/roleAssignments:RoleDefinitionId"
ROLE_ASSIGNMENT_CONDITION = (
    "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
    f"(@Request[{_ROLE_ID}] ForAnyOfAnyValues:GuidEquals {_GUIDS}))"
    " AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
    f"(@Resource[{_ROLE_ID}] ForAnyOfAnyValues:GuidEquals {_GUIDS}))"
)


def assignment_command(principal: str, role_name: str, scope: str, writes_role_assignments: bool) -> str:
    """`az role assignment create` for the app's identity, constrained when the role may assign roles."""
    command = (
        f"az role assignment create --assignee-object-id {principal} "
        f'--assignee-principal-type ServicePrincipal --role "{role_name}" --scope {scope}'
    )
    if writes_role_assignments:
        command += f' --condition "{ROLE_ASSIGNMENT_CONDITION}" --condition-version 2.0'
    return command


def _camel_case(fields: Mapping[str, Any]) -> dict[str, Any]:
    """`scope_kind` -> `scopeKind`: the JSON the CLI and the plans endpoint print."""
    return {re.sub(r"_(\w)", lambda m: m[1].upper(), key): value for key, value in fields.items()}


@dataclass(frozen=True)
class Need:
    """One action the run performs, where it performs it, and where a grant made before the run must be."""

    action: str
    scope_kind: str  # RESOURCE_GROUP, NODE_RESOURCE_GROUP or SUBSCRIPTION
    scope: str  # the ARM scope the action is performed at
    grant_scope: str  # the narrowest scope a grant made before the run can have and still reach `scope`
    required: bool = True  # False: used when allowed, not needed (the registry-name check)

    @property
    def where(self) -> str:
        """The scope in words, for messages."""
        if self.scope_kind == NODE_RESOURCE_GROUP:
            group = self.scope.rsplit("/", 1)[-1]
            return (
                f"the node resource group '{group}' (AKS creates it with the cluster: only a grant on "
                f"subscription '{self.grant_scope}' or above reaches it)"
            )
        if self.scope_kind == SUBSCRIPTION:
            return f"subscription '{self.scope}'"
        return f"resource group '{self.scope}'"

    def to_dict(self) -> dict[str, Any]:
        return _camel_case(dataclasses.asdict(self))


@dataclass(frozen=True)
class Target:
    """What of a request decides its permissions."""

    subscription_id: str
    resource_group: str
    topology: str
    role_scope: str
    cluster_name: str
    location: str | None  # None: the resource group's, which only preflight reads

    @classmethod
    def of(cls, request: Any, location: str | None = None) -> Target:
        """From a SetupRequest, its normalized dict (the orchestration input's `request`), or a Target."""
        if isinstance(request, Target):
            return request if location is None else dataclasses.replace(request, location=location)
        to_dict = getattr(request, "to_orchestration_dict", None)
        data: Mapping[str, Any] = to_dict() if callable(to_dict) else request
        return cls(
            subscription_id=data["subscriptionId"],
            resource_group=data["resourceGroup"],
            topology=data["topology"],
            role_scope=(data.get("identity") or {}).get("roleScope") or "resourceGroup",
            cluster_name=data["aks"]["name"],
            location=location or data.get("location"),
        )

    @property
    def node_group_scope(self) -> str:
        """The scope id of the group AKS will create; `<location>` stands in while the region is unknown."""
        region = self.location or "<location>"
        group = naming.node_resource_group(self.resource_group, self.cluster_name, region)
        return naming.resource_group_scope(self.subscription_id, group)


def needs(request: Any, location: str | None = None) -> list[Need]:
    """Every action the run performs for `request` (a SetupRequest, its normalized dict or a Target), in a
    stable order. `location`: the resource group's, when the request leaves it to the group (the node
    resource group's name carries the region)."""
    target = Target.of(request, location)
    subscription = naming.subscription_scope(target.subscription_id)
    group = naming.resource_group_scope(target.subscription_id, target.resource_group)
    node_group = target.node_group_scope
    kind = topology.of(target.topology)
    node_actions = roles.NODE_RESOURCE_GROUP_ACTIONS if kind.separate_hopsworks_network else ()
    role_actions = roles.SUBSCRIPTION_ROLE_ACTIONS if target.role_scope == "subscription" else ()
    return [
        *(Need(action, RESOURCE_GROUP, group, group) for action in kind.required_actions()),
        *(Need(action, NODE_RESOURCE_GROUP, node_group, subscription) for action in node_actions),
        *(Need(action, SUBSCRIPTION, subscription, subscription) for action in role_actions),
        *(Need(action, SUBSCRIPTION, subscription, subscription, False) for action in OPTIONAL_CHECKS),
    ]


# Optional actions (subscription scope): what each lets preflight check ahead, and what decides without it.
OPTIONAL_CHECKS: dict[str, tuple[str, str]] = {
    roles.CHECK_REGISTRY_NAME_ACTION: (
        "whether the container registry name is free",
        "the registry create's own AlreadyInUse decides",
    ),
    roles.LIST_SUBSCRIPTION_VNETS_ACTION: (
        "whether the new vnets' address spaces overlap the vnets they will be peered with or their peers",
        "Azure's own VnetAddressSpacesOverlap answer to the peering write decides",
    ),
}


def unchecked_note(action: str, why: str) -> str:
    """The note for an optional check preflight could not make (`why`: what refused it)."""
    what, otherwise = OPTIONAL_CHECKS[action]
    return f"could not check ahead {what}: {why}; {otherwise}"


# ---------------------------------------------------------------- evaluating the caller's grants


@dataclass(frozen=True)
class Grants:
    """The caller's permissions as preflight reads them, each a list of `{"actions", "notActions"}` entries.

    `group`: the permissions API's answer on the resource group (every grant that applies there, inherited
    ones included). `above_group`: the permissions of the caller's role assignments at subscription scope or
    above, the only ones that reach the subscription itself and the node resource group (the permissions API
    has no subscription variant, and the node resource group does not exist yet).
    """

    group: tuple[Mapping[str, object], ...]
    # None: unknown (the caller may not list its role assignments, which the group's answer shows missing)
    above_group: tuple[Mapping[str, object], ...] | None
    principal_id: str | None = None  # the caller's object id (its token's `oid`), for messages

    @classmethod
    def from_reads(
        cls,
        group_scope: str,
        group_permissions: Iterable[Mapping[str, object]],
        assignments: Iterable[tuple[str, Iterable[Mapping[str, object]]]] | None,
        principal_id: str | None = None,
    ) -> Grants:
        """`assignments`: the caller's role assignments that apply at the group, as (scope, permissions of
        the role); None when they could not be listed."""
        above = None if assignments is None else tuple(
            entry
            for scope, entries in assignments
            if not scope_contains(group_scope, scope)
            for entry in entries
        )
        return cls(tuple(group_permissions), above, principal_id)

    def knows(self, need: Need) -> bool:
        return need.scope_kind == RESOURCE_GROUP or self.above_group is not None

    def allow(self, need: Need) -> bool:
        entries = self.group if need.scope_kind == RESOURCE_GROUP else self.above_group
        return roles.is_allowed(need.action, entries or ())


def missing(required: Iterable[Need], grants: Grants) -> list[Need]:
    """The required needs `grants` do not allow, in order (those it cannot tell about are left out)."""
    return [need for need in required if need.required and grants.knows(need) and not grants.allow(need)]


def scope_contains(outer: str, inner: str) -> bool:
    """Whether a grant at `outer` applies at `inner` (the same scope or beneath it; case-insensitive)."""
    above, below = outer.rstrip("/").casefold(), inner.rstrip("/").casefold()
    return above in ("", "/") or below == above or below.startswith(above + "/")


# ---------------------------------------------------------------- least privilege


@dataclass(frozen=True)
class RoleGrant:
    """A built-in role assigned at a scope, and the required actions it is there for."""

    role: roles.BuiltInRole
    scope: str
    covers: tuple[str, ...]

    def reaches(self, need: Need) -> bool:
        return self.role.allows(need.action) and scope_contains(self.scope, need.scope)

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role.name,
            "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{self.role.guid}",
            "scope": self.scope,
            "covers": list(self.covers),
        }


def builtin_grants(all_needs: Iterable[Need]) -> list[RoleGrant]:
    """Built-in role assignments that together allow every required need, each role as narrow as the
    built-in roles allow and each at the narrowest scope that reaches its needs.

    Each need not yet allowed takes the first candidate that allows it (narrowest scope first, then the
    narrowest role, `roles.GRANTABLE_ROLES`); then every assignment the others make redundant is dropped,
    latest first.
    """
    required = [need for need in all_needs if need.required]
    scopes = sorted({need.grant_scope for need in required}, key=lambda scope: (-scope.count("/"), scope))
    candidates = [RoleGrant(role, scope, ()) for scope in scopes for role in roles.GRANTABLE_ROLES]
    chosen: list[RoleGrant] = []
    for need in required:
        if not any(grant.reaches(need) for grant in chosen):
            chosen.append(next(grant for grant in candidates if grant.reaches(need)))
    for grant in reversed(list(chosen)):
        others = [other for other in chosen if other is not grant]
        if all(any(other.reaches(need) for other in others) for need in required):
            chosen = others
    chosen.sort(key=lambda grant: (-grant.scope.count("/"), _DISPLAY_ORDER.index(grant.role)))
    return [
        RoleGrant(g.role, g.scope, tuple(roles.unique(n.action for n in required if g.reaches(n))))
        for g in chosen
    ]


# How the assignments at one scope are listed, broadest first: every one of roles.GRANTABLE_ROLES.
_DISPLAY_ORDER = (
    roles.OWNER,
    roles.CONTRIBUTOR,
    roles.USER_ACCESS_ADMINISTRATOR,
    roles.RBAC_ADMINISTRATOR,
    roles.NETWORK_CONTRIBUTOR,
    roles.PRIVATE_DNS_ZONE_CONTRIBUTOR,
)


@dataclass(frozen=True)
class CustomRole:
    """A custom role with exactly the actions the run uses at one grant scope (no wildcard, no notActions)."""

    name: str
    scope: str
    actions: tuple[str, ...]

    @property
    def file_name(self) -> str:
        """Where the printed `az role definition create --role-definition @<file>` expects the definition."""
        on_group = "/resourcegroups/" in self.scope.casefold()
        return "hopsworks-setup.json" if on_group else "hopsworks-setup-subscription.json"

    def definition(self) -> dict[str, Any]:
        """The role definition as `az role definition create --role-definition @file` reads it."""
        return {
            "Name": self.name,
            "IsCustom": True,
            "Description": "What the Hopsworks AKS/ACR setup app does, and nothing else "
            "(python -m client permissions).",
            "Actions": list(self.actions),
            "NotActions": [],
            "AssignableScopes": [self.scope],
        }

    def to_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "definition": self.definition()}


def custom_roles(all_needs: Iterable[Need], resource_group: str, subscription_id: str) -> list[CustomRole]:
    """One custom role per grant scope: the resource group's (less what the subscription's role already
    allows there) and, when needed, the subscription's."""
    required = [need for need in all_needs if need.required]
    group_scopes = {need.grant_scope for need in required if need.scope_kind == RESOURCE_GROUP}
    above = [need for need in required if need.grant_scope not in group_scopes]
    subscription_actions = tuple(roles.unique(need.action for need in above))
    folded = {action.casefold() for action in subscription_actions}
    names = {"resource_group": resource_group, "subscription_id": subscription_id}
    found = [
        CustomRole(CUSTOM_ROLE_NAME.format(**names), scope, tuple(roles.unique(
            n.action for n in required if n.grant_scope == scope and n.action.casefold() not in folded
        )))
        for scope in sorted(group_scopes)
    ]
    found += [
        CustomRole(CUSTOM_SUBSCRIPTION_ROLE_NAME.format(**names), scope, subscription_actions)
        for scope in sorted({need.grant_scope for need in above})
    ]
    return [role for role in found if role.actions]


# ---------------------------------------------------------------- the plan the CLI prints


@dataclass(frozen=True)
class PermissionPlan:
    target: Target
    needs: tuple[Need, ...]
    builtin: tuple[RoleGrant, ...]
    custom: tuple[CustomRole, ...]

    @property
    def optional(self) -> list[Need]:
        return [need for need in self.needs if not need.required]

    def grant_for(self, need: Need) -> str:
        """What to grant for `need`, in words: the built-in role assignment of this plan that allows it."""
        grant = next((g for g in self.builtin if g.reaches(need)), None)
        if grant is None:  # an optional need: any role that allows it at the subscription
            return f"a role allowing '{need.action}' on {need.grant_scope} (e.g. Reader)"
        return f"'{grant.role.name}' on {grant.scope}"

    def az_commands(self, principal: str = PRINCIPAL_PLACEHOLDER) -> list[str]:
        """Shell commands that create the custom roles and assign them to the app's identity."""
        write = ROLE_ASSIGNMENT_WRITE.casefold()
        created = [f"az role definition create --role-definition @{role.file_name}" for role in self.custom]
        return created + [
            assignment_command(principal, role.name, role.scope, write in map(str.casefold, role.actions))
            for role in self.custom
        ]

    def builtin_az_commands(self, principal: str = PRINCIPAL_PLACEHOLDER) -> list[str]:
        return [
            assignment_command(principal, g.role.name, g.scope, g.role.allows(ROLE_ASSIGNMENT_WRITE))
            for g in self.builtin
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "subscriptionId": self.target.subscription_id,
            "resourceGroup": self.target.resource_group,
            "topology": self.target.topology,
            "roleScope": self.target.role_scope,
            "builtInRoleAssignments": [grant.to_dict() for grant in self.builtin],
            "customRoles": [role.to_dict() for role in self.custom],
            "azCommands": {"customRoles": self.az_commands(), "builtInRoles": self.builtin_az_commands()},
            "actions": [need.to_dict() for need in self.needs],
        }


def plan(request: Any, location: str | None = None) -> PermissionPlan:
    """The permissions `request` (a SetupRequest, its normalized dict or a Target) needs and what to grant."""
    target = Target.of(request, location)
    found = needs(target)
    return PermissionPlan(
        target,
        needs=tuple(found),
        builtin=tuple(builtin_grants(found)),
        custom=tuple(custom_roles(found, target.resource_group, target.subscription_id)),
    )


MISSING_PERMISSION = "MissingPermission"


@dataclass(frozen=True)
class Findings:
    """Preflight's verdict on the caller's grants: problems (each `{code, target, message}`) fail the run;
    notes say what could not be checked ahead."""

    problems: tuple[dict[str, str], ...]
    notes: tuple[str, ...]


def check_grants(request: Any, grants: Grants, location: str | None = None) -> Findings:
    """Every required action `grants` do not allow, each naming the action, the scope and what to grant;
    a note for each optional one (the run goes on without it)."""
    permission_plan = plan(request, location)
    grant_for = permission_plan.grant_for
    who = f"the app's identity ({grants.principal_id})" if grants.principal_id else "the app's identity"
    problems = tuple(
        {
            "code": MISSING_PERMISSION,
            "target": need.action,
            "message": f"{who} lacks '{need.action}' on {need.where}; grant {grant_for(need)} "
            "(python -m client permissions lists every grant)",
        }
        for need in missing(permission_plan.needs, grants)
    )
    notes = [
        unchecked_note(need.action, f"{who} lacks '{need.action}' on {need.where}")
        for need in permission_plan.optional
        if grants.knows(need) and not grants.allow(need)
    ]
    unknown = [need for need in permission_plan.needs if need.required and not grants.knows(need)]
    if unknown:
        notes.append(
            f"could not check the grants above the resource group ({len(unknown)} actions on the "
            f"subscription or the node resource group): {who} could not read its role assignments"
        )
    return Findings(problems, tuple(notes))


def render_text(permission_plan: PermissionPlan, principal: str = PRINCIPAL_PLACEHOLDER) -> str:
    """The plan for a person: the role assignments, the custom roles with their `az` commands, the actions."""
    p, target = permission_plan, permission_plan.target
    lines = [
        f"Permissions the app's identity needs for resource group '{target.resource_group}' "
        f"(topology {target.topology}, identity.roleScope {target.role_scope})",
        "",
        "Built-in role assignments (least privilege with built-in roles):",
    ]
    width = max(len(grant.role.name) for grant in p.builtin)
    lines += [f"  {grant.role.name.ljust(width)}  on {grant.scope}" for grant in p.builtin]
    node = next((need for need in p.needs if need.scope_kind == NODE_RESOURCE_GROUP), None)
    if node is not None:
        lines.append(
            "  (the subscription grant is for the cluster's private DNS zone in "
            f"{node.scope.rsplit('/', 1)[-1]}: AKS creates that group with the cluster, so no narrower grant "
            "can exist before the run)"
        )
    lines += ["", "  set +H  # interactive bash: the '!' of the conditions below is not history expansion"]
    lines += [*[f"  {command}" for command in p.builtin_az_commands(principal)], ""]
    roles_assigned = ", ".join(role.name for role in ASSIGNED_ROLES)
    lines += [
        "  --condition: a grant that may write role assignments could assign any role (Owner too); the",
        f"  condition lets it assign only the roles the run assigns ({roles_assigned}).",
        "",
    ]
    lines.append("Or the equivalent custom roles (exactly the actions the run uses):")
    for role in p.custom:
        lines += ["", f"  {role.file_name} (assign on {role.scope}):"]
        lines += ["    " + line for line in json.dumps(role.definition(), indent=2).splitlines()]
    lines += ["", *[f"  {command}" for command in p.az_commands(principal)], ""]
    lines.append(f"{principal}: the function app's principal id "
                 "(az functionapp identity show -g <group> -n <app> --query principalId -o tsv)")
    for need in p.optional:
        what, otherwise = OPTIONAL_CHECKS[need.action]
        lines.append(
            f"Optional: '{need.action}' on {need.grant_scope} lets preflight check ahead {what}; without it "
            f"{otherwise}."
        )
    return "\n".join(lines) + "\n"
