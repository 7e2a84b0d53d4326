"""The plan of a setup: what it would do to each resource, from the target's facts (read, never written).

Actions (issue #11, docs/DESIGN.md "Plan"): `create`, `keep`, `update`, `adopt`, `conflict`, by the setup's
own rules (`provisioning.adoption`), so the plan says what the run would do. A resource an earlier run left
Failed (or Canceled) is a conflict, not an update, for every type: only the run that left it so PUTs it again
(a new run, like the plan, owns nothing yet); preflight reports it too where it can see it (not the DNS link:
its zone comes with the cluster).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from provisioning import adoption, lifecycle, naming, ownership
from provisioning.lifecycle import CLUSTER, DNS_LINK, PEERING, REGISTRY, ROLE_ASSIGNMENT, SUBNET, VNET

CREATE, KEEP, UPDATE, ADOPT, CONFLICT = "create", "keep", "update", "adopt", "conflict"
ACTIONS = (CREATE, KEEP, UPDATE, ADOPT, CONFLICT)
# Conflicts preflight does not look for: the setup would fail at these steps, after writing.
STEP_OF_TYPE = {PEERING: "peering", DNS_LINK: "dns_link"}
INCOMPATIBLE = "IncompatibleExistingResource"

DNS_ZONE = "Microsoft.Network/privateDnsZones"

ABSENT = "absent"
AS_WANTED = "made by a setup for this target and as the setup wants it"
ADOPTED = "exists, not made by a setup, and compatible: the setup uses it as is"


@dataclass
class _Plan(lifecycle.Reading):
    location: str | None = None
    changes: list[dict[str, str]] = field(default_factory=list)

    def add(self, resource_type: str, resource_id: str, action: str, reason: str) -> None:
        self.changes.append({"id": resource_id, "type": resource_type, "action": action, "reason": reason})

    def judge(
        self, resource_type: str, found: Mapping[str, Any], problems: Sequence[str], ours: bool | None = None
    ) -> None:
        """An existing resource: a conflict when it has problems, else kept when ours (by default: its tag),
        else adopted."""
        if problems:
            self.add(resource_type, found["id"], CONFLICT, "; ".join(problems))
            return
        if ours is None:
            ours = self.ours(found)
        action, reason = (KEEP, AS_WANTED) if ours else (ADOPT, ADOPTED)
        self.add(resource_type, found["id"], action, reason)


def plan_changes(
    request: Mapping[str, Any],
    facts: Mapping[str, Mapping[str, Any]],
    *,
    instance_id: str,
    location: str | None,
    record: Iterable[str] = (),
) -> list[dict[str, str]]:
    """Every resource the setup of `request` touches, in the setup's order, with its action and reason."""
    plan = _Plan(lifecycle.Target(request), facts, instance_id, {rid.casefold() for rid in record}, location)
    aks_vnet, *hopsworks_vnet = plan.target.vnets()
    _identity(plan)
    _role_assignments(plan, "managed identity")
    _vnet(plan, aks_vnet)
    _cluster(plan)
    _role_assignments(plan, "cluster")
    _registry(plan)
    _role_assignments(plan, "kubelet identity")
    if hopsworks_vnet:  # topology peering
        _vnet(plan, *hopsworks_vnet)
        _peerings(plan)
        _dns_link(plan)
    return plan.changes


def _identity(plan: _Plan) -> None:
    fact = plan.fact(lifecycle.F_IDENTITY)
    if not fact.get("exists"):
        plan.add(lifecycle.IDENTITY, plan.target.identity_id, CREATE, ABSENT)
    else:
        plan.judge(lifecycle.IDENTITY, fact, adoption.identity_problems(fact.get("location"), plan.location))


def _role_assignments(plan: _Plan, principal: str) -> None:
    for wanted in lifecycle.wanted_assignments(plan.target, plan.facts):
        if wanted.principal != principal:
            continue
        found = lifecycle.found_assignment(plan.facts, wanted)
        if found is None:
            reason = f"{wanted.label} at {wanted.scope}: the principal does not exist yet"
            plan.add(ROLE_ASSIGNMENT, wanted.id, CREATE, reason)
        elif found.get("exists"):
            by_setup = str(found.get("description") or "").startswith(ownership.DESCRIPTION_PREFIX)
            action, reason = (KEEP, AS_WANTED) if by_setup else (ADOPT, ADOPTED)
            plan.add(ROLE_ASSIGNMENT, found["id"], action, f"{wanted.label}: {reason}")
        elif found.get("otherId"):
            reason = f"{wanted.label}: assigned before under another name; the setup uses it"
            plan.add(ROLE_ASSIGNMENT, found["otherId"], ADOPT, reason)
        else:
            plan.add(ROLE_ASSIGNMENT, wanted.id, CREATE, f"{wanted.label}: {ABSENT}")


