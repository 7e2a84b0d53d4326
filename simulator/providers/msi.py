"""Microsoft.ManagedIdentity/userAssignedIdentities (api-version 2024-11-30, what azure-mgmt-msi 7.1.0 sends).

Synchronous: PUT answers 201 (created) / 200 (updated) with the final body, DELETE 200 / 204 (absent). Every
identity gets principalId/clientId GUIDs and registers its principal, so role assignments can name it.
Azure answers ids with ``resourcegroups`` in lower case here (see the official examples).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from simulator.arm import TENANT_ID, Arm, ArmError, Request, Response, new_guid

TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
API_VERSIONS = {"2023-01-31", "2023-07-31-preview", "2024-11-30", "2025-01-31-preview"}
RG = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
ID = RG + "/providers/" + TYPE + "/{resourceName}"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$")


def register(arm: Arm) -> None:
    arm.route("PUT", ID, put_identity, resource_type=TYPE, api_versions=API_VERSIONS)
    arm.route("PATCH", ID, patch_identity, resource_type=TYPE, api_versions=API_VERSIONS)
    arm.route("GET", ID, get_identity, resource_type=TYPE, api_versions=API_VERSIONS)
    arm.route("DELETE", ID, delete_identity, resource_type=TYPE, api_versions=API_VERSIONS)
    arm.route(
        "GET", RG + "/providers/" + TYPE, list_identities, resource_type=TYPE, api_versions=API_VERSIONS
    )


def identity_id(subscription_id: str, resource_group: str, name: str) -> str:
    return f"/subscriptions/{subscription_id}/resourcegroups/{resource_group}/providers/{TYPE}/{name}"


def put_identity(arm: Arm, req: Request) -> Response:
    name = req.params["resourceName"]
    if not _NAME.match(name):
        raise ArmError(
            400,
            "InvalidResourceName",
            f"Resource name '{name}' is invalid. The name can contain only letters, numbers, underscores and "
            "hyphens, 3 to 128 characters. The first character must be a letter or number.",
        )
    body = req.json_object()
    location = body.get("location")
    if not location or not isinstance(location, str):
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    tags = body.get("tags") or {}
    if not isinstance(tags, dict):
        raise ArmError(400, "InvalidRequestContent", "The property 'tags' must be an object.")
    existing = arm.store.get(req.resource_id)
    if existing is not None:
        if _norm(existing.body["location"]) != _norm(location):
            raise ArmError(
                400,
                "InvalidResourceLocation",
                f"The resource '{name}' already exists in location '{existing.body['location']}' in resource "
                f"group '{req.resource_group}'. A resource with the same name cannot be created in location "
                f"'{location}'. Please select a new resource name.",
            )
        existing.body["tags"] = dict(tags)
        return Response(200, copy.deepcopy(existing.body))
    principal_id = new_guid()
    rid = identity_id(req.subscription_id, req.resource_group, name)
    resource: dict[str, Any] = {
        "id": rid,
        "name": name,
        "type": TYPE,
        "location": location,
        "tags": dict(tags),
        "properties": {
            "tenantId": TENANT_ID,
            "principalId": principal_id,
            "clientId": new_guid(),
            "isolationScope": (body.get("properties") or {}).get("isolationScope", "None"),
        },
    }
    arm.store.put(rid, TYPE, resource, internal={"principals": [principal_id]})
    arm.register_principal(principal_id, "ServicePrincipal")
    return Response(201, copy.deepcopy(resource))


def patch_identity(arm: Arm, req: Request) -> Response:
    res = _get(arm, req)
    body = req.json_object()
    if "tags" in body:
        res.body["tags"] = dict(body.get("tags") or {})
    return Response(200, copy.deepcopy(res.body))


def get_identity(arm: Arm, req: Request) -> Response:
    return Response(200, copy.deepcopy(_get(arm, req).body))


def delete_identity(arm: Arm, req: Request) -> Response:
    if arm.store.get(req.resource_id) is None:
        return Response(204)
    arm.delete_resource(req.resource_id)
    return Response(200)


def list_identities(arm: Arm, req: Request) -> Response:
    rg_id = RG.format(subscriptionId=req.subscription_id, resourceGroupName=req.resource_group)
    return Response(200, {"value": [copy.deepcopy(r.body) for r in arm.store.children(rg_id, TYPE)]})


def _get(arm: Arm, req: Request) -> Any:
    res = arm.store.get(req.resource_id)
    if res is None:
        raise arm.not_found(req.resource_id)
    return res


def _norm(location: str) -> str:
    return location.replace(" ", "").lower()
