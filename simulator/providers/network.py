"""Microsoft.Network: virtual networks, their subnets and peerings, as the Network resource provider answers.

What Azure does and this provider does too:

* PUT of a vnet, subnet or peering: 201 (created) / 200 (updated) with ``provisioningState: Updating`` and
  an ``Azure-AsyncOperation`` URL; the resource is ``Succeeded`` when the operation ends. DELETE: 202 with
  ``Azure-AsyncOperation`` and ``Location``, 204 when the resource does not exist.
* A vnet PUT **replaces** the subnet list: subnets missing from the body are deleted (refused with
  ``InUseSubnetCannotBeDeleted`` when something uses them). Read-only fields a client echoes back
  (``ipConfigurations``, ``provisioningState``, ...) are ignored; the server keeps its own.
* Prefixes: not CIDR -> ``InvalidAddressPrefixFormat``; host bits set -> ``InvalidCIDRNotation``; a subnet
  outside every prefix of its vnet -> ``NetcfgSubnetRangeOutsideVnet``; two subnets overlapping ->
  ``NetcfgSubnetRangesOverlap``.
* One write at a time per vnet (the vnet, its subnets and its peerings): a write while an operation runs
  there, or while another provider's operation holds the vnet (an AKS create building its nodes in it) ->
  409 ``AnotherOperationInProgress``. A peering whose remote vnet has an operation running (or is held) ->
  400 ``ReferencedResourceNotProvisioned``.
* A failed (canceled) operation leaves the resource ``Failed`` (``Canceled``); a vnet's subnets end in the
  vnet operation's state. A PUT with the wanted body starts a new operation (``Updating``) and puts it right
  (a vnet PUT its subnets too). A peering is ``Connected`` only when both sides' writes succeeded.
* Peerings: the remote vnet must exist; overlapping address spaces -> ``VnetAddressSpacesOverlap``; a
  second peering to the same remote vnet -> ``AnotherPeeringAlreadyReferencesRemoteVnet``;
  ``useRemoteGateways`` without a gateway on the remote side -> ``RemoteVnetHasNoGateways``. One side
  alone is ``Initiated``; when the second side's operation ends both are ``Connected``; deleting one side
  (or its vnet) leaves the other ``Disconnected``, and a peering cannot be (re)created towards a vnet
  whose peering back is ``Disconnected`` (``RemotePeeringIsDisconnected``) until that one is updated or
  re-created.
* A subnet used by something (an AKS node pool: ``ipConfigurations``) cannot be deleted, neither alone nor
  with its vnet (``InUseSubnetCannotBeDeleted``). Other providers mark and release use with
  :func:`mark_subnet_in_use` and :func:`release_subnets`.

Sources of the error codes: ``InvalidCIDRNotation``, ``NetcfgSubnetRangeOutsideVnet``,
``NetcfgSubnetRangesOverlap``, ``InUseSubnetCannotBeDeleted``, ``AnotherOperationInProgress``,
``ReferencedResourceNotProvisioned`` (with Azure's message), ``VnetAddressSpacesOverlap``,
``RemotePeeringIsDisconnected`` and ``AnotherPeeringAlreadyReferencesRemoteVnet`` are codes Azure returns
(seen in public issue threads and client code handling them). ``InvalidAddressPrefixFormat``,
``RemoteVnetHasNoGateways`` and ``InvalidResourceReference`` for a missing remote vnet are Network RP codes
used here for those cases without a recorded answer to copy.
"""

from __future__ import annotations

import copy
import ipaddress
import uuid
from typing import Any

from simulator.arm import Arm, ArmError, Operation, Request, Resource, Response

API_VERSIONS = {
    "2026-03-01",
    "2026-01-01",
}  # azure-mgmt-network 33.1.0 sends 2026-03-01; examples use 2026-01-01

VNET_TYPE = "Microsoft.Network/virtualNetworks"
SUBNET_TYPE = "Microsoft.Network/virtualNetworks/subnets"
PEERING_TYPE = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"

RG_PATH = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
VNETS = RG_PATH + "/providers/Microsoft.Network/virtualNetworks"
VNET = VNETS + "/{virtualNetworkName}"
SUBNETS = VNET + "/subnets"
SUBNET = SUBNETS + "/{subnetName}"
PEERINGS = VNET + "/virtualNetworkPeerings"
PEERING = PEERINGS + "/{virtualNetworkPeeringName}"

