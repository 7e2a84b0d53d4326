"""The link from the private cluster's DNS zone to the Hopsworks vnet (guide, option A: DNS private link)."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities import _results, adoption, arm, c, deletion, naming, ownership
from provisioning import function_names

bp = df.Blueprint()

LINK_TYPE = "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
AKS_ZONE_SUFFIX = ".azmk8s.io"


@_results.registered(bp, function_names.ENSURE_DNS_ZONE_LINK)
def ensure_dns_zone_link(wanted: c.DnsLinkInput) -> dict[str, Any]:
    """Link the zone AKS made in the node resource group to `vnetId`, registration off, location global; done
    when the link is Succeeded and its virtualNetworkLinkState Completed.

    A vnet can be linked to a zone once: an existing link for this vnet, under any name, is the answer (a link
    under our name with registration turned on by hand is put back). This run's link left Failed is PUT
    again; someone else's Failed link is refused, untouched.
    """
    from azure.core.exceptions import ResourceNotFoundError

    node_rg, vnet_id = wanted.node_resource_group, wanted.vnet_id
    link_name, run_id = wanted.link_name, wanted.run_id
    client = arm.privatedns(wanted.subscription_id)
    zone_name = adoption.private_dns_zone_name(wanted.private_fqdn)
    if zone_name is None:
        zones = _aks_zones(client, node_rg)
        if len(zones) != 1:
            found = f"found {len(zones)} AKS private zones ({', '.join(zones) or 'none'})"
            return _zone_not_found(node_rg, found)
        zone_name = zones[0]
    try:
        links = list(client.virtual_network_links.list(node_rg, zone_name))
    except ResourceNotFoundError:
        return _zone_not_found(node_rg, f"zone '{zone_name}' does not exist")

    named = next((link for link in links if link.name.casefold() == link_name.casefold()), None)
    for_vnet = next((link for link in links if naming.same_resource_id(_linked_vnet(link), vnet_id)), None)
    problems = []
    if named is not None and for_vnet is not named:
        problems.append(f"it links the vnet '{_linked_vnet(named)}', the setup needs '{vnet_id}'")
    action = ownership.action_from_tags(for_vnet.tags, run_id) if for_vnet is not None else ownership.CREATED
    state = _results.state(for_vnet) if for_vnet is not None else None
    if action != ownership.CREATED or for_vnet is not named:  # only our own link under our name is PUT again
        problems += adoption.failed_state_problems(state)
    if problems:
        shown = (named or for_vnet).name
        return _results.incompatible("private DNS zone link", f"{zone_name}/{shown}", problems)
    if for_vnet is not None and not adoption.is_failed(state):
        if for_vnet is not named or not _results.prop(for_vnet, "registration_enabled"):
            return _link_result(for_vnet, zone_name, action)

    def put() -> Any:
        body = _link_body(wanted, dict(for_vnet.tags or {}) if for_vnet is not None else None)
        links = client.virtual_network_links
        return links.begin_create_or_update(node_rg, zone_name, link_name, body).result()

    if for_vnet is None:
        link = _results.create(
            put,
            lookup=lambda: arm.get_or_none(client.virtual_network_links.get, node_rg, zone_name, link_name),
            resource_type=LINK_TYPE,
        )
    elif adoption.is_failed(state):  # this run's own link, left Failed: PUT again and check it
        link = _results.put_right(
            put,
            kind="private DNS zone link",
            wrong=_link_wrong,
            owned=_results.resource(for_vnet.id, LINK_TYPE, action),
        )
    else:
        link = put()
    return _link_result(link, zone_name, action)


def _aks_zones(client: Any, node_rg: str) -> list[str]:
    """The AKS private zones in the node resource group (a cluster with no privateFQDN to read it from)."""
    names = [zone.name for zone in client.private_zones.list_by_resource_group(node_rg)]
    return [name for name in names if ".privatelink." in name and name.endswith(AKS_ZONE_SUFFIX)]


def _link_body(wanted: c.DnsLinkInput, kept_tags: dict[str, str] | None) -> Any:
    """The guide's link; a link of ours put back keeps its tags, a new one gets the run's."""
    from azure.mgmt.privatedns import models

    tags = kept_tags
    if tags is None:
        tags = ownership.run_tags(wanted.tags, wanted.instance_id, wanted.run_id)
    return models.VirtualNetworkLink(
        location="global",
        tags=tags,
        properties=models.VirtualNetworkLinkProperties(
            virtual_network=models.SubResource(id=wanted.vnet_id), registration_enabled=False
        ),
    )


def _link_wrong(link: Any) -> str | None:
    """What is not right with a link after its PUT: its state, or its link state not Completed yet."""
    wrong = _results.not_succeeded(_results.state(link))
    if wrong is not None:
        return wrong
    link_state = _results.prop(link, "virtual_network_link_state")
    if (link_state or "").casefold() != adoption.LINK_COMPLETED.casefold():
        return f"its virtualNetworkLinkState is {link_state or 'unknown'}, not {adoption.LINK_COMPLETED}"
    return None


def _linked_vnet(link: Any) -> str | None:
    network = _results.prop(link, "virtual_network")
    return network.id if network else None


def _zone_not_found(node_rg: str, detail: str) -> dict[str, Any]:
    return _results.error(
        _results.DNS_ZONE_NOT_FOUND,
        f"the private cluster's DNS zone was not found in node resource group '{node_rg}': {detail}",
        status=404,
    )


def _link_result(link: Any, zone_name: str, action: str) -> dict[str, Any]:
    """Done only when the link is Succeeded and Completed; else not ready yet (transient: asked again)."""
    resources = [_results.resource(link.id, LINK_TYPE, action)]
    wrong = _link_wrong(link)
    if wrong is not None:
        message = f"private DNS zone link '{link.id}' is not ready: {wrong}"
        failure = _results.error(_results.RESOURCE_NOT_READY, message, transient=True, resourceId=link.id)
        return {**failure, "resources": resources}
    return _results.ok(resources, c.DnsLinkOutput(zone_name=zone_name, id=link.id))


def delete(subscription_id: str, resource_id: str, resource_type: str) -> c.DeleteOutput:
    """Delete the DNS zone link (rollback), waiting for the operation."""
    parts = arm.parse_id(resource_id)
    links = arm.privatedns(subscription_id).virtual_network_links
    links.begin_delete(parts["resource_group"], parts["name"], parts["child_name_1"]).result()
    return deletion.outcome(True)


# ---------------------------------------------------------------- read-only inspection (plan, teardown)


@bp.activity_trigger(input_name="payload")
@_results.arm_activity
def inspect_dns_links(payload: dict[str, Any]) -> dict[str, Any]:
    """Read the links of the cluster's private DNS zone (no write); `zoneName` None when no zone is found."""
    from azure.core.exceptions import ResourceNotFoundError

    node_rg = payload["nodeResourceGroup"]
    client = arm.privatedns(payload["subscriptionId"])
    zone_name = adoption.private_dns_zone_name(payload.get("privateFqdn"))
    try:
        if zone_name is None:
            zones = _aks_zones(client, node_rg)
            zone_name = zones[0] if len(zones) == 1 else None
        links = list(client.virtual_network_links.list(node_rg, zone_name)) if zone_name else []
    except ResourceNotFoundError:
        zone_name, links = None, []
    found = [
        {
            "id": link.id,
            "name": link.name,
            "type": LINK_TYPE,
            "vnetId": _linked_vnet(link),
            "tags": dict(link.tags or {}),
            "registrationEnabled": bool(_results.prop(link, "registration_enabled")),
            # Failed/Canceled: the plan calls it a conflict, as for every other type.
            "provisioningState": _results.state(link),
            "virtualNetworkLinkState": _results.prop(link, "virtual_network_link_state"),
        }
        for link in links
    ]
    return _results.ok([], {"zoneName": zone_name, "links": found})
