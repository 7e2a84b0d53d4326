"""The plan of a setup: what it would do to each resource, from the target's facts (read, never written).

Actions (issue #11): `create` (absent), `keep` (exists, made by a setup for this target, as wanted), `update`
(exists and differs in what the setup puts back: retention days, a drifted peering flag, DNS registration),
`adopt` (exists, not made by a setup, compatible: used as is) and `conflict` (exists and cannot be used; the
reason says why). The rules are the setup's own (`provisioning.adoption`), so the plan says what the run
would do. A resource an earlier run left Failed (or Canceled) is a conflict, not an update, for every type
(vnet, subnet, peering, cluster, registry, DNS link): only the run that left it so PUTs it again (a new run,
like the plan, owns nothing yet), and preflight reports it too where it can see it (not the DNS link: its zone
comes with the cluster).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from provisioning import adoption, lifecycle, naming
from provisioning.lifecycle import Target

CREATE, KEEP, UPDATE, ADOPT, CONFLICT = "create", "keep", "update", "adopt", "conflict"
ACTIONS = (CREATE, KEEP, UPDATE, ADOPT, CONFLICT)
SETUP_DESCRIPTION_PREFIX = f"{naming.RUN_TAG_RUN}="
# Conflicts preflight does not look for: the setup would fail at these steps, after writing.
STEP_OF_TYPE = {lifecycle.PEERING: "peering", lifecycle.DNS_LINK: "dns_link"}

ABSENT = "absent"
AS_WANTED = "made by a setup for this target and as the setup wants it"
ADOPTED = "exists, not made by a setup, and compatible: the setup uses it as is"


@dataclass
class _Plan:
    target: Target
    facts: Mapping[str, Mapping[str, Any]]
    instance_id: str
    location: str | None
    record: set[str]
    changes: list[dict[str, str]] = field(default_factory=list)

    def add(self, resource_id: str, resource_type: str, action: str, reason: str) -> None:
        self.changes.append({"id": resource_id, "type": resource_type, "action": action, "reason": reason})

    def fact(self, name: str) -> Mapping[str, Any]:
        return self.facts.get(name) or {}

    def ours(self, fact: Mapping[str, Any]) -> bool:
        return (
            bool(fact.get("exists", True))
            and (fact.get("tags") or {}).get(naming.RUN_TAG_INSTANCE) == self.instance_id
        )

    def kept_or_adopted(self, resource_id: str, resource_type: str, ours: bool) -> None:
        self.add(resource_id, resource_type, KEEP if ours else ADOPT, AS_WANTED if ours else ADOPTED)

    def recorded(self, resource_id: str | None) -> bool:
        return bool(resource_id) and str(resource_id).casefold() in self.record


def plan_changes(
    request: Mapping[str, Any],
    facts: Mapping[str, Mapping[str, Any]],
    *,
    instance_id: str,
    location: str | None,
    record: Iterable[str] = (),
) -> list[dict[str, str]]:
    """Every resource the setup of `request` touches, in the setup's order, with its action and reason."""
    plan = _Plan(Target(request), facts, instance_id, location, {rid.casefold() for rid in record})
    _identity(plan)
    _role_assignments(
        plan,
        [w for w in lifecycle.wanted_assignments(plan.target, facts) if w.principal == "managed identity"],
    )
    _vnet(
        plan,
        lifecycle.F_AKS_VNET,
        plan.target.aks["vnetName"],
        plan.target.aks["addressSpace"],
        plan.target.aks_subnets(),
    )
    _cluster(plan)
    _role_assignments(
        plan, [w for w in lifecycle.wanted_assignments(plan.target, facts) if w.principal == "cluster"]
    )
    _registry(plan)
    _role_assignments(
        plan,
        [w for w in lifecycle.wanted_assignments(plan.target, facts) if w.principal == "kubelet identity"],
    )
    network = plan.target.hopsworks_network
    if network:
        _vnet(
            plan,
            lifecycle.F_HOPSWORKS_VNET,
            network["vnetName"],
            network["addressSpace"],
            plan.target.hopsworks_subnets(),
        )
        _peerings(plan)
        _dns_link(plan)
    return plan.changes