# Subnet properties the server owns: ignored when a client sends them back.
_SUBNET_READ_ONLY = {
    "provisioningState",
    "ipConfigurations",
    "ipConfigurationProfiles",
    "privateEndpoints",
    "resourceNavigationLinks",
    "serviceAssociationLinks",
    "purpose",
}
_VNET_SERVER_OWNED = {"subnets", "virtualNetworkPeerings", "provisioningState", "resourceGuid"}
_PEERING_READ_ONLY = {
    "provisioningState",
    "peeringState",
    "peeringSyncLevel",
    "remoteAddressSpace",
    "remoteVirtualNetworkAddressSpace",
    "remoteBgpCommunities",
    "remoteVirtualNetworkEncryption",
    "resourceGuid",
}


def register(arm: Arm) -> None:
    v = API_VERSIONS
    arm.route("PUT", VNET, put_vnet, resource_type=VNET_TYPE, api_versions=v)
    arm.route("GET", VNET, get_vnet, resource_type=VNET_TYPE, api_versions=v)
    arm.route("DELETE", VNET, delete_vnet, resource_type=VNET_TYPE, api_versions=v)
    arm.route("GET", VNETS, list_vnets, resource_type=VNET_TYPE, api_versions=v)
    arm.route(
        "GET",
        "/subscriptions/{subscriptionId}/providers/Microsoft.Network/virtualNetworks",
        list_all_vnets,
        resource_type=VNET_TYPE,
        api_versions=v,
    )
    arm.route("PUT", SUBNET, put_subnet, resource_type=SUBNET_TYPE, api_versions=v)
    arm.route("GET", SUBNET, get_subnet, resource_type=SUBNET_TYPE, api_versions=v)
    arm.route("DELETE", SUBNET, delete_subnet, resource_type=SUBNET_TYPE, api_versions=v)
    arm.route("GET", SUBNETS, list_subnets, resource_type=SUBNET_TYPE, api_versions=v)
    arm.route("PUT", PEERING, put_peering, resource_type=PEERING_TYPE, api_versions=v)
    arm.route("GET", PEERING, get_peering, resource_type=PEERING_TYPE, api_versions=v)
    arm.route("DELETE", PEERING, delete_peering, resource_type=PEERING_TYPE, api_versions=v)
    arm.route("GET", PEERINGS, list_peerings, resource_type=PEERING_TYPE, api_versions=v)


