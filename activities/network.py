"""Virtual networks: the AKS vnet and its subnets, the Hopsworks vnet (topology peering), the two peerings."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities import _compat, _results, arm
from provisioning import errors, naming

bp = df.Blueprint()

VNET_TYPE = "Microsoft.Network/virtualNetworks"
SUBNET_TYPE = "Microsoft.Network/virtualNetworks/subnets"
PEERING_TYPE = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
DISCONNECTED = "Disconnected"
REMOTE_PEERING_DISCONNECTED = "RemotePeeringIsDisconnected"


@bp.activity_trigger(input_name="payload")
@_results.arm_activity
def ensure_aks_network(payload: dict[str, Any]) -> dict[str, Any]:
    """The AKS vnet with the node subnet (and, for topology subnet, the Hopsworks subnet)."""
    subnets = [(subnet["name"], subnet["prefix"]) for subnet in payload["subnets"]]
    result = _ensure_vnet(payload, subnets)
    if result["ok"]:
        outputs = result["outputs"]
        result["outputs"] = {"vnetId": outputs["vnetId"], "subnetIds": outputs["subnetIds"]}
    return result


@bp.activity_trigger(input_name="payload")
@_results.arm_activity
def ensure_hopsworks_network(payload: dict[str, Any]) -> dict[str, Any]:
    """The Hopsworks vnet and its one subnet (topology peering)."""
    result = _ensure_vnet(payload, [(payload["subnetName"], payload["subnetPrefix"])])
    if result["ok"]:
        outputs = result["outputs"]
        result["outputs"] = {
            "vnetId": outputs["vnetId"],
            "subnetId": outputs["subnetIds"][payload["subnetName"]],
        }
    return result


def _ensure_vnet(payload: dict[str, Any], wanted_subnets: list[tuple[str, str]]) -> dict[str, Any]:
    """GET the vnet; absent: one PUT with every subnet. Present: adopt it when compatible and add the missing
    subnets one PUT at a time (a vnet PUT replaces the subnet list, so the vnet itself is never re-PUT)."""
    from azure.mgmt.network import models

    resource_group, vnet_name, run_id = payload["resourceGroup"], payload["vnetName"], payload["runId"]
    client = arm.network(payload["subscriptionId"])

    vnet = arm.get_or_none(client.virtual_networks.get, resource_group, vnet_name)
    if vnet is None:
        body = models.VirtualNetwork(
            location=payload["location"],
            tags=_results.run_tags(payload.get("tags"), payload["instanceId"], run_id),
            properties=models.VirtualNetworkPropertiesFormat(
                address_space=models.AddressSpace(address_prefixes=[payload["addressSpace"]]),
                subnets=[
                    models.Subnet(name=name, properties=models.SubnetPropertiesFormat(address_prefix=prefix))
                    for name, prefix in wanted_subnets
                ],
            ),
        )
        vnet = _results.create(
            lambda: client.virtual_networks.begin_create_or_update(resource_group, vnet_name, body).result(),
            lookup=lambda: arm.get_or_none(client.virtual_networks.get, resource_group, vnet_name),
            resource_type=VNET_TYPE,
        )
        subnet_ids = _subnet_ids(vnet)
        resources = [_results.resource(vnet.id, VNET_TYPE, _results.CREATED)] + [
            _results.resource(subnet_ids[name], SUBNET_TYPE, _results.CREATED) for name, _ in wanted_subnets
        ]
        return _results.ok(
            resources, {"vnetId": vnet.id, "subnetIds": _by_wanted_name(subnet_ids, wanted_subnets)}
        )

    plan = _compat.plan_existing_vnet(
        existing_vnet(vnet), payload.get("location"), payload["addressSpace"], wanted_subnets
    )
    if plan.problems:
        return _results.incompatible("virtual network", vnet_name, plan.problems)
    vnet_action = _results.action_from_tags(vnet.tags, run_id)
    subnet_ids = _subnet_ids(vnet)
    # Subnets carry no tags: those of a vnet this run made count as this run's, others as found.
    subnet_actions = {name.casefold(): vnet_action for name in subnet_ids}
    for name, prefix in plan.missing_subnets:  # one after the other: concurrent writes to one vnet conflict
        subnet = _results.create(
            lambda name=name, prefix=prefix: client.subnets.begin_create_or_update(
                resource_group,
                vnet_name,
                name,
                models.Subnet(properties=models.SubnetPropertiesFormat(address_prefix=prefix)),
            ).result(),
            lookup=lambda name=name: arm.get_or_none(client.subnets.get, resource_group, vnet_name, name),
            resource_type=SUBNET_TYPE,
        )
        subnet_ids[name] = subnet.id
        subnet_actions[name.casefold()] = _results.CREATED
    wanted_ids = _by_wanted_name(subnet_ids, wanted_subnets)
    existed_before = payload.get("existedBefore")
    resources = [_results.resource(vnet.id, VNET_TYPE, vnet_action)] + [
        _results.resource(
            wanted_ids[name],
            SUBNET_TYPE,
            _results.action_from_snapshot(wanted_ids[name], existed_before, subnet_actions[name.casefold()]),
        )
        for name, _ in wanted_subnets
    ]
    return _results.ok(resources, {"vnetId": vnet.id, "subnetIds": wanted_ids})


def existing_vnet(vnet: Any) -> _compat.ExistingVnet:
    """The plain facts the compatibility rules need from an SDK VirtualNetwork (shared with preflight)."""
    properties = vnet.properties
    space = properties.address_space if properties else None
    subnets: dict[str, tuple[str, ...]] = {}
    for subnet in (properties.subnets if properties else None) or []:
        subnets[subnet.name] = _subnet_prefixes(subnet)
    return _compat.ExistingVnet(
        location=vnet.location,
        address_prefixes=tuple((space.address_prefixes if space else None) or ()),
        subnets=subnets,
    )


def untagged_children(vnet: Any) -> list[str]:
    """Ids of the vnet's subnets and peerings: what preflight snapshots as existing before the run."""
    properties = vnet.properties
    children = [*((properties.subnets if properties else None) or ())]
    children += (properties.virtual_network_peerings if properties else None) or []
    return [child.id for child in children if child.id]


