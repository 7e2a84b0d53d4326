"""Microsoft.Network/privateDnsZones and their virtual network links, as Azure Private DNS answers.

What Azure does and this provider does too:

* Zones and links are global resources: ``location`` must be ``global`` (any case) ->
  ``LocationNotAvailableForResourceType`` otherwise.
* PUT of a zone or link: 202 with ``Azure-AsyncOperation`` and ``Location`` (the example's 202 answer), the
  resource ``Succeeded`` when the operation ends; a link's ``virtualNetworkLinkState`` is ``InProgress`` until
  then and ``Completed`` after. DELETE: 202 with both URLs, 204 when absent. ``If-None-Match: *`` on an
  existing resource and an ``If-Match`` etag that differs -> 412 ``PreconditionFailed``.
* A link's virtual network must exist: 400 ``BadRequest`` "Virtual network resource not found for '<id>'" (the
  text Azure gives). A zone links a given vnet once: a second link (another name) to the same vnet -> 409
  ``Conflict``. Linking a vnet to a second zone **with the same name** (another resource group) fails the
  operation with ``BadRequest`` "A virtual network cannot be linked to multiple zones with overlapping
  namespaces ..." (Azure's text; Azure reports it as a failed operation, so it is one here too).
* Zones made by Azure itself (a private AKS cluster's ``<guid>.privatelink.<region>.azmk8s.io``): see
  :func:`create_system_zone`; they go with their resource group.

The 409 ``Conflict`` code for a duplicate link in one zone is this simulator's choice (no recorded answer
found); the other codes and texts are Azure's, as seen in public issue threads.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from simulator.arm import Arm, ArmError, Operation, Request, Resource, Response

API_VERSIONS = {"2024-06-01", "2020-06-01"}  # azure-mgmt-privatedns 2.0.0 sends 2024-06-01

ZONE_TYPE = "Microsoft.Network/privateDnsZones"
LINK_TYPE = "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
VNET_TYPE = "Microsoft.Network/virtualNetworks"

RG_PATH = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
ZONES = RG_PATH + "/providers/Microsoft.Network/privateDnsZones"
ZONE = ZONES + "/{privateZoneName}"
LINKS = ZONE + "/virtualNetworkLinks"
LINK = LINKS + "/{virtualNetworkLinkName}"

_ZONE_LIMITS = {
    "maxNumberOfRecordSets": 25000,
    "maxNumberOfVirtualNetworkLinks": 1000,
    "maxNumberOfVirtualNetworkLinksWithRegistration": 100,
}


def register(arm: Arm) -> None:
    v = API_VERSIONS
    arm.route("PUT", ZONE, put_zone, resource_type=ZONE_TYPE, api_versions=v)
    arm.route("GET", ZONE, get_zone, resource_type=ZONE_TYPE, api_versions=v)
    arm.route("DELETE", ZONE, delete_zone, resource_type=ZONE_TYPE, api_versions=v)
    arm.route("GET", ZONES, list_zones, resource_type=ZONE_TYPE, api_versions=v)
    arm.route(
        "GET",
        "/subscriptions/{subscriptionId}/providers/Microsoft.Network/privateDnsZones",
        list_all_zones,
        resource_type=ZONE_TYPE,
        api_versions=v,
    )
    arm.route("PUT", LINK, put_link, resource_type=LINK_TYPE, api_versions=v)
    arm.route("GET", LINK, get_link, resource_type=LINK_TYPE, api_versions=v)
    arm.route("DELETE", LINK, delete_link, resource_type=LINK_TYPE, api_versions=v)
    arm.route("GET", LINKS, list_links, resource_type=LINK_TYPE, api_versions=v)


def _etag() -> str:
    return str(uuid.uuid4())


def _links(arm: Arm, zone_id: str) -> list[Resource]:
    return arm.store.children(zone_id, LINK_TYPE)


def render_zone(arm: Arm, zone: Resource) -> dict[str, Any]:
    body = copy.deepcopy(zone.body)
    links = _links(arm, zone.id)
    props = body.setdefault("properties", {})
    props["numberOfVirtualNetworkLinks"] = len(links)
    props["numberOfVirtualNetworkLinksWithRegistration"] = sum(
        1 for link in links if link.body["properties"].get("registrationEnabled")
    )
    return body


def _check_global(location: Any, rtype: str) -> None:
    if not location:
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    if str(location).replace(" ", "").lower() != "global":
        raise ArmError(
            400,
            "LocationNotAvailableForResourceType",
            f"The provided location '{location}' is not available for resource type '{rtype}'. List of "
            "available regions for the resource type is 'global'.",
        )


def _check_preconditions(req: Request, existing: Resource | None) -> None:
    if_none = req.headers.get("if-none-match")
    if_match = req.headers.get("if-match")
    if if_none == "*" and existing is not None:
        raise ArmError(
            412,
            "PreconditionFailed",
            f"The resource {req.resource_id} already exists (If-None-Match: *).",
        )
    if (
        if_match
        and if_match != "*"
        and (existing is None or existing.body.get("etag") != if_match.strip('"'))
    ):
        raise ArmError(412, "PreconditionFailed", f"The etag of {req.resource_id} does not match If-Match.")


def _busy(arm: Arm, rid: str) -> None:
    arm.ensure_idle(
        rid,
        "Conflict",
        include_children=False,
        message=f"The resource {rid} has an operation in progress. Wait for it to finish before retrying.",
    )


# ----- zones -------------------------------------------------------------------------------------------
def zone_body(rid: str, name: str, tags: dict[str, str] | None, state: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": rid,
        "name": name,
        "type": ZONE_TYPE,
        "location": "global",
        "etag": _etag(),
        "properties": {**_ZONE_LIMITS, "numberOfRecordSets": 1, "provisioningState": state},
    }
    if tags is not None:
        body["tags"] = dict(tags)
    return body


def create_system_zone(arm: Arm, subscription_id: str, resource_group: str, name: str) -> Resource:
    """A zone Azure makes itself (no operation of its own): ready at once."""
    rid = f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{ZONE_TYPE}/{name}"
    return arm.store.put(rid, ZONE_TYPE, zone_body(rid, name, None, "Succeeded"))


def create_system_link(arm: Arm, zone: Resource, name: str, vnet_id: str) -> Resource:
    """A link Azure makes itself (AKS links its zone to the cluster's vnet): ready at once."""
    rid = f"{zone.id}/virtualNetworkLinks/{name}"
    body = _link_body(rid, name, None, vnet_id, False, "Succeeded")
    body["properties"]["virtualNetworkLinkState"] = "Completed"
    return arm.store.put(rid, LINK_TYPE, body)


def put_zone(arm: Arm, req: Request) -> Response:
    rid = req.resource_id
    name = req.params["privateZoneName"]
    body = req.json_object()
    _check_global(body.get("location"), ZONE_TYPE)
    if "." not in name.strip("."):
        raise ArmError(
            400,
            "BadRequest",
            f"The zone name '{name}' is invalid: a private DNS zone name needs at least two labels.",
        )
    existing = arm.store.get(rid)
    _check_preconditions(req, existing)
    _busy(arm, rid)
    if existing is not None:
        existing.body["etag"] = _etag()
        if "tags" in body:
            existing.body["tags"] = dict(body.get("tags") or {})
        existing.body["properties"]["provisioningState"] = "Updating"
    else:
        arm.store.put(rid, ZONE_TYPE, zone_body(rid, name, body.get("tags"), "Creating"))
    return arm.start_lro(
        req,
        rid,
        "update" if existing is not None else "create",
        status=202,
        headers=("Azure-AsyncOperation", "Location"),
        location="global",
    )


def get_zone(arm: Arm, req: Request) -> Response:
    zone = arm.store.get(req.resource_id)
    if zone is None or zone.type != ZONE_TYPE:
        raise arm.not_found(req.resource_id)
    return Response(200, render_zone(arm, zone))


def list_zones(arm: Arm, req: Request) -> Response:
    prefix = f"/subscriptions/{req.subscription_id}/resourceGroups/{req.resource_group}/".lower()
    zones = [render_zone(arm, z) for z in arm.store.of_type(ZONE_TYPE) if z.id.lower().startswith(prefix)]
    return Response(200, {"value": zones})


def list_all_zones(arm: Arm, req: Request) -> Response:
    prefix = f"/subscriptions/{req.subscription_id}/".lower()
    zones = [render_zone(arm, z) for z in arm.store.of_type(ZONE_TYPE) if z.id.lower().startswith(prefix)]
    return Response(200, {"value": zones})


def _delete(arm: Arm, req: Request) -> Response:
    """DELETE of a zone or a link: 204 when absent, else 202 and a long-running delete (global resources)."""
    rid = req.resource_id
    resource = arm.store.get(rid)
    if resource is None:
        return Response(204)
    _check_preconditions(req, resource)
    _busy(arm, rid)
    resource.body["properties"]["provisioningState"] = "Deleting"
    return arm.start_lro(
        req, rid, "delete", status=202, headers=("Azure-AsyncOperation", "Location"), location="global"
    )


def delete_zone(arm: Arm, req: Request) -> Response:
    return _delete(arm, req)


# ----- virtual network links ---------------------------------------------------------------------------
def _link_body(
    rid: str, name: str, tags: dict[str, str] | None, vnet_id: str, registration: bool, state: str
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": rid,
        "name": name,
        "type": LINK_TYPE,
        "location": "global",
        "etag": _etag(),
        "properties": {
            "virtualNetwork": {"id": vnet_id},
            "registrationEnabled": registration,
            "virtualNetworkLinkState": "InProgress",
            "provisioningState": state,
        },
    }
    if tags is not None:
        body["tags"] = dict(tags)
    return body


def _linked_vnet(link: Resource) -> str:
    return str(((link.body.get("properties") or {}).get("virtualNetwork") or {}).get("id") or "")


def put_link(arm: Arm, req: Request) -> Response:
    rid = req.resource_id
    name = req.params["virtualNetworkLinkName"]
    zone_id = rid.rsplit("/virtualNetworkLinks/", 1)[0]
    zone = arm.require_parent(zone_id)
    body = req.json_object()
    _check_global(body.get("location"), LINK_TYPE)
    props = body.get("properties") or {}
    vnet_id = str((props.get("virtualNetwork") or {}).get("id") or "")
    if not vnet_id:
        raise ArmError(400, "BadRequest", "The virtual network link must reference a virtual network.")
    registration = props.get("registrationEnabled")
    if not isinstance(registration, bool):
        raise ArmError(
            400,
            "BadRequest",
            "The registrationEnabled property of a virtual network link must be true or false.",
        )
    existing = arm.store.get(rid)
    _check_preconditions(req, existing)
    vnet = arm.store.get(vnet_id)
    if vnet is None or vnet.type != VNET_TYPE:
        raise ArmError(400, "BadRequest", f"Virtual network resource not found for '{vnet_id}'")
    if existing is not None and _linked_vnet(existing).lower() != vnet.id.lower():
        raise ArmError(
            400,
            "BadRequest",
            f"The virtual network of link {rid} cannot be changed. Delete the link and create a new one.",
        )
    for other in _links(arm, zone.id):
        if other.id.lower() != rid.lower() and _linked_vnet(other).lower() == vnet.id.lower():
            raise ArmError(
                409,
                "Conflict",
                f"A virtual network link {other.id} to virtual network '{vnet.id}' already exists in "
                "private DNS "
                f"zone '{zone.body['name']}'. A private DNS zone can be linked to a virtual network only "
                "once.",
            )
    _busy(arm, rid)
    same_name_elsewhere = [
        link
        for link in arm.store.of_type(LINK_TYPE)
        if _linked_vnet(link).lower() == vnet.id.lower()
        and link.id.lower().rsplit("/virtualnetworklinks/", 1)[0] != zone.id.lower()
        and link.id.rsplit("/virtualNetworkLinks/", 1)[0].rsplit("/", 1)[-1].lower()
        == zone.body["name"].lower()
    ]
    link_body = _link_body(rid, name, body.get("tags"), vnet.id, registration, "Updating")
    if existing is not None and "tags" not in body and "tags" in existing.body:
        link_body["tags"] = existing.body["tags"]
    arm.store.put(rid, LINK_TYPE, link_body)
    response = arm.start_lro(
        req,
        rid,
        "update" if existing is not None else "create",
        status=202,
        headers=("Azure-AsyncOperation", "Location"),
        location="global",
        on_done=_link_done,
    )
    if same_name_elsewhere:
        op = arm.active_operation(rid)
        if op is not None:
            op.outcome = "Failed"
            zname = zone.body["name"]
            op.error = {
                "code": "BadRequest",
                "message": "A virtual network cannot be linked to multiple zones with overlapping "
                f"namespaces. You tried to link virtual network with '{zname}' and '{zname}' zones.",
            }
    return response


def _link_done(arm: Arm, op: Operation) -> None:
    link = arm.store.get(op.resource_id)
    if link is not None and op.status == "Succeeded":
        link.body["properties"]["virtualNetworkLinkState"] = "Completed"


def get_link(arm: Arm, req: Request) -> Response:
    arm.require_parent(req.resource_id.rsplit("/virtualNetworkLinks/", 1)[0])
    link = arm.store.get(req.resource_id)
    if link is None:
        raise arm.not_found(req.resource_id)
    return Response(200, copy.deepcopy(link.body))


def list_links(arm: Arm, req: Request) -> Response:
    zone = arm.require_parent(req.resource_id)
    return Response(200, {"value": [copy.deepcopy(link.body) for link in _links(arm, zone.id)]})


def delete_link(arm: Arm, req: Request) -> Response:
    return _delete(arm, req)
