"""Microsoft.Resources: resource groups (the worked example of a provider).

Azure's answers: PUT 201 (created) / 200 (updated), location fixed once created (409
InvalidResourceGroupLocation); GET/HEAD 404 ResourceGroupNotFound; DELETE 202 with a Location URL, the group
stays Deleting until the operation ends, then it and everything in it is gone.
"""

from __future__ import annotations

import copy
import re

from simulator.arm import Arm, ArmError, Request, Response

TYPE = "Microsoft.Resources/resourceGroups"
RG = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
_NAME = re.compile(r"^[-\w._()]{1,90}$")


def register(arm: Arm) -> None:
    arm.route("PUT", RG, put_group, resource_type=TYPE)
    arm.route("PATCH", RG, patch_group, resource_type=TYPE)
    arm.route("GET", RG, get_group, resource_type=TYPE)
    arm.route("HEAD", RG, head_group, resource_type=TYPE)
    arm.route("DELETE", RG, delete_group, resource_type=TYPE)
    arm.route("GET", "/subscriptions/{subscriptionId}/resourceGroups", list_groups, resource_type=TYPE)


def _not_found(name: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")


def _get(arm: Arm, req: Request) -> dict:
    res = arm.store.get(req.resource_id)
    if res is None:
        raise _not_found(req.resource_group)
    return res.body


def put_group(arm: Arm, req: Request) -> Response:
    name = req.resource_group
    if not _NAME.match(name) or name.endswith("."):
        raise ArmError(
            400,
            "InvalidResourceGroup",
            f"The provided resource group name '{name}' has these invalid characters: or is too long.",
        )
    body = req.json_object()
    location = body.get("location")
    if not location:
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    existing = arm.store.get(req.resource_id)
    if existing is not None:
        arm.ensure_idle(req.resource_id, "ResourceGroupBeingDeleted")
        if existing.body["location"].replace(" ", "").lower() != str(location).replace(" ", "").lower():
            raise ArmError(
                409,
                "InvalidResourceGroupLocation",
                f"Invalid resource group location '{location}'. The Resource group already exists in "
                f"location '{existing.body['location']}'.",
            )
        existing.body["tags"] = dict(body.get("tags") or {})
        return Response(200, copy.deepcopy(existing.body))
    stored = arm.add_resource_group(req.subscription_id, name, location, body.get("tags"))
    if body.get("managedBy"):
        stored["managedBy"] = body["managedBy"]
    return Response(201, copy.deepcopy(stored))


def patch_group(arm: Arm, req: Request) -> Response:
    current = _get(arm, req)
    body = req.json_object()
    if "tags" in body:
        current["tags"] = dict(body.get("tags") or {})
    return Response(200, copy.deepcopy(current))


def get_group(arm: Arm, req: Request) -> Response:
    return Response(200, copy.deepcopy(_get(arm, req)))


def head_group(arm: Arm, req: Request) -> Response:
    return Response(204 if arm.store.get(req.resource_id) else 404)


def delete_group(arm: Arm, req: Request) -> Response:
    res = arm.store.get(req.resource_id)
    if res is None:
        raise _not_found(req.resource_group)
    if arm.active_operation(req.resource_id) is not None:  # already being deleted: same answer again
        return Response(
            202,
            None,
            {
                "Location": arm.endpoint
                + arm.active_operation(req.resource_id).result_path()
                + f"?api-version={req.api_version}"
            },
        )
    res.body["properties"]["provisioningState"] = "Deleting"
    return arm.start_lro(req, req.resource_id, "delete", status=202, headers=("Location",))


def list_groups(arm: Arm, req: Request) -> Response:
    prefix = f"/subscriptions/{req.subscription_id}/resourcegroups/".lower()
    groups = [copy.deepcopy(r.body) for r in arm.store.of_type(TYPE) if r.id.lower().startswith(prefix)]
    return Response(200, {"value": groups})
