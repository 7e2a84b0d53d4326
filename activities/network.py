"""Virtual networks: the AKS vnet and its subnets, the Hopsworks vnet (topology peering), the two peerings."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df

from activities import _results, adoption, arm, c, deletion, errors, naming, ownership, preflight
from provisioning import function_names

if TYPE_CHECKING:
    VnetInput = c.AksNetworkInput | c.HopsworksNetworkInput

bp = df.Blueprint()

VNET_TYPE = "Microsoft.Network/virtualNetworks"
SUBNET_TYPE = "Microsoft.Network/virtualNetworks/subnets"
PEERING_TYPE = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
DISCONNECTED = "Disconnected"
REMOTE_PEERING_DISCONNECTED = "RemotePeeringIsDisconnected"
# The peering settings the guide fixes (adoption.PEERING_SETTINGS, by wire name): their SDK attributes.
PEERING_ATTRIBUTES = {
    "allowVirtualNetworkAccess": "allow_virtual_network_access",
    "allowForwardedTraffic": "allow_forwarded_traffic",
    "allowGatewayTransit": "allow_gateway_transit",
    "useRemoteGateways": "use_remote_gateways",
}


@_results.registered(bp, function_names.ENSURE_AKS_NETWORK)
def ensure_aks_network(wanted: c.AksNetworkInput) -> dict[str, Any]:
    """The AKS vnet with the node subnet (and, for topology subnet, the Hopsworks subnet)."""
    return _ensure_vnet(wanted, [(subnet.name, subnet.prefix) for subnet in wanted.subnets])


@_results.registered(bp, function_names.ENSURE_HOPSWORKS_NETWORK)
def ensure_hopsworks_network(wanted: c.HopsworksNetworkInput) -> dict[str, Any]:
    """The Hopsworks vnet and its one subnet (topology peering)."""
    result = _ensure_vnet(wanted, [(wanted.subnet_name, wanted.subnet_prefix)])
    if result["ok"]:
        made = c.AksNetworkOutput.from_dict(result["outputs"])
        output = c.HopsworksNetworkOutput(vnet_id=made.vnet_id, subnet_id=made.subnet_ids[wanted.subnet_name])
        result["outputs"] = output.to_dict()
    return result


def _ensure_vnet(wanted: VnetInput, wanted_subnets: list[tuple[str, str]]) -> dict[str, Any]:
    """GET the vnet; absent: one PUT with every subnet. Present: adopt it when compatible and add the missing
    subnets one PUT at a time (a vnet PUT replaces the subnet list, so a vnet that is not this run's is never
    re-PUT). This run's own vnet or subnets left Failed by an earlier attempt are PUT again and checked."""
    resource_group, vnet_name, run_id = wanted.resource_group, wanted.vnet_name, wanted.run_id
    client = arm.network(wanted.subscription_id)

    vnet = arm.get_or_none(client.virtual_networks.get, resource_group, vnet_name)
    if vnet is None:
        vnet = _results.create(
            _vnet_put(client, wanted, [], wanted_subnets),
            lookup=lambda: arm.get_or_none(client.virtual_networks.get, resource_group, vnet_name),
            resource_type=VNET_TYPE,
        )
        made = _by_wanted_name(_subnet_ids(vnet), wanted_subnets)
        return _vnet_result(vnet, ownership.CREATED, made, dict.fromkeys(made, ownership.CREATED))

    existed_before = wanted.existed_before
    vnet_action = ownership.action_from_tags(vnet.tags, run_id)
    subnet_ids = _subnet_ids(vnet)
    # Subnets carry no tags: those of a vnet this run made count as this run's, others as found, unless
    # preflight's snapshot says otherwise.
    subnet_actions = {
        name.casefold(): ownership.action_from_snapshot(subnet_id, existed_before, vnet_action)
        for name, subnet_id in subnet_ids.items()
    }
    plan = adoption.plan_existing_vnet(
        existing_vnet(vnet),
        wanted.location,
        wanted.address_space,
        wanted_subnets,
        vnet_is_ours=vnet_action == ownership.CREATED,
        ours={name for name, action in subnet_actions.items() if action == ownership.CREATED},
    )
    if plan.problems:
        return _results.incompatible("virtual network", vnet_name, plan.problems)
    if plan.put_vnet_again:
        # This run's vnet, left Failed: PUT again with its subnets (a vnet PUT replaces the list) and the
        # missing ones, then check the vnet and every subnet Succeeded.
        kept = [(name, prefixes[0]) for name, prefixes in existing_vnet(vnet).subnets.items() if prefixes]
        vnet = _results.put_right(
            _vnet_put(client, wanted, kept, plan.missing_subnets),
            kind="virtual network",
            wrong=_vnet_wrong,
            owned=_results.resource(vnet.id, VNET_TYPE, vnet_action),
        )
        subnet_ids = _subnet_ids(vnet)
    else:
        failed_ids = _by_wanted_name(subnet_ids, plan.failed_subnets)
        for name, prefix in plan.failed_subnets:
            _results.put_right(
                _subnet_put(client, wanted, name, prefix),
                kind="subnet",
                owned=_results.resource(failed_ids[name], SUBNET_TYPE, ownership.CREATED),
            )
        subnet_ids.update(_add_subnets(client, wanted, plan.missing_subnets))
    subnet_actions.update({name.casefold(): ownership.CREATED for name, _ in plan.missing_subnets})
    wanted_ids = _by_wanted_name(subnet_ids, wanted_subnets)
    actions = {
        name: ownership.action_from_snapshot(subnet_id, existed_before, subnet_actions[name.casefold()])
        for name, subnet_id in wanted_ids.items()
    }
    return _vnet_result(vnet, vnet_action, wanted_ids, actions)