def _identity(plan: _Plan) -> None:
    fact = plan.fact(lifecycle.F_IDENTITY)
    if not fact.get("exists"):
        plan.add(plan.target.identity_id, lifecycle.IDENTITY, CREATE, ABSENT)
        return
    problems = adoption.identity_problems(fact.get("location"), plan.location)
    if problems:
        plan.add(fact["id"], lifecycle.IDENTITY, CONFLICT, "; ".join(problems))
        return
    plan.kept_or_adopted(fact["id"], lifecycle.IDENTITY, plan.ours(fact))


def _role_assignments(plan: _Plan, wanted: list[lifecycle.WantedAssignment]) -> None:
    for assignment in wanted:
        found = lifecycle.found_assignment(plan.facts, assignment)
        if found is None:
            plan.add(
                assignment.id,
                lifecycle.ROLE_ASSIGNMENT,
                CREATE,
                f"{assignment.label} at {assignment.scope}: the principal does not exist yet",
            )
        elif found.get("exists"):
            by_setup = str(found.get("description") or "").startswith(SETUP_DESCRIPTION_PREFIX)
            plan.add(
                found["id"],
                lifecycle.ROLE_ASSIGNMENT,
                KEEP if by_setup else ADOPT,
                f"{assignment.label}: " + (AS_WANTED if by_setup else ADOPTED),
            )
        elif found.get("otherId"):
            plan.add(
                found["otherId"],
                lifecycle.ROLE_ASSIGNMENT,
                ADOPT,
                f"{assignment.label}: assigned before under another name; the setup uses it",
            )
        else:
            plan.add(assignment.id, lifecycle.ROLE_ASSIGNMENT, CREATE, f"{assignment.label}: {ABSENT}")


def _existing_vnet(fact: Mapping[str, Any]) -> adoption.ExistingVnet:
    subnets = fact.get("subnets") or ()
    return adoption.ExistingVnet(
        location=fact.get("location"),
        address_prefixes=tuple(fact.get("addressPrefixes") or ()),
        subnets={s["name"]: tuple(s.get("prefixes") or ()) for s in subnets},
        provisioning_state=fact.get("provisioningState"),
        subnet_states={s["name"]: s.get("provisioningState") for s in subnets},
    )


def _vnet(plan: _Plan, fact_name: str, vnet_name: str, space: str, subnets: list[tuple[str, str]]) -> None:
    fact = plan.fact(fact_name)
    vnet_id = plan.target.rid(lifecycle.VNET, vnet_name)
    if not fact.get("exists"):
        plan.add(vnet_id, lifecycle.VNET, CREATE, f"{ABSENT}; address space {space}")
        for name, prefix in subnets:
            plan.add(f"{vnet_id}/subnets/{name}", lifecycle.SUBNET, CREATE, f"{ABSENT}; prefix {prefix}")
        return
    ours = plan.ours(fact)
    recorded = _recorded_subnets(plan, fact)
    # A new run owns nothing yet: a vnet or subnet left Failed by an earlier run is one it would refuse to
    # adopt (only the run that left it Failed PUTs it again), so the plan calls it a conflict, as preflight.
    checked = adoption.plan_existing_vnet(_existing_vnet(fact), plan.location, space, subnets)
    if checked.problems:
        plan.add(fact["id"], lifecycle.VNET, CONFLICT, "; ".join(checked.problems))
    else:
        plan.kept_or_adopted(fact["id"], lifecycle.VNET, ours)
    missing = {name.casefold() for name, _ in checked.missing_subnets}
    for name, prefix in subnets:
        subnet = lifecycle.find_child(fact, "subnets", name)
        if subnet is None or name.casefold() in missing:
            plan.add(f"{fact['id']}/subnets/{name}", lifecycle.SUBNET, CREATE, f"{ABSENT}; prefix {prefix}")
        elif _failed(subnet):
            reason = "; ".join(adoption.failed_state_problems(subnet.get("provisioningState")))
            plan.add(subnet["id"], lifecycle.SUBNET, CONFLICT, reason)
        else:
            plan.kept_or_adopted(subnet["id"], lifecycle.SUBNET, ours or name.casefold() in recorded)


