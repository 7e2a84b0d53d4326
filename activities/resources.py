"""Microsoft.Resources (the resource group), and the two activities over the whole group: `preflight`, which
reads through each service's module before anything is written, and `delete_resource`, which hands a
rollback delete to the module of the resource's service. This module's own client is the resource group's.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import azure.durable_functions as df

from activities import (
    _results,
    adoption,
    arm,
    authorization,
    c,
    containerregistry,
    containerservice,
    deletion,
    errors,
    msi,
    network,
    privatedns,
)
from activities import preflight as checks
from provisioning import function_names

bp = df.Blueprint()

# The reads run side by side: each is one or two ARM GETs, and none needs another's answer.
PREFLIGHT_READERS = 9

# The service (as provisioning.deletion names it: the module's name) -> its delete.
DELETERS: dict[str, Callable[[str, str, str], c.DeleteOutput]] = {
    service.__name__.removeprefix("activities."): service.delete
    for service in (msi, authorization, network, containerservice, containerregistry, privatedns)
}


@_results.registered(bp, function_names.PREFLIGHT)
def preflight(wanted: c.PreflightInput) -> dict[str, Any]:
    """Before any write: the resource group, the ACR name, every resource that already exists under a
    requested name, and the caller's permissions on the group. Reports every problem in one
    PreflightFailed; a transient ARM failure of any read is answered as such (the orchestrator retries)."""
    check = checks.checklist(wanted.request)
    sub, group = check.subscription_id, check.resource_group
    reads: list[tuple[str, Callable[[], Any]]] = [
        (check.group_target, lambda: arm.get_or_none(arm.resources(sub).resource_groups.get, group)),
        (check.identity_target, lambda: msi.find_identity(sub, group, check.identity_name)),
        *((vnet.target, lambda name=vnet.name: network.find_vnet(sub, group, name)) for vnet in check.vnets),
        (check.cluster_target, lambda: containerservice.find_cluster(sub, group, check.cluster_name)),
        (check.registry_target, lambda: containerregistry.find_registry(sub, group, check.registry_name)),
        ("permissions", lambda: authorization.read_grants(sub, group)),
        (checks.SUBSCRIPTION_VNETS, lambda: network.subscription_vnets(sub)),
    ]
    with ThreadPoolExecutor(max_workers=PREFLIGHT_READERS, thread_name_prefix="preflight") as pool:
        futures = [(target, pool.submit(read)) for target, read in reads]
        answers = [(target, _answer(future.result)) for target, future in futures]
    transient = next((failure for _, (_, failure) in answers if failure and failure["transient"]), None)
    if transient is not None:
        return {"ok": False, "error": transient}

    problems = checks.Problems()
    found = {target: value for target, (value, failure) in answers if failure is None}
    for target, (_, failure) in answers:
        # Without the group, its permissions cannot be read: the missing group is the problem. The
        # subscription's vnets that cannot be listed (not allowed, or refused otherwise): noted below, the run
        # goes on (the peering write's own answer decides).
        if failure is not None and not (target == "permissions" and found.get(check.group_target) is None):
            if target != checks.SUBSCRIPTION_VNETS:
                problems.add(failure["code"], target, f"{target}: {failure['message']}")
    location, existed_before = _judge(check, found, problems)
    listing = dict(answers)[checks.SUBSCRIPTION_VNETS][1]
    if listing is not None:
        checks.overlap_unchecked(problems, listing)
    if problems.items:
        return _results.error(checks.PREFLIGHT_FAILED, problems.summary(), problems=problems.items)
    existed, notes = sorted(existed_before), list(problems.notes) or None
    return _results.ok([], c.PreflightOutput(location=location, existed_before=existed, notes=notes))


def _answer(result: Callable[[], Any]) -> tuple[Any, dict[str, Any] | None]:
    """(value, None) or (None, the classified ARM failure) of one read."""
    from azure.core.exceptions import AzureError

    try:
        return result(), None
    except AzureError as exc:
        return None, errors.classify(exc).to_dict()


def _judge(
    check: checks.Checklist, found: dict[str, Any], problems: checks.Problems
) -> tuple[str | None, list[str]]:
    """Apply the checklist's rules to what the reads found (`found`: target -> what its read answered):
    (location, the untagged children of the requested vnets before the run)."""
    group = found.get(check.group_target)
    location = check.location or (group.location if group is not None else None)
    if group is None and check.group_target in found:
        checks.group_problem(check, problems)
    identity = found.get(check.identity_target)
    if identity is not None:
        problems.incompatible(
            "managed identity", check.identity_name, adoption.identity_problems(identity.location, location)
        )
    existed_before: list[str] = []
    for wanted in check.vnets:
        vnet = found.get(wanted.target)
        if vnet is not None:
            rules = checks.vnet_rules(wanted, network.existing_vnet(vnet), location, check)
            problems.incompatible("virtual network", wanted.name, rules)
            peering, rules = checks.peering_rules(wanted, network.existing_peerings(vnet))
            problems.incompatible("virtual network peering", peering, rules)
            existed_before.extend(network.untagged_children(vnet))
    others = found.get(checks.SUBSCRIPTION_VNETS)
    if others is not None:
        # Only the vnets read as absent are created (a failed read is a problem of its own already).
        read = [wanted for wanted in check.vnets if wanted.target in found]
        creates = [wanted for wanted in read if found[wanted.target] is None]
        checks.overlap_problems(creates, others, problems)
    _judge_cluster(check, found.get(check.cluster_target), location, problems)
    _judge_registry(check, found.get(check.registry_target), problems)
    grants = found.get("permissions")
    if group is not None and grants is not None:
        checks.permission_problems(check, grants, location, problems)
    return location, existed_before


def _judge_cluster(
    check: checks.Checklist, cluster: Any, location: str | None, problems: checks.Problems
) -> None:
    if cluster is None:
        return
    facts = containerservice.existing_cluster(cluster)
    problems.incompatible("AKS cluster", check.cluster_name, checks.cluster_rules(facts, location, check))
    failure = containerservice.cluster_failure(cluster)
    if failure is not None:
        problems.add(failure["error"]["code"], check.cluster_target, failure["error"]["message"])


def _judge_registry(check: checks.Checklist, found: Any, problems: checks.Problems) -> None:
    if found is None:
        return
    registry, detail = found
    if registry is None:
        if detail is not None:  # the global name is taken
            error = detail["error"]
            problems.add(error["code"], f"acr.name '{check.registry_name}'", error["message"])
        return
    sku, mode = containerregistry.registry_facts(registry)
    rules = checks.registry_rules(sku, mode, _results.state(registry), detail)
    problems.incompatible("container registry", check.registry_name, rules)


# ---------------------------------------------------------------- delete (rollback)


@_results.registered(bp, function_names.DELETE_RESOURCE)
def delete_resource(wanted: c.DeleteInput) -> dict[str, Any]:
    """Delete one resource this run created, through the module of its service (`provisioning.deletion`).
    Idempotent: already gone (404) is done. Outputs `{"done": bool}`, plus `"busy": true` when the service
    refused because another operation on the resource still runs (wait, then call again)."""
    from azure.core.exceptions import ResourceNotFoundError

    resource_id, resource_type = wanted.id, wanted.type
    delete = DELETERS[deletion.service_for(resource_type)]
    subscription_id = arm.parse_id(resource_id).get("subscription") or wanted.subscription_id
    try:
        outputs = delete(subscription_id, resource_id, resource_type)
    except ResourceNotFoundError:
        outputs = deletion.outcome(True)
    return _results.ok([], outputs)