def _vnet_result(vnet: Any, action: str, ids: dict[str, str], actions: dict[str, str]) -> dict[str, Any]:
    """The vnet and the wanted subnets (`ids`, by requested name) with what the run did to each."""
    subnets = [_results.resource(subnet_id, SUBNET_TYPE, actions[name]) for name, subnet_id in ids.items()]
    output = c.AksNetworkOutput(vnet_id=vnet.id, subnet_ids=ids)
    return _results.ok([_results.resource(vnet.id, VNET_TYPE, action), *subnets], output)


def _vnet_put(
    client: Any, wanted: VnetInput, kept: list[tuple[str, str]], added: list[tuple[str, str]]
) -> Callable[[], Any]:
    """The PUT (waits for its operation) of the vnet this run makes: the requested space, the run's tags,
    `kept` subnets and then `added` ones."""
    from azure.mgmt.network import models

    body = models.VirtualNetwork(
        location=wanted.location,
        tags=ownership.run_tags(wanted.tags, wanted.instance_id, wanted.run_id),
        properties=models.VirtualNetworkPropertiesFormat(
            address_space=models.AddressSpace(address_prefixes=[wanted.address_space]),
            subnets=[
                models.Subnet(name=name, properties=models.SubnetPropertiesFormat(address_prefix=prefix))
                for name, prefix in [*kept, *added]
            ],
        ),
    )
    vnets, group, name = client.virtual_networks, wanted.resource_group, wanted.vnet_name
    return lambda: vnets.begin_create_or_update(group, name, body).result()


def _vnet_wrong(vnet: Any) -> str | None:
    """What is not right with a vnet after its PUT: its own state or a subnet's."""
    facts = existing_vnet(vnet)
    wrong = _results.not_succeeded(facts.provisioning_state)
    if wrong is not None:
        return wrong
    for name, state in facts.subnet_states.items():
        if not adoption.is_succeeded(state):
            return f"its subnet '{name}' has provisioningState {state or 'unknown'}"
    return None