def _recorded_subnets(plan: _Plan, fact: Mapping[str, Any]) -> Collection[str]:
    return {s["name"].casefold() for s in fact.get("subnets") or () if plan.recorded(s.get("id"))}


def _cluster(plan: _Plan) -> None:
    fact = plan.fact(lifecycle.F_CLUSTER)
    target = plan.target
    if not fact.get("exists"):
        plan.add(target.cluster_id, lifecycle.CLUSTER, CREATE, f"{ABSENT}; private, Azure CNI, takes minutes")
        return
    ours = plan.ours(fact)
    failure = fact.get("failure")
    if failure:  # as for a vnet: only the run that left it Failed PUTs it again; a new one refuses it
        plan.add(fact["id"], lifecycle.CLUSTER, CONFLICT, str(failure.get("message") or failure.get("code")))
        return
    existing = dict(fact.get("facts") or {})
    existing["subnet_ids"] = tuple(existing.get("subnet_ids") or ())
    node_subnet_id = target.rid(
        lifecycle.VNET, target.aks["vnetName"], "subnets", target.aks["nodeSubnetName"]
    )
    names = {f.name for f in dataclasses.fields(adoption.ExistingCluster)}
    problems = adoption.cluster_problems(
        adoption.ExistingCluster(**{k: v for k, v in existing.items() if k in names}),
        wanted_location=plan.location,
        node_subnet_id=node_subnet_id,
        service_cidr=target.aks["serviceCidr"],
        dns_service_ip=target.aks["dnsServiceIp"],
    )
    if problems:
        plan.add(fact["id"], lifecycle.CLUSTER, CONFLICT, "; ".join(problems))
        return
    plan.kept_or_adopted(fact["id"], lifecycle.CLUSTER, ours)


def _registry(plan: _Plan) -> None:
    fact = plan.fact(lifecycle.F_REGISTRY)
    acr = plan.target.request["acr"]
    days = int(acr.get("retentionDays") or 7)
    if not fact.get("exists"):
        taken = fact.get("nameTaken")
        if taken:
            plan.add(plan.target.registry_id, lifecycle.REGISTRY, CONFLICT, str(taken.get("message")))
        else:
            plan.add(
                plan.target.registry_id,
                lifecycle.REGISTRY,
                CREATE,
                f"{ABSENT}; Premium, retention of untagged manifests {days} days",
            )
        return
    problems = adoption.registry_problems(fact.get("sku"), fact.get("roleAssignmentMode"))
    problems += adoption.failed_state_problems(fact.get("provisioningState"))
    policies = fact.get("policies") or {}
    if adoption.soft_delete_enabled(policies):
        problems.append(adoption.SOFT_DELETE_PROBLEM)
    if problems:
        plan.add(fact["id"], lifecycle.REGISTRY, CONFLICT, "; ".join(problems))
        return
    ours = plan.ours(fact)
    retention = policies.get("retentionPolicy") or {}
    if adoption.retention_in_state(retention, days):
        plan.kept_or_adopted(fact["id"], lifecycle.REGISTRY, ours)
        return
    change = (
        f"retention policy is {retention.get('status') or 'unset'}, {retention.get('days')} days; "
        f"the setup sets enabled, {days} days"
    )
    if ours:
        plan.add(fact["id"], lifecycle.REGISTRY, UPDATE, change)
    else:
        plan.add(fact["id"], lifecycle.REGISTRY, ADOPT, f"{ADOPTED}, except: {change}")