# ----- CIDR rules (pure) -------------------------------------------------------------------------------
def parse_prefix(prefix: Any, owner_id: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A prefix as Azure accepts it: CIDR notation with no host bits set."""
    text = str(prefix or "").strip()
    if "/" not in text:
        raise ArmError(
            400,
            "InvalidAddressPrefixFormat",
            f"Address prefix {text!r} of resource {owner_id} is not formatted correctly. It should follow "
            "CIDR "
            "notation, for example 10.0.0.0/24.",
        )
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise ArmError(
            400,
            "InvalidAddressPrefixFormat",
            f"Address prefix {text!r} of resource {owner_id} is not formatted correctly. It should follow "
            "CIDR "
            "notation, for example 10.0.0.0/24.",
        ) from exc
    if loose.network_address != ipaddress.ip_address(text.split("/", 1)[0]):
        raise ArmError(
            400,
            "InvalidCIDRNotation",
            f"The address prefix {text} in resource {owner_id} has an invalid CIDR notation. For the given "
            "prefix "
            f"length, the address prefix should be {loose}.",
        )
    return loose


def overlaps(a: ipaddress._BaseNetwork, b: ipaddress._BaseNetwork) -> bool:
    return a.version == b.version and a.overlaps(b)  # type: ignore[arg-type]


def _inside(inner: ipaddress._BaseNetwork, outers: list[ipaddress._BaseNetwork]) -> bool:
    return any(inner.version == o.version and inner.subnet_of(o) for o in outers)  # type: ignore[arg-type]


def subnet_prefix_texts(props: dict[str, Any]) -> list[str]:
    """``addressPrefix`` and/or ``addressPrefixes`` of a subnet's properties."""
    out: list[str] = []
    if props.get("addressPrefix"):
        out.append(str(props["addressPrefix"]))
    for p in props.get("addressPrefixes") or []:
        if str(p) not in out:
            out.append(str(p))
    return out


def validate_subnet_layout(
    vnet_name: str, vnet_prefixes: list[ipaddress._BaseNetwork], subnets: list[tuple[str, str, list[str]]]
) -> None:
    """``subnets`` = (name, id, prefixes): each needs a prefix, inside the vnet, overlapping no sibling."""
    seen: list[tuple[str, ipaddress._BaseNetwork]] = []
    for name, sid, texts in subnets:
        if not texts:
            raise ArmError(
                400,
                "NetcfgInvalidSubnet",
                f"Subnet '{name}' is not valid in virtual network '{vnet_name}': it has no address prefix.",
            )
        for text in texts:
            net = parse_prefix(text, sid)
            if not _inside(net, vnet_prefixes):
                raise ArmError(
                    400,
                    "NetcfgSubnetRangeOutsideVnet",
                    f"Subnet '{name}' is not valid because its IP address range {text} is outside the IP "
                    "address "
                    f"range of virtual network '{vnet_name}'.",
                )
            for other_name, other in seen:
                if overlaps(net, other):
                    raise ArmError(
                        400,
                        "NetcfgSubnetRangesOverlap",
                        f"Subnet '{name}' is not valid because its IP address range {text} overlaps with "
                        "that of "
                        f"an existing subnet '{other_name}' ({other}) in virtual network '{vnet_name}'.",
                    )
            seen.append((name, net))


def _etag() -> str:
    return f'W/"{uuid.uuid4()}"'


def _vnet_prefixes(vnet: Resource) -> list[ipaddress._BaseNetwork]:
    texts = ((vnet.body.get("properties") or {}).get("addressSpace") or {}).get("addressPrefixes") or []
    return [ipaddress.ip_network(t, strict=False) for t in texts]


# ----- rendering ---------------------------------------------------------------------------------------
def _children(arm: Arm, vnet_id: str, rtype: str) -> list[Resource]:
    depth = vnet_id.rstrip("/").count("/") + 2
    return [r for r in arm.store.children(vnet_id, rtype) if r.id.count("/") == depth]


def render_subnet(res: Resource) -> dict[str, Any]:
    body = copy.deepcopy(res.body)
    users = res.internal.get("users") or []
    if users:
        body["properties"]["ipConfigurations"] = [{"id": u} for u in users]
    return body


def render_vnet(arm: Arm, vnet: Resource) -> dict[str, Any]:
    body = copy.deepcopy(vnet.body)
    props = body.setdefault("properties", {})
    props["subnets"] = [render_subnet(s) for s in _children(arm, vnet.id, SUBNET_TYPE)]
    props["virtualNetworkPeerings"] = [copy.deepcopy(p.body) for p in _children(arm, vnet.id, PEERING_TYPE)]
    return body


def _vnet_or_404(arm: Arm, vnet_id: str) -> Resource:
    vnet = arm.store.get(vnet_id)
    if vnet is None or vnet.type != VNET_TYPE:
        raise arm.not_found(vnet_id)
    return vnet


def _ensure_vnet_idle(arm: Arm, vnet_id: str) -> None:
    """One write at a time in a vnet: its own operations, its children's, and another RP's that holds it.

    The first sentence and the status uri are the Network RP's text; for a hold (an AKS create building its
    nodes in this vnet) the message also names the managed cluster's operation, so the cause is visible.
    """
    op = arm.active_operation(vnet_id, include_children=True)
    held_by = None if op is not None else arm.holding_operation(vnet_id)
    op = op or held_by
    if op is None:
        return
    uri = f"{arm.endpoint}{op.status_path()}?api-version=2026-03-01"
    cause = ""
    if held_by is not None:
        cause = (
            f" Operation {operation_name(held_by)} ({held_by.id}) on {held_by.resource_id} is writing into "
            f"virtual network {vnet_id} (node pool network interfaces) and holds it until it ends."
        )
    raise ArmError(
        409,
        "AnotherOperationInProgress",
        f"Another operation on this or dependent resource is in progress.{cause} To retrieve status of the "
        f"operation use uri: {uri}.",
    )


def _in_use_error(subnet: Resource) -> ArmError:
    users = subnet.internal.get("users") or []
    return ArmError(
        400,
        "InUseSubnetCannotBeDeleted",
        f"Subnet {subnet.body.get('name')} is in use by {users[0] if users else 'another resource'} and "
        "cannot be "
        "deleted. In order to delete the subnet, delete all the resources within the subnet. See "
        "aka.ms/deletesubnet.",
    )


# ----- virtual networks --------------------------------------------------------------------------------
def put_vnet(arm: Arm, req: Request) -> Response:
    rid = req.resource_id
    name = req.params["virtualNetworkName"]
    body = req.json_object()
    location = body.get("location")
    existing = arm.store.get(rid)
    _check_vnet_location(req, name, location, existing)
    props = body.get("properties") or {}
    space = [str(p) for p in ((props.get("addressSpace") or {}).get("addressPrefixes") or [])]
    vnet_prefixes = _address_space(rid, space)
    _ensure_vnet_idle(arm, rid)

    wanted = _wanted_subnets(props)
    names = {sname.lower() for sname, _ in wanted}
    validate_subnet_layout(
        name, vnet_prefixes, [(s, f"{rid}/subnets/{s}", subnet_prefix_texts(p)) for s, p in wanted]
    )
    current = {s.body["name"].lower(): s for s in _children(arm, rid, SUBNET_TYPE)} if existing else {}
    _check_subnets_in_use(current, wanted)
    # Apply: the vnet, then its subnet list (replace), peerings keep their own lifecycle.
    vnet_body: dict[str, Any] = {
        "name": name,
        "id": rid,
        "etag": _etag(),
        "type": VNET_TYPE,
        "location": location,
        "properties": {k: copy.deepcopy(v) for k, v in props.items() if k not in _VNET_SERVER_OWNED},
    }
    if "tags" in body:
        vnet_body["tags"] = dict(body.get("tags") or {})
    vp = vnet_body["properties"]
    vp["addressSpace"] = {"addressPrefixes": space}
    vp["resourceGuid"] = (existing.body["properties"].get("resourceGuid") if existing else None) or str(
        uuid.uuid4()
    )
    vp.setdefault("enableDdosProtection", False)
    vp.setdefault("privateEndpointVNetPolicies", "Disabled")
    vp["provisioningState"] = "Updating"
    arm.store.put(rid, VNET_TYPE, vnet_body)
    for key, sub in current.items():
        if key not in names:
            arm.delete_resource(sub.id)
    for sname, sprops in wanted:
        _store_subnet(arm, rid, sname, sprops, current.get(sname.lower()))
    status = 200 if existing is not None else 201
    return arm.start_lro(
        req,
        rid,
        "update" if existing is not None else "create",
        status=status,
        body=render_vnet(arm, arm.store.get(rid)),  # type: ignore[arg-type]
        headers=("Azure-AsyncOperation",),
        on_done=_vnet_write_done,
    )


def _check_vnet_location(req: Request, name: str, location: Any, existing: Resource | None) -> None:
    if not location:
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    if existing is not None and _norm(existing.body.get("location")) != _norm(location):
        raise ArmError(
            400,
            "InvalidResourceLocation",
            f"The resource '{name}' already exists in location '{existing.body.get('location')}' in "
            "resource group "
            f"'{req.resource_group}'. A resource with the same name cannot be created in location "
            f"'{location}'.",
        )


def _address_space(rid: str, space: list[str]) -> list[Any]:
    """The address space's prefixes: at least one, none overlapping another."""
    if not space:
        raise ArmError(
            400,
            "VnetAddressSpaceMustHaveAtLeastOneAddressPrefix",
            f"Virtual network {rid} must have at least one address prefix in its address space.",
        )
    vnet_prefixes = [parse_prefix(p, rid) for p in space]
    for i, a in enumerate(vnet_prefixes):
        for b in vnet_prefixes[i + 1 :]:
            if overlaps(a, b):
                raise ArmError(
                    400,
                    "VnetAddressSpacesOverlap",
                    f"Address prefixes {a} and {b} of virtual network {rid} overlap.",
                )
    return vnet_prefixes


def _wanted_subnets(props: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The body's subnets as (name, properties): each named, no name twice."""
    wanted: list[tuple[str, dict[str, Any]]] = []
    names: set[str] = set()
    for sub in props.get("subnets") or []:
        sname = str((sub or {}).get("name") or "")
        if not sname:
            raise ArmError(400, "InvalidRequestFormat", "Cannot parse the request: a subnet has no name.")
        if sname.lower() in names:
            raise ArmError(
                400,
                "InvalidRequestFormat",
                f"Cannot parse the request: subnet '{sname}' appears more than once.",
            )
        names.add(sname.lower())
        wanted.append((sname, (sub or {}).get("properties") or {}))
    return wanted


def _check_subnets_in_use(current: dict[str, Resource], wanted: list[tuple[str, dict[str, Any]]]) -> None:
    """A subnet in use may be neither dropped from the list nor given another prefix."""
    names = {sname.lower() for sname, _ in wanted}
    for key, sub in current.items():
        if key not in names and sub.internal.get("users"):
            raise _in_use_error(sub)
    for sname, sprops in wanted:
        sub = current.get(sname.lower())
        if sub is not None and sub.internal.get("users"):
            if sorted(subnet_prefix_texts(sprops)) != sorted(subnet_prefix_texts(sub.body["properties"])):
                raise ArmError(
                    400,
                    "InUseSubnetCannotBeUpdated",
                    f"Subnet {sname} is in use by {sub.internal['users'][0]} and its address prefix cannot "
                    "be "
                    "changed.",
                )


def _norm(location: Any) -> str:
    return str(location or "").replace(" ", "").lower()


def _store_subnet(
    arm: Arm, vnet_id: str, name: str, props: dict[str, Any], current: Resource | None
) -> Resource:
    sid = f"{vnet_id}/subnets/{name}"
    sprops = {k: copy.deepcopy(v) for k, v in props.items() if k not in _SUBNET_READ_ONLY}
    sprops.setdefault("privateEndpointNetworkPolicies", "Disabled")
    sprops.setdefault("privateLinkServiceNetworkPolicies", "Enabled")
    sprops["provisioningState"] = "Updating"
    body = {"name": name, "id": sid, "etag": _etag(), "type": SUBNET_TYPE, "properties": sprops}
    internal = dict(current.internal) if current is not None else {"users": []}
    return arm.store.put(sid, SUBNET_TYPE, body, internal)


def _vnet_write_done(arm: Arm, op: Operation) -> None:
    """The vnet's subnets end in the vnet operation's state."""
    for sub in _children(arm, op.resource_id, SUBNET_TYPE):
        sub.body["properties"]["provisioningState"] = op.status
    _refresh_remote_views(arm, op.resource_id)


def _refresh_remote_views(arm: Arm, vnet_id: str) -> None:
    """Peerings pointing at this vnet show its current address space."""
    vnet = arm.store.get(vnet_id)
    if vnet is None:
        return
    space = copy.deepcopy(vnet.body["properties"]["addressSpace"])
    for p in arm.store.of_type(PEERING_TYPE):
        if _remote_id(p).lower() == vnet_id.lower():
            p.body["properties"]["remoteAddressSpace"] = copy.deepcopy(space)
            p.body["properties"]["remoteVirtualNetworkAddressSpace"] = copy.deepcopy(space)


def get_vnet(arm: Arm, req: Request) -> Response:
    return Response(200, render_vnet(arm, _vnet_or_404(arm, req.resource_id)))


def _vnets_under(arm: Arm, prefix: str) -> Response:
    prefix = prefix.lower()
    vnets = [render_vnet(arm, r) for r in arm.store.of_type(VNET_TYPE) if r.id.lower().startswith(prefix)]
    return Response(200, {"value": vnets})


def list_vnets(arm: Arm, req: Request) -> Response:
    return _vnets_under(arm, f"/subscriptions/{req.subscription_id}/resourceGroups/{req.resource_group}/")


def list_all_vnets(arm: Arm, req: Request) -> Response:
    return _vnets_under(arm, f"/subscriptions/{req.subscription_id}/")


def delete_vnet(arm: Arm, req: Request) -> Response:
    rid = req.resource_id
    vnet = arm.store.get(rid)
    if vnet is None:
        return Response(204)
    op = arm.active_operation(rid)
    if op is not None and op.kind == "delete":
        return _delete_accepted(arm, req, op)
    for sub in _children(arm, rid, SUBNET_TYPE):
        if sub.internal.get("users"):
            raise _in_use_error(sub)
    _ensure_vnet_idle(arm, rid)
    vnet.body["properties"]["provisioningState"] = "Deleting"
    return arm.start_lro(
        req, rid, "delete", status=202, headers=("Azure-AsyncOperation", "Location"), on_done=_vnet_deleted
    )


def _delete_accepted(arm: Arm, req: Request, op: Operation) -> Response:
    """A DELETE repeated while the first one runs: the same operation again."""
    return Response(
        202,
        None,
        {
            "Azure-AsyncOperation": arm.endpoint + op.status_path() + f"?api-version={req.api_version}",
            "Location": arm.endpoint + op.result_path() + f"?api-version={req.api_version}",
        },
    )


def _vnet_deleted(arm: Arm, op: Operation) -> None:
    if op.status != "Succeeded":
        return
    for p in arm.store.of_type(PEERING_TYPE):
        if _remote_id(p).lower() == op.resource_id.lower():
            p.body["properties"]["peeringState"] = "Disconnected"


# ----- subnets -----------------------------------------------------------------------------------------
def put_subnet(arm: Arm, req: Request) -> Response:
    rid = req.resource_id
    name = req.params["subnetName"]
    vnet_id = rid.rsplit("/subnets/", 1)[0]
    vnet = _vnet_or_404(arm, vnet_id)
    body = req.json_object()
    props = body.get("properties") or {}
    _ensure_vnet_idle(arm, vnet_id)
    siblings = [s for s in _children(arm, vnet_id, SUBNET_TYPE) if s.id.lower() != rid.lower()]
    layout = [(s.body["name"], s.id, subnet_prefix_texts(s.body["properties"])) for s in siblings]
    validate_subnet_layout(
        vnet.body["name"], _vnet_prefixes(vnet), layout + [(name, rid, subnet_prefix_texts(props))]
    )
    current = arm.store.get(rid)
    if current is not None and current.internal.get("users"):
        if sorted(subnet_prefix_texts(props)) != sorted(subnet_prefix_texts(current.body["properties"])):
            raise ArmError(
                400,
                "InUseSubnetCannotBeUpdated",
                f"Subnet {name} is in use by {current.internal['users'][0]} and its address prefix cannot "
                "be changed.",
            )
    sub = _store_subnet(arm, vnet_id, name, props, current)
    vnet.body["etag"] = _etag()
    return arm.start_lro(
        req,
        rid,
        "update" if current is not None else "create",
        status=200 if current is not None else 201,
        body=render_subnet(sub),
        headers=("Azure-AsyncOperation",),
        location=vnet.body.get("location"),
    )


def get_subnet(arm: Arm, req: Request) -> Response:
    _vnet_or_404(arm, req.resource_id.rsplit("/subnets/", 1)[0])
    sub = arm.store.get(req.resource_id)
    if sub is None:
        raise arm.not_found(req.resource_id)
    return Response(200, render_subnet(sub))


def list_subnets(arm: Arm, req: Request) -> Response:
    vnet = _vnet_or_404(arm, req.resource_id)
    return Response(200, {"value": [render_subnet(s) for s in _children(arm, vnet.id, SUBNET_TYPE)]})


def delete_subnet(arm: Arm, req: Request) -> Response:
    rid = req.resource_id
    vnet_id = rid.rsplit("/subnets/", 1)[0]
    sub = arm.store.get(rid)
    if sub is None:
        return Response(204)
    op = arm.active_operation(rid)
    if op is not None and op.kind == "delete":
        return _delete_accepted(arm, req, op)
    if sub.internal.get("users"):
        raise _in_use_error(sub)
    _ensure_vnet_idle(arm, vnet_id)
    sub.body["properties"]["provisioningState"] = "Deleting"
    vnet = arm.store.get(vnet_id)
    return arm.start_lro(
        req,
        rid,
        "delete",
        status=202,
        headers=("Azure-AsyncOperation", "Location"),
        location=vnet.body.get("location") if vnet else None,
    )


def mark_subnet_in_use(arm: Arm, subnet_id: str, user_id: str) -> None:
    """Record that ``user_id`` (an ip configuration id) sits in the subnet; it then cannot be deleted."""
    sub = arm.store.get(subnet_id)
    if sub is None:
        return
    users = sub.internal.setdefault("users", [])
    if user_id.lower() not in {u.lower() for u in users}:
        users.append(user_id)


def release_subnets(arm: Arm, user_prefix: str) -> None:
    """Forget every use whose id starts with ``user_prefix`` (e.g. everything in a node resource group)."""
    low = user_prefix.lower()
    for sub in arm.store.of_type(SUBNET_TYPE):
        users = sub.internal.get("users") or []
        sub.internal["users"] = [u for u in users if not u.lower().startswith(low)]


# ----- peerings ----------------------------------------------------------------------------------------
def _remote_id(peering: Resource) -> str:
    return str(((peering.body.get("properties") or {}).get("remoteVirtualNetwork") or {}).get("id") or "")


def _peering_back(arm: Arm, local_vnet_id: str, remote_vnet_id: str) -> Resource | None:
    for p in _children(arm, remote_vnet_id, PEERING_TYPE):
        if _remote_id(p).lower() == local_vnet_id.lower():
            return p
    return None


def put_peering(arm: Arm, req: Request) -> Response:
    rid = req.resource_id
    name = req.params["virtualNetworkPeeringName"]
    vnet_id = rid.rsplit("/virtualNetworkPeerings/", 1)[0]
    vnet = _vnet_or_404(arm, vnet_id)
    body = req.json_object()
    props = body.get("properties") or {}
    remote_id = str((props.get("remoteVirtualNetwork") or {}).get("id") or "")
    if not remote_id:
        raise ArmError(
            400,
            "InvalidRequestFormat",
            "Cannot parse the request: properties.remoteVirtualNetwork.id is required for a peering.",
        )
    _ensure_vnet_idle(arm, vnet_id)
    remote = arm.store.get(remote_id)
    if remote is None or remote.type != VNET_TYPE:
        raise ArmError(
            400,
            "InvalidResourceReference",
            f"Resource {remote_id} referenced by resource {rid} was not found. Please make sure that the "
            "referenced resource exists.",
        )
    if remote.id.lower() == vnet.id.lower():
        raise ArmError(
            400, "InvalidRequestFormat", f"Peering {rid} cannot reference its own virtual network."
        )
    busy = arm.active_operation(remote.id, include_children=True) or arm.holding_operation(remote.id)
    if busy is not None:
        raise ArmError(
            400,
            "ReferencedResourceNotProvisioned",
            f"Cannot proceed with operation because resource {remote.id} used by resource {rid} is not in "
            "Succeeded state. Resource is in Updating state and the last operation that updated/is "
            "updating the "
            f"resource is {operation_name(busy)}.",
        )
    for other in _children(arm, vnet_id, PEERING_TYPE):
        if other.id.lower() != rid.lower() and _remote_id(other).lower() == remote.id.lower():
            raise ArmError(
                400,
                "AnotherPeeringAlreadyReferencesRemoteVnet",
                f"Peering {other.id} already references remote virtual network {remote.id}. Cannot add "
                "another "
                f"peering {rid} referencing the same remote virtual network.",
            )
    common = [f"{a}" for a in _vnet_prefixes(vnet) for b in _vnet_prefixes(remote) if overlaps(a, b)]
    if common:
        raise ArmError(
            400,
            "VnetAddressSpacesOverlap",
            f"Cannot create or update peering {rid}. Virtual networks {vnet.id} and {remote.id} cannot be "
            "peered "
            f"because their address spaces overlap. Overlapping address prefixes: {', '.join(common)}",
        )
    back = _peering_back(arm, vnet.id, remote.id)
    if back is not None and back.body["properties"].get("peeringState") == "Disconnected":
        raise ArmError(
            400,
            "RemotePeeringIsDisconnected",
            f"Cannot create or update peering {rid} because remote peering {back.id} referencing parent "
            "virtual "
            f"network {vnet.id} is in Disconnected state. Update or re-create the remote peering to get it "
            "back to "
            "Initiated state. Peering gets Disconnected when remote vnet or remote peering is deleted and "
            "re-created.",
        )
    if props.get("useRemoteGateways"):
        raise ArmError(
            400,
            "RemoteVnetHasNoGateways",
            f"Peering {rid} cannot have UseRemoteGateways flag set to true because remote virtual network "
            f"{remote.id} referenced by the peering does not have any gateways.",
        )
    current = arm.store.get(rid)
    pprops = {k: copy.deepcopy(v) for k, v in props.items() if k not in _PEERING_READ_ONLY}
    pprops["remoteVirtualNetwork"] = {"id": remote.id}
    for flag in (
        "allowVirtualNetworkAccess",
        "allowForwardedTraffic",
        "allowGatewayTransit",
        "useRemoteGateways",
    ):
        pprops.setdefault(flag, flag == "allowVirtualNetworkAccess")
    space = copy.deepcopy(remote.body["properties"]["addressSpace"])
    pprops["remoteAddressSpace"] = space
    pprops["remoteVirtualNetworkAddressSpace"] = copy.deepcopy(space)
    previous_state = current.body["properties"].get("peeringState") if current is not None else None
    pprops["peeringState"] = previous_state if previous_state in ("Initiated", "Connected") else "Initiated"
    pprops["peeringSyncLevel"] = "FullyInSync"
    pprops["resourceGuid"] = (current.body["properties"].get("resourceGuid") if current else None) or str(
        uuid.uuid4()
    )
    pprops["provisioningState"] = "Updating"
    peering_body = {"name": name, "id": rid, "etag": _etag(), "type": PEERING_TYPE, "properties": pprops}
    arm.store.put(rid, PEERING_TYPE, peering_body)
    return arm.start_lro(
        req,
        rid,
        "update" if current is not None else "create",
        status=200 if current is not None else 201,
        body=copy.deepcopy(peering_body),
        headers=("Azure-AsyncOperation",),
        location=vnet.body.get("location"),
        on_done=_peering_written,
    )


def operation_name(op: Operation) -> str:
    """The Network RP's name of an operation, as its error texts give it (PutSubnetOperation ...)."""
    kind = {"create": "Put", "update": "Put", "delete": "Delete"}.get(op.kind, "Put")
    leaf = op.resource_type.rsplit("/", 1)[-1].lower()
    noun = {
        "subnets": "Subnet",
        "virtualnetworkpeerings": "VirtualNetworkPeering",
        "managedclusters": "ManagedCluster",
    }.get(leaf, "VirtualNetwork")
    return f"{kind}{noun}Operation"


def _peering_written(arm: Arm, op: Operation) -> None:
    """Both sides present (and not Disconnected) -> both Connected; one side alone -> Initiated."""
    if op.status != "Succeeded":
        return
    peering = arm.store.get(op.resource_id)
    if peering is None:
        return
    vnet_id = peering.id.rsplit("/virtualNetworkPeerings/", 1)[0]
    back = _peering_back(arm, vnet_id, _remote_id(peering))
    back_props = back.body["properties"] if back is not None else {}
    # The other side counts once its own write succeeded: a Failed/Canceled side is put right first.
    if (
        back is not None
        and back_props.get("peeringState") != "Disconnected"
        and back_props.get("provisioningState") == "Succeeded"
    ):
        peering.body["properties"]["peeringState"] = "Connected"
        back.body["properties"]["peeringState"] = "Connected"
    else:
        peering.body["properties"]["peeringState"] = "Initiated"


def get_peering(arm: Arm, req: Request) -> Response:
    _vnet_or_404(arm, req.resource_id.rsplit("/virtualNetworkPeerings/", 1)[0])
    peering = arm.store.get(req.resource_id)
    if peering is None:
        raise arm.not_found(req.resource_id)
    return Response(200, copy.deepcopy(peering.body))


def list_peerings(arm: Arm, req: Request) -> Response:
    vnet = _vnet_or_404(arm, req.resource_id)
    return Response(200, {"value": [copy.deepcopy(p.body) for p in _children(arm, vnet.id, PEERING_TYPE)]})


def delete_peering(arm: Arm, req: Request) -> Response:
    rid = req.resource_id
    vnet_id = rid.rsplit("/virtualNetworkPeerings/", 1)[0]
    peering = arm.store.get(rid)
    if peering is None:
        return Response(204)
    op = arm.active_operation(rid)
    if op is not None and op.kind == "delete":
        return _delete_accepted(arm, req, op)
    _ensure_vnet_idle(arm, vnet_id)
    peering.body["properties"]["provisioningState"] = "Deleting"
    vnet = arm.store.get(vnet_id)
    remote_id = _remote_id(peering)

    def deleted(arm: Arm, op: Operation) -> None:
        if op.status != "Succeeded":
            return
        back = _peering_back(arm, vnet_id, remote_id)
        if back is not None:
            back.body["properties"]["peeringState"] = "Disconnected"

    return arm.start_lro(
        req,
        rid,
        "delete",
        status=202,
        headers=("Azure-AsyncOperation", "Location"),
        location=vnet.body.get("location") if vnet else None,
        on_done=deleted,
    )
