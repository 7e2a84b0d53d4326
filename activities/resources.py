"""Resource-group level work: the preflight before anything is written, and deleting for rollback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import azure.durable_functions as df

from activities import _compat, _results, arm
from activities.containerregistry import name_taken, registry_facts
from activities.containerservice import cluster_failure, existing_cluster
from activities.network import existing_vnet, untagged_children
from provisioning import errors, naming, roles

bp = df.Blueprint()

VNET = "Microsoft.Network/virtualNetworks"


class _Transient(Exception):
    """A check met a transient ARM failure: preflight answers it (the orchestrator retries preflight)."""

    def __init__(self, failure: dict[str, Any]) -> None:
        super().__init__(failure["code"])
        self.failure = failure


class _Problems:
    """Every problem preflight finds, each with a code, the resource or field it concerns, and the rule."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, code: str, target: str, message: str) -> None:
        self.items.append({"code": code, "target": target, "message": message})

    def check(self, target: str, run: Callable[[], None]) -> None:
        """Run one check; a permanent ARM failure becomes a problem, a transient one stops preflight."""
        from azure.core.exceptions import AzureError

        try:
            run()
        except AzureError as exc:
            failure = errors.classify(exc).to_dict()
            if failure["transient"]:
                raise _Transient(failure) from exc
            self.add(failure["code"], target, f"{target}: {failure['message']}")


@bp.activity_trigger(input_name="payload")
@_results.arm_activity
def preflight(payload: dict[str, Any]) -> dict[str, Any]:
    """Before any write: the resource group, the ACR name, every resource that already exists under a
    requested name, and the caller's permissions on the group. Reports every problem in one
    PreflightFailed."""
    request = payload["request"]
    subscription_id, resource_group = request["subscriptionId"], request["resourceGroup"]
    problems = _Problems()
    found: dict[str, Any] = {"location": request.get("location")}
    existed_before: list[str] = []  # subnets and peerings already there (they carry no runId tag)

    def resource_group_exists() -> None:
        group = arm.get_or_none(arm.resources(subscription_id).resource_groups.get, resource_group)
        found["group"] = group
        if group is None:
            problems.add(
                "ResourceGroupNotFound",
                f"resourceGroup '{resource_group}'",
                f"resource group '{resource_group}' does not exist in subscription {subscription_id}",
            )
        elif not found["location"]:
            found["location"] = group.location

    try:
        problems.check(f"resource group '{resource_group}'", resource_group_exists)
        location = found["location"]
        checks = _existing_resource_checks(request, location, problems, existed_before)
        for target, check in checks:
            problems.check(target, check)
        if found.get("group") is not None:
            problems.check("permissions", lambda: _permissions(request, problems))
    except _Transient as transient:
        return {"ok": False, "error": transient.failure}

    if problems.items:
        count = len(problems.items)
        listing = "; ".join(f"({index}) {item['message']}" for index, item in enumerate(problems.items, 1))
        return _results.error(
            _results.PREFLIGHT_FAILED,
            f"preflight found {count} problem{'s' if count > 1 else ''}: {listing}",
            problems=problems.items,
        )
    return _results.ok([], {"location": found["location"], "existedBefore": sorted(existed_before)})