def _subnet_prefixes(subnet: Any) -> tuple[str, ...]:
    properties = subnet.properties
    if properties is None:
        return ()
    if properties.address_prefixes:
        return tuple(properties.address_prefixes)
    return (properties.address_prefix,) if properties.address_prefix else ()


def _subnet_ids(vnet: Any) -> dict[str, str]:
    return {subnet.name: subnet.id for subnet in (vnet.properties.subnets if vnet.properties else None) or []}


def _by_wanted_name(subnet_ids: dict[str, str], wanted: list[tuple[str, str]]) -> dict[str, str]:
    """Subnet ids keyed by the requested names (ARM keeps the case it was first given)."""
    folded = {name.casefold(): subnet_id for name, subnet_id in subnet_ids.items()}
    return {name: folded[name.casefold()] for name, _ in wanted}


@bp.activity_trigger(input_name="payload")
@_results.arm_activity
def ensure_peering(payload: dict[str, Any]) -> dict[str, Any]:
    """One side of the peering, on `vnetName` towards `remoteVnetId`, with the guide's settings.

    Present with other settings (changed by hand) or Disconnected (its other side was deleted): PUT back.
    Present towards another vnet: permanent error. One side alone reports Initiated; after the second side
    both report Connected.
    """
    from azure.core.exceptions import HttpResponseError

    subscription_id, resource_group = payload["subscriptionId"], payload["resourceGroup"]
    vnet_name, peering_name, remote_id = payload["vnetName"], payload["peeringName"], payload["remoteVnetId"]
    client = arm.network(subscription_id)

    peering = arm.get_or_none(client.virtual_network_peerings.get, resource_group, vnet_name, peering_name)
    if peering is None:
        action = _results.CREATED
    else:
        properties = peering.properties
        remote = properties.remote_virtual_network if properties else None
        problems = _compat.peering_problems(remote.id if remote else None, remote_id)
        if problems:
            return _results.incompatible("virtual network peering", f"{vnet_name}/{peering_name}", problems)
        # Peerings carry no tags. One found under the derived name is this run's own (an activity re-executed
        # after a host crash) when either vnet carries this run's runId: a peering on a vnet this run made
        # cannot predate the run. Otherwise it counts as existing (never rolled back).
        action = _results.action_from_snapshot(
            peering.id, payload.get("existedBefore"), _peering_action(client, payload, remote_id)
        )
        state = _results.plain(properties.peering_state) if properties else None
        if not _compat.peering_drift(_peering_settings(properties)) and state != DISCONNECTED:
            return _peering_result(peering, action)

    def put() -> Any:
        return _put_peering(client, resource_group, vnet_name, peering_name, remote_id)

    def lookup() -> Any:
        return arm.get_or_none(client.virtual_network_peerings.get, resource_group, vnet_name, peering_name)

    try:
        if action == _results.CREATED:
            peering = _results.create(put, lookup=lookup, resource_type=PEERING_TYPE)
        else:
            peering = put()
    except HttpResponseError as exc:
        if errors.classify(exc).code != REMOTE_PEERING_DISCONNECTED:
            raise
        # The other side survived the deletion of this one and is Disconnected: ARM accepts this side only
        # once that one is updated ("Update or re-create the remote peering to get it back to Initiated").
        local_id = naming.resource_id(subscription_id, resource_group, VNET_TYPE, vnet_name)
        _refresh_disconnected_peerings(client, remote_id, local_id)
        peering = _put_peering(client, resource_group, vnet_name, peering_name, remote_id)
    return _peering_result(peering, action)