def _subnet_put(client: Any, wanted: VnetInput, name: str, prefix: str) -> Callable[[], Any]:
    """The PUT of one subnet (waits for its operation)."""
    from azure.mgmt.network import models

    body = models.Subnet(properties=models.SubnetPropertiesFormat(address_prefix=prefix))
    group, vnet_name = wanted.resource_group, wanted.vnet_name
    return lambda: client.subnets.begin_create_or_update(group, vnet_name, name, body).result()


def _add_subnets(client: Any, wanted: VnetInput, missing: list[tuple[str, str]]) -> dict[str, str]:
    """One PUT after the other (concurrent writes to one vnet conflict); the new subnets' ids by name."""
    group, vnet_name = wanted.resource_group, wanted.vnet_name
    made: dict[str, str] = {}
    for name, prefix in missing:
        subnet = _results.create(
            _subnet_put(client, wanted, name, prefix),
            lookup=lambda name=name: arm.get_or_none(client.subnets.get, group, vnet_name, name),
            resource_type=SUBNET_TYPE,
        )
        made[name] = subnet.id
    return made


def existing_vnet(vnet: Any) -> adoption.ExistingVnet:
    """The plain facts the adoption rules need from an SDK VirtualNetwork (shared with preflight)."""
    space = _results.prop(vnet, "address_space")
    return adoption.ExistingVnet(
        location=vnet.location,
        address_prefixes=tuple((space.address_prefixes if space else None) or ()),
        subnets={subnet.name: _subnet_prefixes(subnet) for subnet in _subnets(vnet)},
        provisioning_state=_results.state(vnet),
        subnet_states={subnet.name: _results.state(subnet) for subnet in _subnets(vnet)},
    )


def existing_peerings(vnet: Any) -> dict[str, tuple[str | None, str | None]]:
    """The vnet's peerings: name -> (remote vnet id, provisioningState) (shared with preflight)."""
    return {peering.name: (_remote_id(peering), _results.state(peering)) for peering in _peerings(vnet)}


def untagged_children(vnet: Any) -> list[str]:
    """Ids of the vnet's subnets and peerings: what preflight snapshots as existing before the run."""
    return [child.id for child in [*_subnets(vnet), *_peerings(vnet)] if child.id]


def _subnet_prefixes(subnet: Any) -> tuple[str, ...]:
    properties = subnet.properties
    if properties is None:
        return ()
    if properties.address_prefixes:
        return tuple(properties.address_prefixes)
    return (properties.address_prefix,) if properties.address_prefix else ()


def _subnets(vnet: Any) -> list[Any]:
    return _results.prop(vnet, "subnets") or []


def _peerings(vnet: Any) -> list[Any]:
    return _results.prop(vnet, "virtual_network_peerings") or []


def _remote_id(peering: Any) -> str | None:
    remote = _results.prop(peering, "remote_virtual_network")
    return remote.id if remote else None


def _subnet_ids(vnet: Any) -> dict[str, str]:
    return {subnet.name: subnet.id for subnet in _subnets(vnet)}


def _by_wanted_name(subnet_ids: dict[str, str], wanted: list[tuple[str, str]]) -> dict[str, str]:
    """Subnet ids keyed by the requested names (ARM keeps the case it was first given)."""
    folded = {name.casefold(): subnet_id for name, subnet_id in subnet_ids.items()}
    return {name: folded[name.casefold()] for name, _ in wanted}


