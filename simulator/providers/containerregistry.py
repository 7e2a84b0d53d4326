"""Microsoft.ContainerRegistry/registries (api-version 2025-11-01, what azure-mgmt-containerregistry 15.0.0
sends), as ACR answers.

* ``POST .../providers/Microsoft.ContainerRegistry/checkNameAvailability``: names are 5-50 letters and
  digits (``reason: Invalid`` otherwise) and globally unique across all subscriptions, case-insensitively
  (``nameAvailable: false``, ``reason: AlreadyExists``, "The registry <name> is already in use.", as in
  the official example).
* PUT: 201 (created) / 200 (updated) with ``provisioningState`` Creating/Updating and
  ``Azure-AsyncOperation``; the name rules again (400 ``InvalidResourceName``) and a name another registry
  holds anywhere -> 409 ``AlreadyInUse`` with ACR's text ("The registry DNS name <name>.azurecr.io is
  already in use ..."). ``loginServer`` is ``<name lower-case>.azurecr.io``. ``roleAssignmentMode``
  (``LegacyRegistryPermissions`` by default, or ``AbacRepositoryPermissions``) is kept as sent.
* PATCH: 201 + ``Azure-AsyncOperation`` (``Updating``) like the example; it **merges**: only the
  properties and policies present in the body change, and within a policy only the fields sent.
  ``retentionPolicy`` enabled on a registry that is not Premium (after the PATCH) -> 400
  ``RetentionPolicyNotSupported``; enabled together with an enabled ``softDeletePolicy`` -> 400
  ``RetentionPolicyConflictsWithSoftDelete``.
* DELETE: 202 with ``Location``; 204 when absent; the name is free again afterwards.
* A write while an operation runs on the registry -> 409 ``OperationNotAllowed``.

Codes seen from Azure (CLI output in public issues): ``AlreadyInUse``. Chosen here, after ACR's style (e.g.
its ``DisablingPublicNetworkAccessNotSupported``): ``InvalidResourceName``, ``InvalidSku``,
``RetentionPolicyNotSupported``, ``RetentionPolicyConflictsWithSoftDelete``, ``OperationNotAllowed``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from simulator.arm import Arm, ArmError, Request, Resource, Response, utc_now_iso

API_VERSIONS = {"2025-11-01", "2025-04-01", "2023-07-01", "2023-11-01-preview"}
TYPE = "Microsoft.ContainerRegistry/registries"
RG_PATH = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
REGISTRIES = RG_PATH + "/providers/Microsoft.ContainerRegistry/registries"
REGISTRY = REGISTRIES + "/{registryName}"
CHECK_NAME = "/subscriptions/{subscriptionId}/providers/Microsoft.ContainerRegistry/checkNameAvailability"

SKUS = ("Basic", "Standard", "Premium")
ROLE_ASSIGNMENT_MODES = ("LegacyRegistryPermissions", "AbacRepositoryPermissions")
_NAME = re.compile(r"^[a-zA-Z0-9]{5,50}$")
_NAME_RULE = (
    "Registry names may contain only alpha numeric characters and must be between 5 and 50 characters."
)


def register(arm: Arm) -> None:
    v = API_VERSIONS
    arm.route(
        "POST",
        CHECK_NAME,
        check_name,
        resource_type=TYPE,
        api_versions=v,
        action="Microsoft.ContainerRegistry/checkNameAvailability/read",
    )
    arm.route("PUT", REGISTRY, put_registry, resource_type=TYPE, api_versions=v)
    arm.route("PATCH", REGISTRY, patch_registry, resource_type=TYPE, api_versions=v)
    arm.route("GET", REGISTRY, get_registry, resource_type=TYPE, api_versions=v)
    arm.route("DELETE", REGISTRY, delete_registry, resource_type=TYPE, api_versions=v)
    arm.route("GET", REGISTRIES, list_registries, resource_type=TYPE, api_versions=v)
    arm.route(
        "GET",
        "/subscriptions/{subscriptionId}/providers/Microsoft.ContainerRegistry/registries",
        list_all_registries,
        resource_type=TYPE,
        api_versions=v,
    )


def holder_of(arm: Arm, name: str) -> Resource | None:
    """The registry (in any subscription) that holds ``name``, if any."""
    low = name.lower()
    return next((r for r in arm.store.of_type(TYPE) if r.body["name"].lower() == low), None)


def check_name(arm: Arm, req: Request) -> Response:
    body = req.json_object()
    name = str(body.get("name") or "")
    rtype = str(body.get("type") or "")
    if rtype.lower() != TYPE.lower():
        raise ArmError(
            400,
            "InvalidResourceType",
            f"The resource type '{rtype}' is invalid: checkNameAvailability expects '{TYPE}'.",
        )
    if not _NAME.match(name):
        return Response(200, {"nameAvailable": False, "reason": "Invalid", "message": _NAME_RULE})
    if holder_of(arm, name) is not None:
        return Response(
            200,
            {
                "nameAvailable": False,
                "reason": "AlreadyExists",
                "message": f"The registry {name} is already in use.",
            },
        )
    return Response(200, {"nameAvailable": True})


# ----- policies ----------------------------------------------------------------------------------------
def default_policies() -> dict[str, Any]:
    return {
        "quarantinePolicy": {"status": "disabled"},
        "trustPolicy": {"type": "Notary", "status": "disabled"},
        "retentionPolicy": {"days": 7, "lastUpdatedTime": utc_now_iso(), "status": "disabled"},
        "exportPolicy": {"status": "enabled"},
        "azureADAuthenticationAsArmPolicy": {"status": "enabled"},
        "softDeletePolicy": {"retentionDays": 7, "lastUpdatedTime": utc_now_iso(), "status": "disabled"},
    }


def merge_policies(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Policies after a PATCH: each policy sent replaces only the fields it carries."""
    merged = copy.deepcopy(current)
    for key, value in (changes or {}).items():
        if value is None:
            continue
        if not isinstance(value, dict):
            raise ArmError(400, "InvalidRequestContent", f"properties.policies.{key} must be an object.")
        target = merged.setdefault(key, {})
        for field, field_value in value.items():
            if field_value is not None and field != "lastUpdatedTime":
                target[field] = field_value
        if key in ("retentionPolicy", "softDeletePolicy") and value:
            target["lastUpdatedTime"] = utc_now_iso()
    return merged


