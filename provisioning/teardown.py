"""What a teardown deletes, in what order, and what it keeps: pure decisions over the target's facts.

Who made what, by tag, role-assignment description or the durable record of the setups' outputs
(`fold_record`): docs/DESIGN.md ("Teardown"). Nothing without our mark is ever deleted; a resource whose
ownership is unclear is kept and reported, and so is a vnet of ours that holds subnets or peerings the setup
did not make (they would go with it). Order: the reverse of the setup's dependencies (`GROUPS`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from provisioning import lifecycle, naming, ownership
from provisioning.lifecycle import F_CLUSTER, F_IDENTITY, F_REGISTRY, ROLE_ASSIGNMENT, SUBNET
from provisioning.rollback import is_under

GROUPS = ("dns_link", "peerings", "role_assignments", "cluster", "registry", "subnets", "vnets", "identity")
INVENTORY = "inventory"
STEPS = (INVENTORY, *GROUPS)

NOT_OURS = "not made by a setup for this target (it existed before, or someone else made it): kept"
UNCLEAR = (
    "recorded as made by a setup, but it no longer carries this target's hopsworks-setup tag: "
    "ownership unclear, kept"
)


@dataclass(frozen=True)
class Item:
    id: str
    type: str
    group: str
    reason: str = ""

    def as_deleted(self) -> dict[str, str]:
        return {"id": self.id, "type": self.type}

    def as_kept(self) -> dict[str, str]:
        return {"id": self.id, "type": self.type, "reason": self.reason}


@dataclass
class Decision:
    delete: list[Item] = field(default_factory=list)  # in deletion order
    kept: list[Item] = field(default_factory=list)
    # Children that go with a parent being deleted (subnets, peerings of a vnet of ours): parent id -> items.
    goes_with: dict[str, list[Item]] = field(default_factory=dict)

    def groups(self) -> list[str]:
        return sorted({item.group for item in self.delete}, key=GROUPS.index)


@dataclass
class _Context(lifecycle.Reading):
    decision: Decision = field(default_factory=Decision)

    def run_ids(self) -> set[str]:
        """The run ids tagged on the resources of ours: the setups' runs for this target."""
        names = (F_IDENTITY, lifecycle.F_AKS_VNET, lifecycle.F_HOPSWORKS_VNET, F_CLUSTER, F_REGISTRY)
        tagged = [self.fact(name) for name in names]
        tagged += self.fact(lifecycle.F_DNS_LINKS).get("links") or ()
        return {str(fact["tags"].get(naming.RUN_TAG_RUN)) for fact in tagged if self.ours(fact)} - {"None"}

    def delete(self, resource_id: str, resource_type: str, group: str, reason: str) -> None:
        self.decision.delete.append(Item(resource_id, resource_type, group, reason))

    def keep(self, resource_id: str, resource_type: str, group: str, reason: str) -> None:
        self.decision.kept.append(Item(resource_id, resource_type, group, reason))

    def untagged(self, resource_id: str, resource_type: str, group: str, ours: bool, reason: str) -> None:
        """A subnet, peering or DNS link: deleted (with `reason`) when `ours`, else kept."""
        if ours:
            self.delete(resource_id, resource_type, group, reason)
        else:
            self.keep(resource_id, resource_type, group, NOT_OURS)

    def tagged(self, name: str, group: str, kind: str) -> None:
        """identity, cluster, registry, vnets: ours by tag, else kept (a record without the tag: unclear)."""
        fact = self.fact(name)
        if not fact.get("exists"):
            return
        if self.ours(fact):
            self.delete(fact["id"], fact["type"], group, f"{kind} made by a setup for this target")
        else:
            self.keep(fact["id"], fact["type"], group, UNCLEAR if self.recorded(fact["id"]) else NOT_OURS)


def decide(
    request: Mapping[str, Any],
    facts: Mapping[str, Mapping[str, Any]],
    record: Iterable[str],
    setup_instance_id: str,
) -> Decision:
    """What to delete (in order) and what to keep, with a reason for each."""
    ctx = _Context(lifecycle.Target(request), facts, setup_instance_id, {rid.casefold() for rid in record})
    _dns_link(ctx)
    _peerings(ctx)
    _role_assignments(ctx)
    ctx.tagged(F_CLUSTER, "cluster", "cluster (its node resource group goes with it)")
    ctx.tagged(F_REGISTRY, "registry", "registry")
    _networks(ctx)
    ctx.tagged(F_IDENTITY, "identity", "managed identity")
    _unreached_records(ctx, record)
    return ctx.decision