@_results.registered(bp, function_names.ENSURE_PEERING)
def ensure_peering(wanted: c.PeeringInput) -> dict[str, Any]:
    """One side of the peering, on `vnetName` towards `remoteVnetId`, with the guide's settings.

    Present with other settings (changed by hand) or Disconnected (its other side was deleted): PUT back.
    Present towards another vnet: permanent error. This run's own peering left Failed: PUT again and checked
    Succeeded; someone else's Failed peering: refused, untouched. One side alone reports Initiated; after the
    second side both report Connected.
    """
    resource_group, vnet_name = wanted.resource_group, wanted.vnet_name
    peering_name, remote_id = wanted.peering_name, wanted.remote_vnet_id
    client = arm.network(wanted.subscription_id)

    def put() -> Any:
        return _put_peering_refreshing(client, wanted)

    def lookup() -> Any:
        return arm.get_or_none(client.virtual_network_peerings.get, resource_group, vnet_name, peering_name)

    peering = lookup()
    if peering is None:
        made = _results.create(put, lookup=lookup, resource_type=PEERING_TYPE)
        return _peering_result(made, ownership.CREATED)
    # Peerings carry no tags. One found under the derived name is this run's own (an activity re-executed
    # after a host crash) when preflight's snapshot did not see it, or (no snapshot) when either vnet carries
    # this run's runId. Otherwise it counts as existing (never rolled back).
    action = ownership.action_from_snapshot(
        peering.id, wanted.existed_before, _peering_action(client, wanted, remote_id)
    )
    provisioning_state = _results.state(peering)
    problems = adoption.peering_problems(_remote_id(peering), remote_id)
    if action != ownership.CREATED:
        problems += adoption.failed_state_problems(provisioning_state)
    if problems:
        return _results.incompatible("virtual network peering", f"{vnet_name}/{peering_name}", problems)
    if adoption.is_failed(provisioning_state):
        fixed = _results.put_right(
            put,
            kind="virtual network peering",
            owned=_results.resource(peering.id, PEERING_TYPE, action),
        )
        return _peering_result(fixed, action)
    state = _results.prop(peering, "peering_state")
    if not adoption.peering_drift(_peering_settings(peering.properties)) and state != DISCONNECTED:
        return _peering_result(peering, action)
    return _peering_result(put(), action)


def _put_peering_refreshing(client: Any, wanted: c.PeeringInput) -> Any:
    """PUT the peering; when ARM refuses because the other side is Disconnected (it survived the deletion of
    this one), update that side first ("Update or re-create the remote peering to get it back to
    Initiated") and PUT again."""
    from azure.core.exceptions import HttpResponseError

    resource_group, vnet_name = wanted.resource_group, wanted.vnet_name
    peering_name, remote_id = wanted.peering_name, wanted.remote_vnet_id
    try:
        return _put_peering(client, resource_group, vnet_name, peering_name, remote_id)
    except HttpResponseError as exc:
        if errors.classify(exc).code != REMOTE_PEERING_DISCONNECTED:
            raise
    local_id = naming.resource_id(wanted.subscription_id, resource_group, VNET_TYPE, vnet_name)
    _refresh_disconnected_peerings(client, remote_id, local_id)
    return _put_peering(client, resource_group, vnet_name, peering_name, remote_id)


def _peering_action(client: Any, wanted: c.PeeringInput, remote_id: str) -> str:
    """Read the two vnets' tags for `ownership.peering_action`."""
    vnets = [(wanted.resource_group, wanted.vnet_name)]
    remote = arm.parse_id(remote_id)
    if str(remote.get("subscription", "")).casefold() == str(wanted.subscription_id).casefold():
        vnets.append((remote.get("resource_group"), remote.get("name")))

    def tags() -> Iterator[Mapping[str, str] | None]:  # read lazily: the second vnet only when needed
        for group, name in vnets:
            vnet = arm.get_or_none(client.virtual_networks.get, group, name) if group and name else None
            yield vnet.tags if vnet is not None else None

    return ownership.peering_action(tags(), wanted.run_id)


def _put_peering(client: Any, resource_group: str, vnet_name: str, peering_name: str, remote_id: str) -> Any:
    from azure.mgmt.network import models

    settings = {attribute: adoption.PEERING_SETTINGS[key] for key, attribute in PEERING_ATTRIBUTES.items()}
    body = models.VirtualNetworkPeering(
        properties=models.VirtualNetworkPeeringPropertiesFormat(
            remote_virtual_network=models.SubResource(id=remote_id), **settings
        )
    )
    peerings = client.virtual_network_peerings
    return peerings.begin_create_or_update(resource_group, vnet_name, peering_name, body).result()