def _peerings(plan: _Plan) -> None:
    target = plan.target
    vnets_ours = plan.ours(plan.fact(lifecycle.F_AKS_VNET)) or plan.ours(
        plan.fact(lifecycle.F_HOPSWORKS_VNET)
    )
    for vnet_fact, name, remote_id in target.peerings():
        vnet = plan.fact(vnet_fact)
        vnet_name = (
            target.aks["vnetName"]
            if vnet_fact == lifecycle.F_AKS_VNET
            else target.hopsworks_network["vnetName"]
        )
        peering = lifecycle.find_child(vnet, "peerings", name) if vnet.get("exists") else None
        if peering is None:
            plan.add(
                target.rid(lifecycle.VNET, vnet_name, "virtualNetworkPeerings", name),
                lifecycle.PEERING,
                CREATE,
                f"{ABSENT}; towards {remote_id}",
            )
            continue
        problems = adoption.peering_problems(peering.get("remoteVnetId"), remote_id)
        problems += adoption.failed_state_problems(peering.get("provisioningState"))
        if problems:
            plan.add(peering["id"], lifecycle.PEERING, CONFLICT, "; ".join(problems))
            continue
        drift = adoption.peering_drift(peering.get("settings") or {})
        if drift or str(peering.get("peeringState") or "").casefold() == "disconnected":
            reason = f"{', '.join(drift)} differ from the guide's" if drift else "Disconnected"
            plan.add(
                peering["id"], lifecycle.PEERING, UPDATE, f"{reason}: PUT back with the guide's settings"
            )
            continue
        plan.kept_or_adopted(peering["id"], lifecycle.PEERING, vnets_ours or plan.recorded(peering["id"]))


def _dns_link(plan: _Plan) -> None:
    target = plan.target
    link_name = str(target.dns_link_name)
    cluster = plan.fact(lifecycle.F_CLUSTER)
    zone = (plan.facts.get(lifecycle.F_DNS_LINKS) or {}).get("zoneName")
    if not cluster.get("exists") or not zone:
        node_rg = cluster.get("nodeResourceGroup") or naming.node_resource_group(
            target.resource_group, target.aks["name"], plan.location or "<location>"
        )
        zone_id = naming.resource_id(
            target.subscription_id,
            node_rg,
            "Microsoft.Network/privateDnsZones",
            zone or "<the cluster's private zone>",
        )
        reason = "the cluster's private DNS zone does not exist yet" if not zone else ABSENT
        plan.add(f"{zone_id}/virtualNetworkLinks/{link_name}", lifecycle.DNS_LINK, CREATE, reason)
        return
    named, for_vnet = lifecycle.dns_link_for(plan.facts, target.hopsworks_vnet_id, link_name)
    failed = next((link for link in (named, for_vnet) if link and _failed(link)), None)
    if failed is not None:
        reason = "; ".join(adoption.failed_state_problems(failed.get("provisioningState")))
        plan.add(failed["id"], lifecycle.DNS_LINK, CONFLICT, reason)
    elif named is not None and for_vnet is not named:
        plan.add(
            named["id"],
            lifecycle.DNS_LINK,
            CONFLICT,
            f"it links the vnet '{named.get('vnetId')}', the setup needs '{target.hopsworks_vnet_id}'",
        )
    elif for_vnet is None:
        zone_id = naming.resource_id(
            target.subscription_id, cluster["nodeResourceGroup"], "Microsoft.Network/privateDnsZones", zone
        )
        plan.add(f"{zone_id}/virtualNetworkLinks/{link_name}", lifecycle.DNS_LINK, CREATE, ABSENT)
    elif for_vnet is named and for_vnet.get("registrationEnabled"):
        plan.add(for_vnet["id"], lifecycle.DNS_LINK, UPDATE, "auto-registration is on: PUT back with it off")
    else:
        ours = (for_vnet.get("tags") or {}).get(naming.RUN_TAG_INSTANCE) == plan.instance_id
        plan.kept_or_adopted(for_vnet["id"], lifecycle.DNS_LINK, ours)


def _failed(fact: Mapping[str, Any]) -> bool:
    return adoption.is_failed(fact.get("provisioningState"))


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
        step = STEP_OF_TYPE.get(change["type"])
        if change["action"] == CONFLICT and step:
            problems.append(
                {
                    "step": step,
                    "code": "IncompatibleExistingResource",
                    "message": f"{change['id']}: {change['reason']}",
                }
            )
    return problems


def summary(changes: Iterable[Mapping[str, str]]) -> dict[str, int]:
    counts = dict.fromkeys(ACTIONS, 0)
    for change in changes:
        counts[change["action"]] = counts.get(change["action"], 0) + 1
    return counts
