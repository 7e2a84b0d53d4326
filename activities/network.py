"""Virtual networks: the AKS vnet and its subnets, the Hopsworks vnet (topology peering), the two peerings."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities import _compat, _results, arm

bp = df.Blueprint()

VNET_TYPE = "Microsoft.Network/virtualNetworks"
SUBNET_TYPE = "Microsoft.Network/virtualNetworks/subnets"
PEERING_TYPE = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"


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
        vnet = client.virtual_networks.begin_create_or_update(resource_group, vnet_name, body).result()
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
        subnet = client.subnets.begin_create_or_update(
            resource_group,
            vnet_name,
            name,
            models.Subnet(properties=models.SubnetPropertiesFormat(address_prefix=prefix)),
        ).result()
        subnet_ids[name] = subnet.id
        subnet_actions[name.casefold()] = _results.CREATED
    wanted_ids = _by_wanted_name(subnet_ids, wanted_subnets)
    resources = [_results.resource(vnet.id, VNET_TYPE, vnet_action)] + [
        _results.resource(wanted_ids[name], SUBNET_TYPE, subnet_actions[name.casefold()])
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

    Present with other settings (changed by hand): PUT back. Present towards another vnet: permanent error.
    One side alone reports Initiated; after the second side both report Connected.
    """
    from azure.mgmt.network import models

    resource_group, vnet_name, peering_name = (
        payload["resourceGroup"],
        payload["vnetName"],
        payload["peeringName"],
    )
    remote_id = payload["remoteVnetId"]
    peerings = arm.network(payload["subscriptionId"]).virtual_network_peerings

    peering = arm.get_or_none(peerings.get, resource_group, vnet_name, peering_name)
    if peering is None:
        action = _results.CREATED
    else:
        properties = peering.properties
        remote = properties.remote_virtual_network if properties else None
        problems = _compat.peering_problems(remote.id if remote else None, remote_id)
        if problems:
            return _results.incompatible("virtual network peering", f"{vnet_name}/{peering_name}", problems)
        # Peerings carry no tags: one found under the derived name counts as existing (never rolled back).
        action = _results.EXISTING
        drift = _compat.peering_drift(_peering_settings(properties))
        if not drift:
            return _peering_result(peering, action)

    body = models.VirtualNetworkPeering(
        properties=models.VirtualNetworkPeeringPropertiesFormat(
            remote_virtual_network=models.SubResource(id=remote_id),
            allow_virtual_network_access=_compat.PEERING_SETTINGS["allowVirtualNetworkAccess"],
            allow_forwarded_traffic=_compat.PEERING_SETTINGS["allowForwardedTraffic"],
            allow_gateway_transit=_compat.PEERING_SETTINGS["allowGatewayTransit"],
            use_remote_gateways=_compat.PEERING_SETTINGS["useRemoteGateways"],
        )
    )
    peering = peerings.begin_create_or_update(resource_group, vnet_name, peering_name, body).result()
    return _peering_result(peering, action)


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