def _vnet(plan: _Plan, wanted: lifecycle.WantedVnet) -> None:
    fact = plan.fact(wanted.fact)
    if fact.get("exists"):
        vnet_id = fact["id"]
        # A new run owns nothing yet: a vnet or subnet left Failed by an earlier run is one it would refuse
        # to adopt (only the run that left it Failed PUTs it again), so the plan calls it a conflict, as
        # preflight does.
        subnets = fact.get("subnets") or ()
        existing = adoption.ExistingVnet(
            location=fact.get("location"),
            address_prefixes=tuple(fact.get("addressPrefixes") or ()),
            subnets={s["name"]: tuple(s.get("prefixes") or ()) for s in subnets},
            provisioning_state=fact.get("provisioningState"),
            subnet_states={s["name"]: s.get("provisioningState") for s in subnets},
        )
        checked = adoption.plan_existing_vnet(existing, plan.location, wanted.address_space, wanted.subnets)
        plan.judge(VNET, fact, checked.problems)
        missing = {name.casefold() for name, _ in checked.missing_subnets}
    else:
        vnet_id = wanted.id
        plan.add(VNET, vnet_id, CREATE, f"{ABSENT}; address space {wanted.address_space}")
        missing = {name.casefold() for name, _ in wanted.subnets}
    for name, prefix in wanted.subnets:
        subnet = lifecycle.find_child(fact, "subnets", name)
        if subnet is None or name.casefold() in missing:
            plan.add(SUBNET, f"{vnet_id}/subnets/{name}", CREATE, f"{ABSENT}; prefix {prefix}")
        else:
            problems = adoption.failed_state_problems(subnet.get("provisioningState"))
            plan.judge(SUBNET, subnet, problems, plan.ours(fact) or plan.recorded(subnet["id"]))


def _cluster(plan: _Plan) -> None:
    fact, target = plan.fact(lifecycle.F_CLUSTER), plan.target
    if not fact.get("exists"):
        plan.add(CLUSTER, target.cluster_id, CREATE, f"{ABSENT}; private, Azure CNI, takes minutes")
        return
    failure = fact.get("failure")
    if failure:  # as for a vnet: only the run that left it Failed PUTs it again; a new one refuses it
        plan.judge(CLUSTER, fact, [str(failure.get("message") or failure.get("code"))])
        return
    existing = dict(fact.get("facts") or {})
    existing["subnet_ids"] = tuple(existing.get("subnet_ids") or ())
    names = {f.name for f in dataclasses.fields(adoption.ExistingCluster)}
    problems = adoption.cluster_problems(
        adoption.ExistingCluster(**{k: v for k, v in existing.items() if k in names}),
        wanted_location=plan.location,
        node_subnet_id=f"{target.aks_vnet_id}/subnets/{target.aks['nodeSubnetName']}",
        service_cidr=target.aks["serviceCidr"],
        dns_service_ip=target.aks["dnsServiceIp"],
    )
    plan.judge(CLUSTER, fact, problems)


def _registry(plan: _Plan) -> None:
    fact, registry_id = plan.fact(lifecycle.F_REGISTRY), plan.target.registry_id
    days = int(plan.target.request["acr"].get("retentionDays") or 7)
    if not fact.get("exists"):
        taken = fact.get("nameTaken")
        if taken:
            plan.add(REGISTRY, registry_id, CONFLICT, str(taken.get("message")))
        else:
            reason = f"{ABSENT}; Premium, retention of untagged manifests {days} days"
            plan.add(REGISTRY, registry_id, CREATE, reason)
        return
    problems = adoption.registry_problems(fact.get("sku"), fact.get("roleAssignmentMode"))
    problems += adoption.failed_state_problems(fact.get("provisioningState"))
    policies = fact.get("policies") or {}
    if adoption.soft_delete_enabled(policies):
        problems.append(adoption.SOFT_DELETE_PROBLEM)
    retention = policies.get("retentionPolicy") or {}
    if problems or adoption.retention_in_state(retention, days):
        plan.judge(REGISTRY, fact, problems)
        return
    change = (
        f"retention policy is {retention.get('status') or 'unset'}, {retention.get('days')} days; "
        f"the setup sets enabled, {days} days"
    )
    if plan.ours(fact):
        plan.add(REGISTRY, fact["id"], UPDATE, change)
    else:
        plan.add(REGISTRY, fact["id"], ADOPT, f"{ADOPTED}, except: {change}")