def check_policies(policies: dict[str, Any], sku: str) -> None:
    retention = policies.get("retentionPolicy") or {}
    soft_delete = policies.get("softDeletePolicy") or {}
    for key, policy in (("retentionPolicy", retention), ("softDeletePolicy", soft_delete)):
        status = policy.get("status")
        if status is not None and str(status) not in ("enabled", "disabled"):
            raise ArmError(
                400,
                "InvalidRequestContent",
                f"properties.policies.{key}.status must be 'enabled' or 'disabled'.",
            )
    days = retention.get("days")
    if days is not None and (not isinstance(days, int) or not 0 <= days <= 365):
        raise ArmError(
            400,
            "InvalidRequestContent",
            f"properties.policies.retentionPolicy.days must be 0 to 365, not {days}.",
        )
    if retention.get("status") == "enabled":
        if sku != "Premium":
            raise ArmError(
                400,
                "RetentionPolicyNotSupported",
                f"Retention policy is not supported for the SKU {sku}. It requires a Premium registry. For "
                "more "
                "information, please visit https://aka.ms/acr/tiers.",
            )
        if soft_delete.get("status") == "enabled":
            raise ArmError(
                400,
                "RetentionPolicyConflictsWithSoftDelete",
                "The retention policy cannot be enabled while the soft delete policy is enabled. Disable "
                "one of "
                "them.",
            )


def _sku(value: Any) -> str:
    name = str((value or {}).get("name") or "")
    match = next((s for s in SKUS if s.lower() == name.lower()), None)
    if match is None:
        raise ArmError(400, "InvalidSku", f"The SKU '{name}' is invalid. Valid SKUs are {', '.join(SKUS)}.")
    return match


def _role_assignment_mode(value: Any) -> str:
    mode = str(value or "LegacyRegistryPermissions")
    if mode not in ROLE_ASSIGNMENT_MODES:
        raise ArmError(
            400,
            "InvalidRequestContent",
            f"properties.roleAssignmentMode '{mode}' is invalid: {' or '.join(ROLE_ASSIGNMENT_MODES)}.",
        )
    return mode


# ----- registries --------------------------------------------------------------------------------------
_WRITABLE = (
    "adminUserEnabled",
    "publicNetworkAccess",
    "networkRuleBypassOptions",
    "networkRuleBypassAllowedForTasks",
    "zoneRedundancy",
    "anonymousPullEnabled",
    "dataEndpointEnabled",
    "encryption",
    "networkRuleSet",
)


def _busy(arm: Arm, rid: str) -> None:
    op = arm.active_operation(rid)
    if op is not None:
        raise ArmError(
            409,
            "OperationNotAllowed",
            f"The registry has an operation in progress ({op.kind}, id {op.id}). Wait for it to finish and "
            "retry.",
        )


