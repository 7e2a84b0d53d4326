"""Microsoft.Authorization: role assignments at any scope, built-in role definitions, permissions of a group.

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
* deleting a resource removes the assignments scoped at or under it (the store does that by id prefix).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from simulator.arm import TENANT_ID, Arm, ArmError, Request, Response, is_guid, parse_resource_id, utc_now_iso

RA_TYPE = "Microsoft.Authorization/roleAssignments"
RD_TYPE = "Microsoft.Authorization/roleDefinitions"
API_VERSIONS = {"2022-04-01", "2020-10-01-preview", "2020-04-01-preview", "2018-01-01-preview", "2015-07-01"}
RA_ITEM = "/{scope*}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}"
RA_LIST = "/{scope*}/providers/Microsoft.Authorization/roleAssignments"
RD_ITEM = "/{scope*}/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionId}"
RD_LIST = "/{scope*}/providers/Microsoft.Authorization/roleDefinitions"
RG = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
PERMISSIONS = RG + "/providers/Microsoft.Authorization/permissions"

# Built-in roles (GUIDs are the same in every tenant). name -> (guid, description, actions, dataActions)
BUILT_IN_ROLES: dict[str, tuple[str, str, list[str], list[str]]] = {
    "Owner": (
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
        ["*"],
        [],
    ),
    "Contributor": (
        "b24988ac-6180-42a0-ab88-20f7382dd24c",
        "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.",
        ["*"],
        [],
    ),
    "Reader": (
        "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "View all resources, but does not allow any changes.",
        ["*/read"],
        [],
    ),
    "User Access Administrator": (
        "18d7d88d-d35e-4fb5-a5c3-7773c4a72b9d",
        "Lets you manage user access to Azure resources.",
        ["*/read", "Microsoft.Authorization/*"],
        [],
    ),
    "AcrPull": (
        "7f951dda-4ed3-4680-a7ca-43fe172d538d",
        "acr pull",
        ["Microsoft.ContainerRegistry/registries/pull/read"],
        [],
    ),
    "AcrPush": (
        "8311e382-0749-4cb8-b61a-304f252e45ec",
        "acr push",
        [
            "Microsoft.ContainerRegistry/registries/pull/read",
            "Microsoft.ContainerRegistry/registries/push/write",
        ],
        [],
    ),
    "AcrDelete": (
        "c2f4ef07-c644-48eb-af81-4b1b4947fb11",
        "acr delete",
        ["Microsoft.ContainerRegistry/registries/artifacts/delete"],
        [],
    ),
    "Azure Kubernetes Service Cluster User Role": (
        "4abbcc35-e782-43d8-92c5-2d3f1bd2253f",
        "List cluster user credential action.",
        [
            "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
            "Microsoft.ContainerService/managedClusters/read",
        ],
        [],
    ),
    "Network Contributor": (
        "4d97b98b-1d4f-4787-a291-c67834d212e7",
        "Lets you manage networks, but not access to them.",
        [
            "Microsoft.Authorization/*/read",
            "Microsoft.Network/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
        ],
        [],
    ),
    "Managed Identity Operator": (
        "f1a07417-d97a-45cb-824c-7a7467783830",
        "Read and Assign User Assigned Identity",
        [
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
        ],
        [],
    ),
}
_NOT_ACTIONS = {
    "Contributor": [
        "Microsoft.Authorization/*/Delete",
        "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action",
    ],
}
ROLES_BY_GUID = {guid: name for name, (guid, *_rest) in BUILT_IN_ROLES.items()}
_ROLE_DEF_ID = re.compile(
    r"^(?:/subscriptions/(?P<sub>[^/]+))?/providers/Microsoft\.Authorization/roleDefinitions/(?P<guid>[^/]+)$",
    re.IGNORECASE,
)
PRINCIPAL_TYPES = {"User", "Group", "ServicePrincipal", "ForeignGroup", "Device"}


def register(arm: Arm) -> None:
    for method, handler in (("PUT", put_assignment), ("GET", get_assignment), ("DELETE", delete_assignment)):
        arm.route(method, RA_ITEM, handler, resource_type=RA_TYPE, api_versions=API_VERSIONS)
    arm.route("GET", RA_LIST, list_assignments, resource_type=RA_TYPE, api_versions=API_VERSIONS)
    arm.route("GET", RD_ITEM, get_definition, resource_type=RD_TYPE, api_versions=API_VERSIONS)
    arm.route(
        "GET",
        "/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionId}",
        get_definition,
        resource_type=RD_TYPE,
        api_versions=API_VERSIONS,
    )
    arm.route("GET", RD_LIST, list_definitions, resource_type=RD_TYPE, api_versions=API_VERSIONS)
    arm.route(
        "GET",
        PERMISSIONS,
        get_permissions,
        resource_type="Microsoft.Authorization/permissions",
        api_versions=API_VERSIONS,
    )


# ----- role definitions -------------------------------------------------------------------------------------
def role_definition(name: str, subscription_id: str | None) -> dict[str, Any]:
    guid, description, actions, data_actions = BUILT_IN_ROLES[name]
    prefix = f"/subscriptions/{subscription_id}" if subscription_id else ""
    return {
        "id": f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
        "name": guid,
        "type": RD_TYPE,
        "properties": {
            "roleName": name,
            "type": "BuiltInRole",
            "description": description,
            "assignableScopes": ["/"],
            "permissions": [
                {
                    "actions": list(actions),
                    "notActions": list(_NOT_ACTIONS.get(name, [])),
                    "dataActions": list(data_actions),
                    "notDataActions": [],
                }
            ],
            "createdOn": "2015-02-02T21:55:09.8806423Z",
            "updatedOn": "2024-01-01T00:00:00.0000000Z",
            "createdBy": None,
            "updatedBy": None,
        },
    }


def _scope_subscription(scope: str) -> str | None:
    return parse_resource_id("/" + scope.strip("/")).get("subscription")


def get_definition(arm: Arm, req: Request) -> Response:
    guid = req.params["roleDefinitionId"].lower()
    name = ROLES_BY_GUID.get(guid)
    if name is None:
        raise ArmError(
            404,
            "RoleDefinitionDoesNotExist",
            f"The specified role definition with ID '{guid}' does not exist.",
        )
    return Response(200, role_definition(name, _scope_subscription(req.params.get("scope", ""))))


def list_definitions(arm: Arm, req: Request) -> Response:
    wanted = None
    flt = req.query.get("$filter", "")
    m = re.match(r"^\s*roleName\s+eq\s+'(?P<name>[^']*)'\s*$", flt, re.IGNORECASE)
    if m:
        wanted = m.group("name").lower()
    elif flt and not re.match(r"^\s*type\s+eq\s+'BuiltInRole'\s*$", flt, re.IGNORECASE):
        raise ArmError(400, "UnsupportedQuery", f"The filter '{flt}' is not supported.")
    sub = _scope_subscription(req.params["scope"])
    return Response(
        200,
        {
            "value": [
                role_definition(name, sub)
                for name in BUILT_IN_ROLES
                if wanted is None or name.lower() == wanted
            ]
        },
    )


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
    if role_guid not in ROLES_BY_GUID:
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
    if not arm.principal_visible(principal_id, req.method, req.path, RA_TYPE):
        raise ArmError(
            400,
            "PrincipalNotFound",
            f"Principal {principal_id.replace('-', '')} does not exist in the directory {TENANT_ID}. "
            "Check that you have the correct principal ID. If you are creating this principal and then "
            "immediately assigning a role, this error might be related to a replication delay. In this "
            "case, set the role assignment principalType property to a value, such as ServicePrincipal, "
            "User, or Group. See https://aka.ms/docs-principaltype",
        )
    actual_type = arm.principals[principal_id.lower()]["type"]
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


def get_assignment(arm: Arm, req: Request) -> Response:
    rid = f"{_scope_id(req)}/providers/{RA_TYPE}/{req.params['roleAssignmentName']}"
    res = arm.store.get(rid)
    if res is None:
        raise ArmError(
            404,
            "RoleAssignmentNotFound",
            f"The role assignment '{req.params['roleAssignmentName']}' is not found.",
        )
    return Response(200, copy.deepcopy(res.body))


def delete_assignment(arm: Arm, req: Request) -> Response:
    rid = f"{_scope_id(req)}/providers/{RA_TYPE}/{req.params['roleAssignmentName']}"
    res = arm.store.get(rid)
    if res is None:
        return Response(204)
    body = copy.deepcopy(res.body)
    arm.store.delete(rid)
    return Response(200, body)


def list_assignments(arm: Arm, req: Request) -> Response:
    scope = _scope_id(req).lower()
    flt = req.query.get("$filter", "") or ""
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
    out = []
    for ra in arm.store.of_type(RA_TYPE):
        p = ra.body["properties"]
        ra_scope = p["scope"].lower()
        above_or_at = scope == ra_scope or scope.startswith(ra_scope + "/")
        below = ra_scope.startswith(scope + "/")
        if not (above_or_at or (below and not at_scope)):
            continue
        if principal and p["principalId"].lower() != principal:
            continue
        out.append(copy.deepcopy(ra.body))
    return Response(200, {"value": out})


# ----- permissions ------------------------------------------------------------------------------------------
def get_permissions(arm: Arm, req: Request) -> Response:
    denied = arm.denied_actions(req.subscription_id, req.resource_group)
    return Response(
        200,
        {"value": [{"actions": ["*"], "notActions": denied, "dataActions": [], "notDataActions": []}]},
    )
