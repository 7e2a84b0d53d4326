"""The link from the private cluster's DNS zone to the Hopsworks vnet (guide, option A: DNS private link)."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities import _compat, _results, arm
from provisioning import naming

bp = df.Blueprint()

LINK_TYPE = "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
AKS_ZONE_SUFFIX = ".azmk8s.io"


@bp.activity_trigger(input_name="payload")
@_results.arm_activity
def ensure_dns_zone_link(payload: dict[str, Any]) -> dict[str, Any]:
    """Link the zone AKS made in the node resource group to `vnetId`, registration off, location global.

    A vnet can be linked to a zone once: an existing link for this vnet, under any name, is the answer (a link
    under our name with registration turned on by hand is put back).
    """
    from azure.core.exceptions import ResourceNotFoundError
    from azure.mgmt.privatedns import models

    node_rg, vnet_id, link_name, run_id = (
        payload["nodeResourceGroup"],
        payload["vnetId"],
        payload["linkName"],
        payload["runId"],
    )
    client = arm.privatedns(payload["subscriptionId"])

    zone_name = _compat.private_dns_zone_name(payload.get("privateFqdn"))
    if zone_name is None:
        zones = [
            zone.name
            for zone in client.private_zones.list_by_resource_group(node_rg)
            if ".privatelink." in zone.name and zone.name.endswith(AKS_ZONE_SUFFIX)
        ]
        if len(zones) != 1:
            return _zone_not_found(
                node_rg, f"found {len(zones)} AKS private zones ({', '.join(zones) or 'none'})"
            )
        zone_name = zones[0]

    try:
        links = list(client.virtual_network_links.list(node_rg, zone_name))
    except ResourceNotFoundError:
        return _zone_not_found(node_rg, f"zone '{zone_name}' does not exist")

    named = next((link for link in links if link.name.casefold() == link_name.casefold()), None)
    for_vnet = next((link for link in links if naming.same_resource_id(_linked_vnet(link), vnet_id)), None)
    if named is not None and for_vnet is not named:
        return _results.incompatible(
            "private DNS zone link",
            f"{zone_name}/{named.name}",
            [f"it links the vnet '{_linked_vnet(named)}', the setup needs '{vnet_id}'"],
        )
    if for_vnet is not None:
        action = _results.action_from_tags(for_vnet.tags, run_id)
        registration = for_vnet.properties.registration_enabled if for_vnet.properties else None
        if for_vnet is not named or not registration:
            return _link_result(for_vnet, zone_name, action)
        tags = dict(for_vnet.tags or {})  # ours, drifted: put back without touching its tags
    else:
        action = _results.CREATED
        tags = _results.run_tags(payload.get("tags"), payload["instanceId"], run_id)

    body = models.VirtualNetworkLink(
        location="global",
        tags=tags,
        properties=models.VirtualNetworkLinkProperties(
            virtual_network=models.SubResource(id=vnet_id), registration_enabled=False
        ),
    )
    def put() -> Any:
        links = client.virtual_network_links
        return links.begin_create_or_update(node_rg, zone_name, link_name, body).result()

    if action == _results.CREATED:
        link = _results.create(
            put,
            lookup=lambda: arm.get_or_none(client.virtual_network_links.get, node_rg, zone_name, link_name),
            resource_type=LINK_TYPE,
        )
    else:
        link = put()
    return _link_result(link, zone_name, action)


def _linked_vnet(link: Any) -> str | None:
    network = link.properties.virtual_network if link.properties else None
    return network.id if network else None


def _zone_not_found(node_rg: str, detail: str) -> dict[str, Any]:
    return _results.error(
        _results.DNS_ZONE_NOT_FOUND,
        f"the private cluster's DNS zone was not found in node resource group '{node_rg}': {detail}",
        status=404,
    )


def _link_result(link: Any, zone_name: str, action: str) -> dict[str, Any]:
    return _results.ok(
        [_results.resource(link.id, LINK_TYPE, action)], {"zoneName": zone_name, "id": link.id}
    )