def _dns_link(ctx: _Context) -> None:
    target = ctx.target
    named, for_vnet = lifecycle.dns_link_for(ctx.facts, target.hopsworks_vnet_id, target.dns_link_name)
    for link in {id(x): x for x in (for_vnet, named) if x is not None}.values():
        reason = "DNS zone link made by a setup for this target"
        ctx.untagged(link["id"], lifecycle.DNS_LINK, "dns_link", ctx.ours(link), reason)


def _peerings(ctx: _Context) -> None:
    for vnet_fact, name, _remote in ctx.target.peerings():
        peering = lifecycle.find_child(ctx.fact(vnet_fact), "peerings", name)
        if peering is not None:
            ctx.untagged(
                peering["id"],
                lifecycle.PEERING,
                "peerings",
                ctx.vnets_ours() or ctx.recorded(peering["id"]),
                "peering made by a setup for this target (on or towards a vnet it made, or recorded)",
            )


def _role_assignments(ctx: _Context) -> None:
    run_ids = ctx.run_ids()
    for wanted in lifecycle.wanted_assignments(ctx.target, ctx.facts):
        found = lifecycle.found_assignment(ctx.facts, wanted) or {}
        if not found.get("exists"):
            if found.get("otherId"):
                reason = f"{wanted.label}: assigned before the setup (under another name): kept"
                ctx.keep(found["otherId"], ROLE_ASSIGNMENT, "role_assignments", reason)
            continue
        description = str(found.get("description") or "").strip()
        prefix = ownership.DESCRIPTION_PREFIX
        # The principal goes with a resource of ours: the kubelet identity's is the cluster's.
        owner = F_IDENTITY if wanted.principal == "managed identity" else F_CLUSTER
        if not description.startswith(prefix):
            reason = f"{wanted.label}: not created by a setup: kept"
            ctx.keep(found["id"], ROLE_ASSIGNMENT, "role_assignments", reason)
        elif description[len(prefix) :] in run_ids or ctx.recorded(found["id"]) or ctx.ours(ctx.fact(owner)):
            reason = f"{wanted.label}, created by a setup for this target"
            ctx.delete(found["id"], ROLE_ASSIGNMENT, "role_assignments", reason)
        else:
            reason = (
                f"{wanted.label}: created by a setup run that is not recorded for this target "
                "(ownership unclear): kept"
            )
            ctx.keep(found["id"], ROLE_ASSIGNMENT, "role_assignments", reason)


def _networks(ctx: _Context) -> None:
    """Subnets first (all of them, across vnets), then the vnets: the order the groups run in."""
    vnets = [(wanted, ctx.fact(wanted.fact)) for wanted in ctx.target.vnets()]
    vnets = [(wanted, vnet) for wanted, vnet in vnets if vnet.get("exists")]
    made_with: dict[str, list[Item]] = {}  # the subnets of each vnet of ours, by its fact
    for wanted, vnet in vnets:
        subnets = [lifecycle.find_child(vnet, "subnets", name) for name, _ in wanted.subnets]
        subnets = [subnet for subnet in subnets if subnet is not None]
        if ctx.ours(vnet):
            reason = "subnet made with a vnet of this target's setup"
            made_with[wanted.fact] = [Item(subnet["id"], SUBNET, "subnets", reason) for subnet in subnets]
            continue
        for subnet in subnets:
            reason = "subnet a setup for this target added to an existing vnet (recorded)"
            ctx.untagged(subnet["id"], SUBNET, "subnets", ctx.recorded(subnet["id"]), reason)
    wanted_peerings = {name.casefold() for _, name, _ in ctx.target.peerings()}
    for wanted, vnet in vnets:
        if not ctx.ours(vnet):
            ctx.tagged(wanted.fact, "vnets", "virtual network")
            continue
        wanted_subnets = {name.casefold() for name, _ in wanted.subnets}
        foreign = [s["name"] for s in vnet.get("subnets") or () if s["name"].casefold() not in wanted_subnets]
        foreign += [
            p["name"] for p in vnet.get("peerings") or () if p["name"].casefold() not in wanted_peerings
        ]
        if foreign:
            ctx.decision.delete += made_with[wanted.fact]
            ctx.keep(
                vnet["id"],
                lifecycle.VNET,
                "vnets",
                "made by a setup for this target, but it holds subnets or peerings the setup did not make "
                f"({', '.join(foreign)}): ownership of its contents unclear, kept",
            )
        else:
            ctx.delete(vnet["id"], lifecycle.VNET, "vnets", "virtual network made by a setup for this target")
            ctx.decision.goes_with[vnet["id"]] = made_with[wanted.fact]
    # Subnets before vnets: keep the group order even though they were collected per vnet.
    ctx.decision.delete.sort(key=lambda item: GROUPS.index(item.group))