def _existing_resource_checks(
    request: dict[str, Any], location: str | None, problems: _Problems, existed_before: list[str]
) -> list[tuple[str, Callable[[], None]]]:
    """One check per resource the run would adopt if it exists: compatible, or a problem naming the rule."""
    subscription_id, resource_group = request["subscriptionId"], request["resourceGroup"]
    aks, acr, identity = request["aks"], request["acr"], request["identity"]

    def incompatible(kind: str, name: str, rules: list[str]) -> None:
        if rules:
            problems.add(
                _results.INCOMPATIBLE_EXISTING,
                f"{kind} '{name}'",
                f"existing {kind} '{name}' cannot be used: " + "; ".join(rules),
            )

    def check_identity() -> None:
        client = arm.msi(subscription_id).user_assigned_identities
        existing = arm.get_or_none(client.get, resource_group, identity["name"])
        if existing is not None:
            incompatible(
                "managed identity", identity["name"], _compat.identity_problems(existing.location, location)
            )

    def check_vnet(vnet_name: str, space: str, subnets: list[tuple[str, str]]) -> Callable[[], None]:
        def check() -> None:
            client = arm.network(subscription_id).virtual_networks
            existing = arm.get_or_none(client.get, resource_group, vnet_name)
            if existing is not None:
                plan = _compat.plan_existing_vnet(existing_vnet(existing), location, space, subnets)
                incompatible("virtual network", vnet_name, plan.problems)
                existed_before.extend(untagged_children(existing))

        return check

    def check_cluster() -> None:
        client = arm.containerservice(subscription_id).managed_clusters
        existing = arm.get_or_none(client.get, resource_group, aks["name"])
        if existing is None:
            return
        node_subnet_id = naming.resource_id(
            subscription_id, resource_group, VNET, aks["vnetName"], "subnets", aks["nodeSubnetName"]
        )
        incompatible(
            "AKS cluster",
            aks["name"],
            _compat.cluster_problems(
                existing_cluster(existing),
                wanted_location=location,
                node_subnet_id=node_subnet_id,
                service_cidr=aks["serviceCidr"],
                dns_service_ip=aks["dnsServiceIp"],
            ),
        )
        failure = cluster_failure(existing)
        if failure is not None:
            problems.add(
                failure["error"]["code"], f"AKS cluster '{aks['name']}'", failure["error"]["message"]
            )

    def check_registry() -> None:
        registries = arm.containerregistry(subscription_id).registries
        existing = arm.get_or_none(registries.get, resource_group, acr["name"])
        if existing is None:
            taken = name_taken(registries, acr["name"])
            if taken is not None:
                problems.add(taken["error"]["code"], f"acr.name '{acr['name']}'", taken["error"]["message"])
            return
        rules = _compat.registry_problems(*registry_facts(existing))
        policies = existing.properties.policies if existing.properties else None
        if _compat.soft_delete_enabled(dict(policies) if policies is not None else None):
            rules.append("soft delete is enabled, which ACR cannot combine with the retention policy")
        incompatible("container registry", acr["name"], rules)

    aks_subnets = [(aks["nodeSubnetName"], aks["nodeSubnetPrefix"])]
    if request.get("hopsworksSubnet"):
        aks_subnets.append((request["hopsworksSubnet"]["name"], request["hopsworksSubnet"]["prefix"]))
    checks: list[tuple[str, Callable[[], None]]] = [
        (f"managed identity '{identity['name']}'", check_identity),
        (
            f"virtual network '{aks['vnetName']}'",
            check_vnet(aks["vnetName"], aks["addressSpace"], aks_subnets),
        ),
    ]
    network = request.get("hopsworksNetwork")
    if network:
        checks.append(
            (
                f"virtual network '{network['vnetName']}'",
                check_vnet(
                    network["vnetName"],
                    network["addressSpace"],
                    [(network["subnetName"], network["subnetPrefix"])],
                ),
            )
        )
    checks += [
        (f"AKS cluster '{aks['name']}'", check_cluster),
        (f"container registry '{acr['name']}'", check_registry),
    ]
    return checks


def _permissions(request: dict[str, Any], problems: _Problems) -> None:
    """GET Microsoft.Authorization/permissions on the group; each required action it does not allow is a
    problem (the run would otherwise fail half-way with AuthorizationFailed)."""
    subscription_id, resource_group = request["subscriptionId"], request["resourceGroup"]
    permissions = [
        {"actions": list(entry.actions or []), "notActions": list(entry.not_actions or [])}
        for entry in arm.authorization(subscription_id).permissions.list_for_resource_group(resource_group)
    ]
    for action in roles.missing_actions(roles.required_actions(request["topology"]), permissions):
        problems.add(
            "MissingPermission",
            action,
            f"the app's identity lacks '{action}' on resource group '{resource_group}'",
        )