def _peerings(plan: _Plan) -> None:
    vnet_ids = {vnet.fact: vnet.id for vnet in plan.target.vnets()}
    for vnet_fact, name, remote_id in plan.target.peerings():
        vnet = plan.fact(vnet_fact)
        peering = lifecycle.find_child(vnet, "peerings", name) if vnet.get("exists") else None
        if peering is None:
            peering_id = f"{vnet_ids[vnet_fact]}/virtualNetworkPeerings/{name}"
            plan.add(PEERING, peering_id, CREATE, f"{ABSENT}; towards {remote_id}")
            continue
        problems = adoption.peering_problems(peering.get("remoteVnetId"), remote_id)
        problems += adoption.failed_state_problems(peering.get("provisioningState"))
        drift = adoption.peering_drift(peering.get("settings") or {})
        disconnected = str(peering.get("peeringState") or "").casefold() == "disconnected"
        if not problems and (drift or disconnected):
            reason = f"{', '.join(drift)} differ from the guide's" if drift else "Disconnected"
            plan.add(PEERING, peering["id"], UPDATE, f"{reason}: PUT back with the guide's settings")
        else:
            plan.judge(PEERING, peering, problems, plan.vnets_ours() or plan.recorded(peering["id"]))


def _dns_link(plan: _Plan) -> None:
    target, cluster = plan.target, plan.fact(lifecycle.F_CLUSTER)
    link_name = str(target.dns_link_name)
    zone = plan.fact(lifecycle.F_DNS_LINKS).get("zoneName")
    node_rg = cluster.get("nodeResourceGroup") or naming.node_resource_group(
        target.resource_group, target.aks["name"], plan.location or "<location>"
    )
    zone_name = zone or "<the cluster's private zone>"
    new_link_id = naming.resource_id(
        target.subscription_id, node_rg, DNS_ZONE, zone_name, "virtualNetworkLinks", link_name
    )
    if not cluster.get("exists") or not zone:
        reason = "the cluster's private DNS zone does not exist yet" if not zone else ABSENT
        plan.add(DNS_LINK, new_link_id, CREATE, reason)
        return
    named, for_vnet = lifecycle.dns_link_for(plan.facts, target.hopsworks_vnet_id, link_name)
    failed = next(
        (link for link in (named, for_vnet) if link and adoption.is_failed(link.get("provisioningState"))),
        None,
    )
    if failed is not None:
        plan.judge(DNS_LINK, failed, adoption.failed_state_problems(failed.get("provisioningState")))
    elif named is not None and for_vnet is not named:
        reason = f"it links the vnet '{named.get('vnetId')}', the setup needs '{target.hopsworks_vnet_id}'"
        plan.add(DNS_LINK, named["id"], CONFLICT, reason)
    elif for_vnet is None:
        plan.add(DNS_LINK, new_link_id, CREATE, ABSENT)
    elif for_vnet is named and for_vnet.get("registrationEnabled"):
        plan.add(DNS_LINK, for_vnet["id"], UPDATE, "auto-registration is on: PUT back with it off")
    else:
        plan.judge(DNS_LINK, for_vnet, [])


# ---------------------------------------------------------------- problems and the whole answer


def problems_of(
    preflight: Mapping[str, Any] | None, changes: Iterable[Mapping[str, str]]
) -> list[dict[str, str]]:
    """What would stop the setup: preflight's problems (before any write), then conflicts preflight does not
    look for (the step that would fail on them)."""
    problems: list[dict[str, str]] = []
    if preflight is not None and not preflight.get("ok"):
        error = preflight.get("error") or {}
        listed = error.get("problems") or [{"code": error.get("code"), "message": error.get("message")}]
        problems += [
            {"step": "preflight", "code": str(p.get("code")), "message": str(p.get("message"))}
            for p in listed
        ]
    for change in changes:
        if change["action"] == CONFLICT and change["type"] in STEP_OF_TYPE:
            message = f"{change['id']}: {change['reason']}"
            problems.append({"step": STEP_OF_TYPE[change["type"]], "code": INCOMPATIBLE, "message": message})
    return problems


def summary(changes: Iterable[Mapping[str, str]]) -> dict[str, int]:
    counts = dict.fromkeys(ACTIONS, 0)
    for change in changes:
        counts[change["action"]] = counts.get(change["action"], 0) + 1
    return counts