def put_registry(arm: Arm, req: Request) -> Response:
    rid = req.resource_id
    name = req.params["registryName"]
    if not _NAME.match(name):
        raise ArmError(400, "InvalidResourceName", f"The registry name '{name}' is invalid. {_NAME_RULE}")
    body = req.json_object()
    location = body.get("location")
    if not location:
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    sku = _sku(body.get("sku"))
    existing = arm.store.get(rid)
    holder = holder_of(arm, name)
    if holder is not None and holder.id.lower() != rid.lower():
        raise ArmError(
            409,
            "AlreadyInUse",
            f"The registry DNS name {name.lower()}.azurecr.io is already in use. You can check if the name "
            "is "
            "already claimed using following API: "
            "https://docs.microsoft.com/en-us/rest/api/containerregistry/registries/checknameavailability",
        )
    if existing is not None:
        _busy(arm, rid)
        if existing.body["location"].replace(" ", "").lower() != str(location).replace(" ", "").lower():
            raise ArmError(
                400,
                "InvalidResourceLocation",
                f"The resource '{name}' already exists in location '{existing.body['location']}' in "
                "resource group "
                f"'{req.resource_group}'. A resource with the same name cannot be created in location "
                f"'{location}'.",
            )
    props = body.get("properties") or {}
    old_props = existing.body["properties"] if existing is not None else {}
    policies = merge_policies(old_props.get("policies") or default_policies(), props.get("policies") or {})
    check_policies(policies, sku)
    out: dict[str, Any] = {
        "id": rid,
        "name": name,
        "type": TYPE,
        "location": location,
        "tags": dict(body.get("tags") or {}),
        "sku": {"name": sku, "tier": sku},
        "properties": {
            "loginServer": f"{name.lower()}.azurecr.io",
            "creationDate": old_props.get("creationDate") or utc_now_iso(),
            "provisioningState": "Updating" if existing is not None else "Creating",
            "adminUserEnabled": bool(props.get("adminUserEnabled", False)),
            "policies": policies,
            "encryption": {"status": "disabled"},
            "dataEndpointEnabled": False,
            "dataEndpointHostNames": [],
            "privateEndpointConnections": [],
            "publicNetworkAccess": "Enabled",
            "networkRuleBypassOptions": "AzureServices",
            "networkRuleBypassAllowedForTasks": False,
            "zoneRedundancy": "Disabled",
            "anonymousPullEnabled": False,
            "roleAssignmentMode": _role_assignment_mode(props.get("roleAssignmentMode")),
        },
    }
    if sku == "Premium":
        out["properties"]["networkRuleSet"] = {"defaultAction": "Allow", "ipRules": []}
    for key in _WRITABLE:
        if key in props and props[key] is not None:
            out["properties"][key] = copy.deepcopy(props[key])
    if body.get("identity"):
        out["identity"] = copy.deepcopy(body["identity"])
    arm.store.put(rid, TYPE, out)
    return arm.start_lro(
        req,
        rid,
        "update" if existing is not None else "create",
        status=200 if existing is not None else 201,
        body=copy.deepcopy(out),
        headers=("Azure-AsyncOperation",),
    )


def patch_registry(arm: Arm, req: Request) -> Response:
    rid = req.resource_id
    res = arm.store.get(rid)
    if res is None:
        raise arm.not_found(rid)
    _busy(arm, rid)
    body = req.json_object()
    props = body.get("properties") or {}
    sku = _sku(body["sku"]) if body.get("sku") else res.body["sku"]["name"]
    policies = merge_policies(
        res.body["properties"].get("policies") or default_policies(), props.get("policies") or {}
    )
    check_policies(policies, sku)
    mode = _role_assignment_mode(props["roleAssignmentMode"]) if props.get("roleAssignmentMode") else None
    updated = copy.deepcopy(res.body)
    if "tags" in body and body["tags"] is not None:
        updated["tags"] = dict(body["tags"])
    updated["sku"] = {"name": sku, "tier": sku}
    uprops = updated["properties"]
    uprops["policies"] = policies
    if mode is not None:
        uprops["roleAssignmentMode"] = mode
    for key in _WRITABLE:
        if key in props and props[key] is not None:
            uprops[key] = copy.deepcopy(props[key])
    if sku == "Premium":
        uprops.setdefault("networkRuleSet", {"defaultAction": "Allow", "ipRules": []})
    if body.get("identity"):
        updated["identity"] = copy.deepcopy(body["identity"])
    uprops["provisioningState"] = "Updating"
    res.body = updated
    return arm.start_lro(
        req, rid, "update", status=201, body=copy.deepcopy(updated), headers=("Azure-AsyncOperation",)
    )


def get_registry(arm: Arm, req: Request) -> Response:
    res = arm.store.get(req.resource_id)
    if res is None or res.type != TYPE:
        raise arm.not_found(req.resource_id)
    return Response(200, copy.deepcopy(res.body))


def list_registries(arm: Arm, req: Request) -> Response:
    prefix = f"/subscriptions/{req.subscription_id}/resourceGroups/{req.resource_group}/".lower()
    return Response(
        200,
        {
            "value": [
                copy.deepcopy(r.body) for r in arm.store.of_type(TYPE) if r.id.lower().startswith(prefix)
            ]
        },
    )


def list_all_registries(arm: Arm, req: Request) -> Response:
    prefix = f"/subscriptions/{req.subscription_id}/".lower()
    return Response(
        200,
        {
            "value": [
                copy.deepcopy(r.body) for r in arm.store.of_type(TYPE) if r.id.lower().startswith(prefix)
            ]
        },
    )


def delete_registry(arm: Arm, req: Request) -> Response:
    rid = req.resource_id
    res = arm.store.get(rid)
    if res is None:
        return Response(204)
    op = arm.active_operation(rid)
    if op is not None and op.kind == "delete":
        return Response(
            202, None, {"Location": arm.endpoint + op.result_path() + f"?api-version={req.api_version}"}
        )
    _busy(arm, rid)
    res.body["properties"]["provisioningState"] = "Deleting"
    return arm.start_lro(req, rid, "delete", status=202, headers=("Location",))
