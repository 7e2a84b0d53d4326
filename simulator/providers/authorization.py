"""Microsoft.Authorization: role assignments and role definitions at any scope, the caller's permissions.

The model (built-in and custom roles, configured grants, who may do what) is ``simulator/rbac.py``; the core
authorizes every request before a handler here runs. Listing shows the configured grants (as role assignments
with deterministic names) next to the ones made through ARM.

Api-version 2022-04-01 (what azure-mgmt-authorization 4.0.0 sends). Azure's rules modelled here:

* a role assignment's name is a GUID (400 ``InvalidRoleAssignmentId``);
* its scope must exist (subscription: any GUID; resource group: 404 ``ResourceGroupNotFound`` from the core;
  resource: 404 ``ResourceNotFound``);
* its role definition must exist (400 ``RoleDefinitionDoesNotExist``; malformed id: 400
  ``InvalidRoleDefinitionId``);
* its principal must be known and replicated (400 ``PrincipalNotFound``; see ``Arm.principal_visible``) and of
  the given ``principalType`` (400 ``UnmatchedPrincipalType``);
* the same (scope, role, principal) under another name: 409 ``RoleAssignmentExists``; the same name with other
  properties: 409 ``RoleAssignmentUpdateNotPermitted``; the same name and properties: 200 with the stored one;
* DELETE answers 200 with the deleted assignment, 204 when absent;
* deleting a resource removes the assignments scoped at or under it (the store does that by id prefix);
* lists: at and above the scope, and beneath it unless ``$filter=atScope()``; ``principalId eq`` /
  ``assignedTo()`` filter by principal;
* custom roles: ``PUT .../roleDefinitions/{guid}`` (one permission block, assignable scopes; 409
  ``RoleDefinitionWithSameNameExists``), DELETE (409 ``RoleDefinitionHasAssignments`` while assigned);
* permissions: ``Permissions_ListForResourceGroup`` and ``Permissions_ListForResource`` only (no subscription
  variant: the core answers 404 ``InvalidResourceType``), one entry per assignment that applies there.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from simulator.arm import TENANT_ID, Arm, ArmError, Request, Response, is_guid, parse_resource_id, utc_now_iso
from simulator.rbac import APP_PRINCIPAL_ID, Assignment, scope_covers

RA_TYPE = "Microsoft.Authorization/roleAssignments"
RD_TYPE = "Microsoft.Authorization/roleDefinitions"
API_VERSIONS = {"2022-04-01", "2020-10-01-preview", "2020-04-01-preview", "2018-01-01-preview", "2015-07-01"}
RA_ITEM = "/{scope*}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}"
RA_LIST = "/{scope*}/providers/Microsoft.Authorization/roleAssignments"
RD_ITEM = "/{scope*}/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionId}"
RD_LIST = "/{scope*}/providers/Microsoft.Authorization/roleDefinitions"
RG = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
# Permissions_ListForResourceGroup and Permissions_ListForResource: there is no subscription-scope variant.
PERMISSIONS = RG + "/providers/Microsoft.Authorization/permissions"
RESOURCE_PERMISSIONS = (
    RG + "/providers/{resourceProviderNamespace}/{resourcePath*}"
    "/providers/Microsoft.Authorization/permissions"
)
PERMISSIONS_TYPE = "Microsoft.Authorization/permissions"
# Creation time shown on the simulator's configured grants (they were made before any run).
GRANT_CREATED_ON = "2024-01-01T00:00:00.0000000Z"

_ROLE_DEF_ID = re.compile(
    r"^(?:/subscriptions/(?P<sub>[^/]+))?/providers/Microsoft\.Authorization/roleDefinitions/(?P<guid>[^/]+)$",
    re.IGNORECASE,
)
PRINCIPAL_TYPES = {"User", "Group", "ServicePrincipal", "ForeignGroup", "Device"}


def register(arm: Arm) -> None:
    for method, handler in (("PUT", put_assignment), ("GET", get_assignment), ("DELETE", delete_assignment)):
        arm.route(method, RA_ITEM, handler, resource_type=RA_TYPE, api_versions=API_VERSIONS)
    arm.route("GET", RA_LIST, list_assignments, resource_type=RA_TYPE, api_versions=API_VERSIONS)
    for method, handler in (("GET", get_definition), ("PUT", put_definition), ("DELETE", delete_definition)):
        arm.route(method, RD_ITEM, handler, resource_type=RD_TYPE, api_versions=API_VERSIONS)
    arm.route(
        "GET",
        "/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionId}",
        get_definition,
        resource_type=RD_TYPE,
        api_versions=API_VERSIONS,
    )
    arm.route("GET", RD_LIST, list_definitions, resource_type=RD_TYPE, api_versions=API_VERSIONS)
    for template in (PERMISSIONS, RESOURCE_PERMISSIONS):
        arm.route("GET", template, get_permissions, resource_type=PERMISSIONS_TYPE, api_versions=API_VERSIONS)


# ----- role definitions -------------------------------------------------------------------------------------
def _scope_subscription(scope: str) -> str | None:
    return parse_resource_id("/" + scope.strip("/")).get("subscription")


def _definition_not_found(guid: str) -> ArmError:
    return ArmError(
        404, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{guid}' does not exist."
    )


def get_definition(arm: Arm, req: Request) -> Response:
    guid = req.params["roleDefinitionId"].lower()
    role = arm.rbac.role(guid) if is_guid(guid) else None
    if role is None:
        raise _definition_not_found(guid)
    return Response(200, role.body(_scope_subscription(req.params.get("scope", ""))))


def list_definitions(arm: Arm, req: Request) -> Response:
    flt = (req.query.get("$filter") or "").strip()
    by_name = re.fullmatch(r"roleName\s+eq\s+'(?P<name>[^']*)'", flt, re.IGNORECASE)
    by_type = re.fullmatch(r"type\s+eq\s+'(?P<type>BuiltInRole|CustomRole)'", flt, re.IGNORECASE)
    if flt and not (by_name or by_type):
        raise ArmError(400, "UnsupportedQuery", f"The filter '{flt}' is not supported.")
    scope = "/" + req.params["scope"].strip("/")
    roles = [
        r
        for r in arm.rbac.all_roles()
        if any(scope_covers(s, scope) or scope_covers(scope, s) for s in r.assignable_scopes)
        and (by_name is None or r.role_name.lower() == by_name.group("name").lower())
        and (by_type is None or r.role_type.lower() == by_type.group("type").lower())
    ]
    sub = _scope_subscription(scope)
    return Response(200, {"value": [r.body(sub) for r in roles]})


def _permission_block(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise ArmError(400, "InvalidRoleDefinition", "Each entry of 'permissions' must be an object.")
    out: dict[str, list[str]] = {}
    for key in ("actions", "notActions", "dataActions", "notDataActions"):
        items = value.get(key) or []
        if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
            raise ArmError(400, "InvalidActionOrNotAction", f"'permissions.{key}' must be a list of actions.")
        out[key] = items
    return out


def put_definition(arm: Arm, req: Request) -> Response:
    """A custom role (``type: CustomRole``): one permission block and its assignable scopes."""
    guid = req.params["roleDefinitionId"].lower()
    if not is_guid(guid):
        raise ArmError(400, "InvalidRoleDefinitionId", f"The role definition ID '{guid}' is not valid.")
    props = req.json_object().get("properties")
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content is missing 'properties'.")
    role_name = props.get("roleName")
    if not isinstance(role_name, str) or not role_name.strip():
        raise ArmError(
            400, "RoleDefinitionNameNullOrEmpty", "The role definition name cannot be null or empty."
        )
    blocks = props.get("permissions")
    if not isinstance(blocks, list) or len(blocks) != 1:
        raise ArmError(400, "InvalidRoleDefinition", "'permissions' must hold exactly one permission object.")
    block = _permission_block(blocks[0])
    scopes = props.get("assignableScopes")
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) and s for s in scopes):
        raise ArmError(400, "InvalidRoleDefinition", "'assignableScopes' must name at least one scope.")
    if guid in {r.guid for r in arm.rbac.all_roles() if r.role_type == "BuiltInRole"}:
        raise ArmError(400, "InvalidRoleDefinition", f"The role definition '{guid}' is a built-in role.")
    existed = guid in arm.rbac.custom_roles
    try:
        role = arm.rbac.add_custom_role(
            role_name=role_name,
            actions=block["actions"],
            not_actions=block["notActions"],
            data_actions=block["dataActions"],
            not_data_actions=block["notDataActions"],
            assignable_scopes=scopes,
            description=str(props.get("description") or ""),
            guid=guid,
            created_on=utc_now_iso(),
        )
    except ValueError as exc:
        raise ArmError(409, "RoleDefinitionWithSameNameExists", str(exc)) from exc
    if not role.permissions[0].actions and not role.permissions[0].data_actions:
        del arm.rbac.custom_roles[guid]
        raise ArmError(400, "InvalidActionOrNotAction", "The role definition must grant at least one action.")
    return Response(200 if existed else 201, role.body(_scope_subscription(req.params["scope"])))


def delete_definition(arm: Arm, req: Request) -> Response:
    guid = req.params["roleDefinitionId"].lower()
    role = arm.rbac.custom_roles.get(guid)
    if role is None:
        return Response(204)
    if any(a.role_guid.lower() == guid for a in _all_assignments(arm)):
        raise ArmError(
            409, "RoleDefinitionHasAssignments", "There are existing role assignments referencing role."
        )
    del arm.rbac.custom_roles[guid]
    return Response(200, role.body(_scope_subscription(req.params["scope"])))


# ----- role assignments -------------------------------------------------------------------------------------
def _scope_id(req: Request) -> str:
    return "/" + req.params["scope"].strip("/")


def _check_scope(arm: Arm, scope: str) -> None:
    parts = scope.strip("/").split("/")
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        raise ArmError(400, "InvalidScope", f"The scope '{scope}' is not valid for role assignments.")
    if len(parts) == 2:
        return  # a subscription: every GUID is one
    if len(parts) == 4 and parts[2].lower() == "resourcegroups":
        return  # the core answered ResourceGroupNotFound already if it is missing
    if arm.store.get(scope) is None:
        raise arm.not_found(scope)


def _principal_type(arm: Arm, principal_id: str) -> str:
    if principal_id.lower() == APP_PRINCIPAL_ID:
        return "ServicePrincipal"
    return str(arm.principals[principal_id.lower()]["type"])


def _principal_visible(arm: Arm, req: Request, principal_id: str) -> bool:
    if principal_id.lower() == APP_PRINCIPAL_ID:
        return True  # the app's own identity exists before any run
    return arm.principal_visible(principal_id, req.method, req.path, RA_TYPE)


def put_assignment(arm: Arm, req: Request) -> Response:
    name = req.params["roleAssignmentName"]
    if not is_guid(name):
        raise ArmError(
            400,
            "InvalidRoleAssignmentId",
            f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.",
        )
    scope = _scope_id(req)
    _check_scope(arm, scope)
    body = req.json_object()
    props = body.get("properties")
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content is missing 'properties'.")
    role_id = props.get("roleDefinitionId")
    principal_id = props.get("principalId")
    if not isinstance(role_id, str) or not role_id:
        raise ArmError(400, "InvalidRoleDefinitionId", "The role definition ID '' is not valid.")
    m = _ROLE_DEF_ID.match(role_id)
    if not m or not is_guid(m.group("guid")):
        raise ArmError(400, "InvalidRoleDefinitionId", f"The role definition ID '{role_id}' is not valid.")
    role_guid = m.group("guid").lower()
    if arm.rbac.role(role_guid) is None:
        raise ArmError(
            400,
            "RoleDefinitionDoesNotExist",
            f"The specified role definition with ID '{role_guid}' does not exist.",
        )
    if not isinstance(principal_id, str) or not is_guid(principal_id):
        raise ArmError(
            400, "InvalidPrincipalId", "A valid principal ID must be provided for role assignment."
        )
    principal_type = props.get("principalType")
    if principal_type is not None and principal_type not in PRINCIPAL_TYPES:
        raise ArmError(400, "InvalidPrincipalType", f"The principal type '{principal_type}' is not valid.")
    rid = f"{scope}/providers/{RA_TYPE}/{name}"
    existing = arm.store.get(rid)
    if existing is not None:
        stored = existing.body["properties"]
        same = (
            stored["principalId"].lower() == principal_id.lower()
            and _role_guid(stored["roleDefinitionId"]) == role_guid
            and (principal_type is None or principal_type == stored["principalType"])
        )
        if not same:
            raise ArmError(
                409,
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
            )
        return Response(200, copy.deepcopy(existing.body))
    if not _principal_visible(arm, req, principal_id):
        raise ArmError(
            400,
            "PrincipalNotFound",
            f"Principal {principal_id.replace('-', '')} does not exist in the directory {TENANT_ID}. "
            "Check that you have the correct principal ID. If you are creating this principal and then "
            "immediately assigning a role, this error might be related to a replication delay. In this "
            "case, set the role assignment principalType property to a value, such as ServicePrincipal, "
            "User, or Group. See https://aka.ms/docs-principaltype",
        )
    actual_type = _principal_type(arm, principal_id)
    if principal_type is not None and principal_type != actual_type:
        raise ArmError(
            400,
            "UnmatchedPrincipalType",
            f"The PrincipalId '{principal_id.replace('-', '')}' has type '{actual_type}' , which is "
            f"different from specified PrincipalType '{principal_type}'.",
        )
    for other in arm.store.of_type(RA_TYPE):
        p = other.body["properties"]
        if (
            p["scope"].lower() == scope.lower()
            and p["principalId"].lower() == principal_id.lower()
            and _role_guid(p["roleDefinitionId"]) == role_guid
        ):
            raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
    now = utc_now_iso()
    resource = {
        "id": rid,
        "name": name,
        "type": RA_TYPE,
        "properties": {
            "roleDefinitionId": role_id,
            "principalId": principal_id,
            "principalType": principal_type or actual_type,
            "scope": scope,
            "condition": props.get("condition"),
            "conditionVersion": props.get("conditionVersion"),
            "description": props.get("description"),
            "delegatedManagedIdentityResourceId": props.get("delegatedManagedIdentityResourceId"),
            "createdOn": now,
            "updatedOn": now,
            "createdBy": None,
            "updatedBy": None,
        },
    }
    arm.store.put(rid, RA_TYPE, resource)
    return Response(201, copy.deepcopy(resource))


def _role_guid(role_definition_id: str) -> str:
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def _grant_body(arm: Arm, a: Assignment) -> dict[str, Any]:
    """A configured grant shown as ARM shows a role assignment."""
    sub = _scope_subscription(a.scope)
    return {
        "id": f"{a.scope}/providers/{RA_TYPE}/{a.name}",
        "name": a.name,
        "type": RA_TYPE,
        "properties": {
            "roleDefinitionId": f"/subscriptions/{sub}/providers/{RD_TYPE}/{a.role_guid}",
            "principalId": a.principal_id,
            "principalType": a.principal_type,
            "scope": a.scope,
            "condition": None,
            "conditionVersion": None,
            "description": None,
            "delegatedManagedIdentityResourceId": None,
            "createdOn": GRANT_CREATED_ON,
            "updatedOn": GRANT_CREATED_ON,
            "createdBy": None,
            "updatedBy": None,
        },
    }


def _assignment_body(arm: Arm, a: Assignment) -> dict[str, Any]:
    return copy.deepcopy(a.body) if a.body is not None else _grant_body(arm, a)


def _all_assignments(arm: Arm) -> list[Assignment]:
    """Every assignment in the simulated directory: ARM-made ones and configured grants (the
    ``/subscriptions/*`` ones are not enumerable and show only where they apply)."""
    return arm.stored_assignments() + [
        Assignment(g.principal_id, g.role_guid, g.scope, g.name)
        for g in arm.rbac.grants
        if "*" not in g.scope
    ]


def get_assignment(arm: Arm, req: Request) -> Response:
    scope = _scope_id(req)
    name = req.params["roleAssignmentName"].lower()
    for a in arm.assignments_at(scope):
        if a.name.lower() == name and a.scope.lower() == scope.lower():
            return Response(200, _assignment_body(arm, a))
    raise ArmError(
        404,
        "RoleAssignmentNotFound",
        f"The role assignment '{req.params['roleAssignmentName']}' is not found.",
    )


def delete_assignment(arm: Arm, req: Request) -> Response:
    rid = f"{_scope_id(req)}/providers/{RA_TYPE}/{req.params['roleAssignmentName']}"
    res = arm.store.get(rid)
    if res is None:
        return Response(204)
    body = copy.deepcopy(res.body)
    arm.store.delete(rid)
    return Response(200, body)


def _list_filter(flt: str) -> tuple[bool, str | None]:
    """(atScope(), principal id) from a role-assignment list ``$filter``."""
    at_scope = False
    principal = None
    for clause in re.split(r"\s+and\s+", flt.strip(), flags=re.IGNORECASE) if flt.strip() else []:
        if re.fullmatch(r"atScope\(\)", clause.strip(), re.IGNORECASE):
            at_scope = True
            continue
        m = re.fullmatch(
            r"(?:principalId\s+eq\s+|assignedTo\()'(?P<id>[^']+)'\)?", clause.strip(), re.IGNORECASE
        )
        if m:
            principal = m.group("id").lower()
            continue
        raise ArmError(400, "UnsupportedQuery", f"The filter '{flt}' is not supported.")
    return at_scope, principal


def list_assignments(arm: Arm, req: Request) -> Response:
    """Assignments at the scope and above it (inherited), and below it unless ``atScope()``, as ARM lists."""
    scope = _scope_id(req)
    at_scope, principal = _list_filter(req.query.get("$filter", "") or "")
    found = arm.assignments_at(scope, principal)
    if not at_scope:
        found += [
            a
            for a in _all_assignments(arm)
            if scope_covers(scope, a.scope)
            and a.scope.lower() != scope.lower()
            and (principal is None or a.principal_id.lower() == principal)
        ]
    return Response(200, {"value": [_assignment_body(arm, a) for a in found]})


# ----- permissions ------------------------------------------------------------------------------------------
def get_permissions(arm: Arm, req: Request) -> Response:
    """The caller's permissions at a group or resource: one entry per applicable assignment (inherited ones
    included); a simulator deny at or above the scope shows in each entry's ``notActions``."""
    scope = req.path.rsplit("/providers/Microsoft.Authorization/permissions", 1)[0]
    if scope.lower().endswith("/providers/microsoft.authorization/permissions"):
        scope = scope[: -len("/providers/microsoft.authorization/permissions")]
    scope = "/" + scope.strip("/")
    return Response(200, {"value": arm.rbac.permissions(arm.assignments_at(scope, req.caller), scope)})