def _refresh_disconnected_peerings(client: Any, vnet_id: str, towards_id: str) -> None:
    """PUT back (guide settings) each Disconnected peering on `vnet_id` that points at `towards_id`."""
    parts = arm.parse_id(vnet_id)
    for peering in client.virtual_network_peerings.list(parts["resource_group"], parts["name"]):
        state = _results.prop(peering, "peering_state")
        if state == DISCONNECTED and naming.same_resource_id(_remote_id(peering), towards_id):
            _put_peering(client, parts["resource_group"], parts["name"], peering.name, towards_id)


def _peering_settings(properties: Any) -> dict[str, bool | None]:
    return {key: getattr(properties, attribute) for key, attribute in PEERING_ATTRIBUTES.items()}


def _peering_result(peering: Any, action: str) -> dict[str, Any]:
    output = c.PeeringOutput(id=peering.id, peering_state=_results.prop(peering, "peering_state"))
    return _results.ok([_results.resource(peering.id, PEERING_TYPE, action)], output)


def delete(subscription_id: str, resource_id: str, resource_type: str) -> c.DeleteOutput:
    """Delete a vnet, subnet or peering (rollback), waiting for the operation (seconds)."""
    parts = arm.parse_id(resource_id)
    client = arm.network(subscription_id)
    group, vnet = parts["resource_group"], parts["name"]
    kind = resource_type.casefold()
    if kind == SUBNET_TYPE.casefold():
        client.subnets.begin_delete(group, vnet, parts["child_name_1"]).result()
    elif kind == PEERING_TYPE.casefold():
        client.virtual_network_peerings.begin_delete(group, vnet, parts["child_name_1"]).result()
    else:
        client.virtual_networks.begin_delete(group, vnet).result()
    return deletion.outcome(True)


def find_vnet(subscription_id: str, resource_group: str, name: str) -> Any:
    """The vnet under `name` with its subnets and peerings, or None (preflight's read)."""
    return arm.get_or_none(arm.network(subscription_id).virtual_networks.get, resource_group, name)


def subscription_vnets(subscription_id: str) -> list[preflight.SubscriptionVnet]:
    """Every vnet in the subscription with its address space (preflight's overlap check). A caller not
    allowed to list at subscription scope gets ARM's 403, raised for preflight to note."""
    return [
        preflight.SubscriptionVnet(
            id=vnet.id,
            name=vnet.name,
            address_prefixes=tuple(existing_vnet(vnet).address_prefixes),
            peered_with=tuple(remote for remote, _ in existing_peerings(vnet).values() if remote),
        )
        for vnet in arm.network(subscription_id).virtual_networks.list_all()
    ]


# ---------------------------------------------------------------- read-only inspection (plan, teardown)


@bp.activity_trigger(input_name="payload")
@_results.arm_activity
def inspect_vnet(payload: dict[str, Any]) -> dict[str, Any]:
    """Read the vnet with its subnets and peerings (no write)."""
    vnet = find_vnet(payload["subscriptionId"], payload["resourceGroup"], payload["vnetName"])
    return _results.inspected(vnet, VNET_TYPE, _inspected_facts)


def _inspected_facts(vnet: Any) -> dict[str, Any]:
    subnets = [
        {
            "id": subnet.id,
            "name": subnet.name,
            "prefixes": list(_subnet_prefixes(subnet)),
            "provisioningState": _results.state(subnet),
        }
        for subnet in _subnets(vnet)
    ]
    peerings = [
        {
            "id": peering.id,
            "name": peering.name,
            "remoteVnetId": _remote_id(peering),
            "settings": _peering_settings(peering.properties) if peering.properties else {},
            "peeringState": _results.prop(peering, "peering_state"),
            "provisioningState": _results.state(peering),
        }
        for peering in _peerings(vnet)
    ]
    return {
        "addressPrefixes": list(existing_vnet(vnet).address_prefixes),
        "provisioningState": _results.state(vnet),
        "subnets": subnets,
        "peerings": peerings,
    }