def _peering_action(client: Any, payload: dict[str, Any], remote_id: str) -> str:
    from azure.mgmt.core.tools import parse_resource_id

    run_id = payload.get("runId", "")
    vnets = [(payload["resourceGroup"], payload["vnetName"])]
    remote = parse_resource_id(remote_id)
    if str(remote.get("subscription", "")).casefold() == str(payload["subscriptionId"]).casefold():
        vnets.append((remote.get("resource_group"), remote.get("name")))
    for group, name in vnets:
        vnet = arm.get_or_none(client.virtual_networks.get, group, name) if group and name else None
        if vnet is not None and _results.action_from_tags(vnet.tags, run_id) == _results.CREATED:
            return _results.CREATED
    return _results.EXISTING


def _put_peering(client: Any, resource_group: str, vnet_name: str, peering_name: str, remote_id: str) -> Any:
    from azure.mgmt.network import models

    body = models.VirtualNetworkPeering(
        properties=models.VirtualNetworkPeeringPropertiesFormat(
            remote_virtual_network=models.SubResource(id=remote_id),
            allow_virtual_network_access=_compat.PEERING_SETTINGS["allowVirtualNetworkAccess"],
            allow_forwarded_traffic=_compat.PEERING_SETTINGS["allowForwardedTraffic"],
            allow_gateway_transit=_compat.PEERING_SETTINGS["allowGatewayTransit"],
            use_remote_gateways=_compat.PEERING_SETTINGS["useRemoteGateways"],
        )
    )
    return client.virtual_network_peerings.begin_create_or_update(
        resource_group, vnet_name, peering_name, body
    ).result()


def _refresh_disconnected_peerings(client: Any, vnet_id: str, towards_id: str) -> None:
    """PUT back (guide settings) each Disconnected peering on `vnet_id` that points at `towards_id`."""
    from azure.mgmt.core.tools import parse_resource_id

    parts = parse_resource_id(vnet_id)
    for peering in client.virtual_network_peerings.list(parts["resource_group"], parts["name"]):
        properties = peering.properties
        remote = properties.remote_virtual_network if properties else None
        state = _results.plain(properties.peering_state) if properties else None
        if state == DISCONNECTED and naming.same_resource_id(remote.id if remote else None, towards_id):
            _put_peering(client, parts["resource_group"], parts["name"], peering.name, towards_id)


def _peering_settings(properties: Any) -> dict[str, bool | None]:
    return {
        "allowVirtualNetworkAccess": properties.allow_virtual_network_access,
        "allowForwardedTraffic": properties.allow_forwarded_traffic,
        "allowGatewayTransit": properties.allow_gateway_transit,
        "useRemoteGateways": properties.use_remote_gateways,
    }


def _peering_result(peering: Any, action: str) -> dict[str, Any]:
    state = peering.properties.peering_state if peering.properties else None
    return _results.ok(
        [_results.resource(peering.id, PEERING_TYPE, action)],
        {"id": peering.id, "peeringState": _results.plain(state)},
    )