# ---------------------------------------------------------------- delete (rollback)


@bp.activity_trigger(input_name="payload")
@_results.arm_activity
def delete_resource(payload: dict[str, Any]) -> dict[str, Any]:
    """Delete one resource this run created. Idempotent: already gone (404) is done. The AKS delete takes
    minutes: it is started with polling=False and answers done=false until a GET finds it gone."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.mgmt.core.tools import parse_resource_id

    resource_id, resource_type = payload["id"], payload["type"]
    delete = _DELETERS.get(resource_type.casefold())
    if delete is None:
        raise ValueError(f"delete_resource: no deleter for resource type {resource_type!r}")
    parts = parse_resource_id(resource_id)
    try:
        done = delete(parts.get("subscription") or payload["subscriptionId"], parts, resource_id)
    except ResourceNotFoundError:
        done = True
    return _results.ok([], {"done": done})


def _delete_cluster(subscription_id: str, parts: dict[str, Any], _: str) -> bool:
    clusters = arm.containerservice(subscription_id).managed_clusters
    cluster = arm.get_or_none(clusters.get, parts["resource_group"], parts["name"])
    if cluster is None:
        return True
    state = _results.plain(cluster.properties.provisioning_state) if cluster.properties else None
    if (state or "").casefold() != "deleting":
        clusters.begin_delete(parts["resource_group"], parts["name"], polling=False)
    return False


def _delete_identity(subscription_id: str, parts: dict[str, Any], _: str) -> bool:
    arm.msi(subscription_id).user_assigned_identities.delete(parts["resource_group"], parts["name"])
    return True


def _delete_role_assignment(subscription_id: str, _: dict[str, Any], resource_id: str) -> bool:
    arm.authorization(subscription_id).role_assignments.delete_by_id(resource_id)
    return True


def _delete_vnet(subscription_id: str, parts: dict[str, Any], _: str) -> bool:
    arm.network(subscription_id).virtual_networks.begin_delete(
        parts["resource_group"], parts["name"]
    ).result()
    return True


def _delete_subnet(subscription_id: str, parts: dict[str, Any], _: str) -> bool:
    arm.network(subscription_id).subnets.begin_delete(
        parts["resource_group"], parts["name"], parts["child_name_1"]
    ).result()
    return True


def _delete_peering(subscription_id: str, parts: dict[str, Any], _: str) -> bool:
    arm.network(subscription_id).virtual_network_peerings.begin_delete(
        parts["resource_group"], parts["name"], parts["child_name_1"]
    ).result()
    return True


def _delete_registry(subscription_id: str, parts: dict[str, Any], _: str) -> bool:
    arm.containerregistry(subscription_id).registries.begin_delete(
        parts["resource_group"], parts["name"]
    ).result()
    return True


def _delete_dns_link(subscription_id: str, parts: dict[str, Any], _: str) -> bool:
    arm.privatedns(subscription_id).virtual_network_links.begin_delete(
        parts["resource_group"], parts["name"], parts["child_name_1"]
    ).result()
    return True


_DELETERS: dict[str, Callable[[str, dict[str, Any], str], bool]] = {
    "microsoft.containerservice/managedclusters": _delete_cluster,
    "microsoft.managedidentity/userassignedidentities": _delete_identity,
    "microsoft.authorization/roleassignments": _delete_role_assignment,
    "microsoft.network/virtualnetworks": _delete_vnet,
    "microsoft.network/virtualnetworks/subnets": _delete_subnet,
    "microsoft.network/virtualnetworks/virtualnetworkpeerings": _delete_peering,
    "microsoft.containerregistry/registries": _delete_registry,
    "microsoft.network/privatednszones/virtualnetworklinks": _delete_dns_link,
}