def _unreached_records(ctx: _Context, record: Iterable[str]) -> None:
    """Recorded resources this request does not name (names changed since the setup): never deleted unseen."""
    decision = ctx.decision
    reached = [*decision.delete, *decision.kept, *(c for cs in decision.goes_with.values() for c in cs)]
    reached_ids = {item.id.casefold() for item in reached}
    for rid in record:
        if rid.casefold() not in reached_ids and not _covered(rid, ctx.target):
            ctx.keep(
                rid,
                type_of(rid),
                "identity",
                "recorded as made by a setup for this target, but this request does not name it "
                "(not inspected): kept",
            )


def _covered(resource_id: str, target: lifecycle.Target) -> bool:
    """A recorded id that the inventory reached in another spelling or that no longer exists."""
    named = [target.identity_id, target.cluster_id, target.registry_id, *(vnet.id for vnet in target.vnets())]
    if any(naming.same_resource_id(resource_id, n) or is_under(resource_id, n) for n in named):
        return True
    # Role assignments at the identity's scope and the DNS link (in the node resource group) are inspected
    # through their principal and the cluster: one not reached no longer exists.
    return type_of(resource_id).casefold() in (ROLE_ASSIGNMENT.casefold(), lifecycle.DNS_LINK.casefold())


# ---------------------------------------------------------------- ids, the failure message and the record


def type_of(resource_id: str) -> str:
    """ARM resource type of an id: `Namespace/type[/childType...]` after its last `/providers/`."""
    tail = resource_id.rsplit("/providers/", 1)[-1].strip("/").split("/")
    if len(tail) < 2:
        return ""
    return "/".join([tail[0], *tail[1::2]])


def failure_message(
    failed: Item, code: str, message: str, deleted: Sequence[str], left: Sequence[str]
) -> str:
    """What a failed teardown reports (the orchestration's output). `fold_record` reads its Deleted part."""
    text = f"Teardown failed deleting {failed.id}: {code}"
    detail = message.strip().rstrip(".")
    if detail:
        text += f": {detail}"
    text += f". Deleted {len(deleted)}: {', '.join(deleted) or 'nothing'}."
    text += f" Left {len(left)} to remove (run the teardown again): {', '.join(left)}."
    return text


_DELETED_PART = re.compile(r"\. Deleted \d+: (.*?)\. Left \d+ to remove", re.S)
_LEFT_BEHIND_PART = re.compile(r"Left behind \d+ resource\(s\) that could not be removed: (.*)", re.S)
_ID = re.compile(r"/subscriptions/[^\s,()]+")


def fold_record(record: Mapping[str, Any] | None, runs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The target's record (docs/DESIGN.md, "The record") after the finished runs (`{"kind", "createdTime",
    "runtimeStatus", "output"}`) it has not seen yet, oldest first: a setup adds what it created (a failed one
    what its rollback left behind), a teardown removes what it deleted (a failed one: its Deleted part)."""
    resources = {str(r["id"]).casefold(): dict(r) for r in (record or {}).get("resources") or ()}
    seen = dict((record or {}).get("seen") or {})
    for run in sorted(runs, key=lambda r: str(r.get("createdTime") or "")):
        kind, created = run.get("kind"), str(run.get("createdTime") or "")
        if kind not in lifecycle.KINDS or not created or created <= str(seen.get(kind) or ""):
            continue
        if run.get("runtimeStatus") not in ("Completed", "Failed", "Terminated"):
            continue
        added, removed = _changes(kind, run.get("runtimeStatus"), run.get("output"))
        for rid in removed:
            resources.pop(rid.casefold(), None)
        for rid, rtype in added:
            resources[rid.casefold()] = {"id": rid, "type": rtype}
        seen[kind] = created
    return {"resources": list(resources.values()), "seen": seen}


def _changes(kind: str, status: Any, output: Any) -> tuple[list[tuple[str, str]], list[str]]:
    """(what the run created: (id, type), what it deleted: ids)."""
    completed = status == "Completed" and isinstance(output, Mapping)
    if kind == lifecycle.SETUP:
        if completed:
            created = [r for r in output.get("resources") or () if r.get("action") == "created"]
            return [(str(r["id"]), str(r.get("type") or type_of(str(r["id"])))) for r in created], []
        return [(rid, type_of(rid)) for rid in _ids_in(_LEFT_BEHIND_PART, output)], []
    if completed:
        return [], [str(r["id"]) for r in output.get("deleted") or ()]
    return [], _ids_in(_DELETED_PART, output)


def _ids_in(part: re.Pattern[str], output: Any) -> list[str]:
    """The ids in `part` of a failed run's message (none when the output is not a message)."""
    match = part.search(output) if isinstance(output, str) else None
    return [rid.rstrip(".") for rid in _ID.findall(match.group(1))] if match else []
