"""What a teardown deletes, in what order, and what it keeps: pure decisions over the target's facts.

Who made a resource (docs/DESIGN.md, "Who made it"), seen from after the setup:
- identity, vnets, cluster, registry and the DNS link carry the tag `hopsworks-setup=<setup instance id>`
  when a setup for this target created them. Tag present: ours. No tag (adopted, or made by someone else):
  kept. The target's *run ids* are the `hopsworks-setup-run` tags on those resources.
- role assignments carry `hopsworks-setup-run=<run id>` in their description. Ours when that run id is one of
  the target's, when the record lists it, or when its principal belongs to a resource of ours (the principal
  goes with it). A setup's description with none of those: ownership unclear, kept.
- subnets and peerings carry nothing. A subnet of a vnet of ours is ours; a peering on or towards a vnet of
  ours is ours (it cannot predate that vnet). In an adopted vnet only the durable *record* of the setup runs'
  outputs (`fold_record`) says which were created.
A resource whose ownership is unclear is kept and reported; nothing without our mark is ever deleted. A vnet
of ours that holds subnets or peerings the setup did not make is kept (they would go with it).

Order (reverse of the setup's dependencies): DNS link, peerings, role assignments, cluster (its node resource
group goes with it), registry, subnets, vnets, identity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from provisioning import lifecycle, naming
from provisioning.lifecycle import Target
from provisioning.rollback import is_under

GROUPS = ("dns_link", "peerings", "role_assignments", "cluster", "registry", "subnets", "vnets", "identity")
INVENTORY = "inventory"
STEPS = (INVENTORY, *GROUPS)

NOT_OURS = "not made by a setup for this target (it existed before, or someone else made it): kept"
SETUP_PREFIX = f"{naming.RUN_TAG_RUN}="


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


def _made_here(fact: Mapping[str, Any] | None, instance_id: str) -> bool:
    tags = (fact or {}).get("tags") or {}
    return bool(fact and fact.get("exists", True)) and tags.get(naming.RUN_TAG_INSTANCE) == instance_id


@dataclass
class _Context:
    target: Target
    facts: Mapping[str, Mapping[str, Any]]
    record: set[str]  # casefolded ids the record lists as created by a setup for this target
    instance_id: str
    decision: Decision = field(default_factory=Decision)

    def fact(self, name: str) -> Mapping[str, Any]:
        return self.facts.get(name) or {}

    def ours(self, name: str) -> bool:
        return _made_here(self.fact(name), self.instance_id)

    def recorded(self, resource_id: str | None) -> bool:
        return bool(resource_id) and str(resource_id).casefold() in self.record

    def run_ids(self) -> set[str]:
        names = (
            lifecycle.F_IDENTITY,
            lifecycle.F_AKS_VNET,
            lifecycle.F_HOPSWORKS_VNET,
            lifecycle.F_CLUSTER,
            lifecycle.F_REGISTRY,
        )
        found = {str(self.fact(n)["tags"].get(naming.RUN_TAG_RUN)) for n in names if self.ours(n)}
        for link in self.fact(lifecycle.F_DNS_LINKS).get("links") or ():
            if (link.get("tags") or {}).get(naming.RUN_TAG_INSTANCE) == self.instance_id:
                found.add(str(link["tags"].get(naming.RUN_TAG_RUN)))
        return found - {"None"}

    def delete(self, resource_id: str, resource_type: str, group: str, reason: str) -> None:
        self.decision.delete.append(Item(resource_id, resource_type, group, reason))

    def keep(self, resource_id: str, resource_type: str, group: str, reason: str) -> None:
        self.decision.kept.append(Item(resource_id, resource_type, group, reason))

    def untagged(self, resource_id: str, resource_type: str, group: str, ours: bool, reason: str) -> None:
        """A subnet or peering (no tag): deleted when `ours`, else kept."""
        if ours:
            self.delete(resource_id, resource_type, group, reason)
        else:
            self.keep(resource_id, resource_type, group, NOT_OURS)

    def tagged(self, name: str, group: str, kind: str) -> None:
        """identity, cluster, registry: ours by tag, else kept (a record without the tag: unclear)."""
        fact = self.fact(name)
        if not fact.get("exists"):
            return
        if self.ours(name):
            self.delete(fact["id"], fact["type"], group, f"{kind} made by a setup for this target")
        elif self.recorded(fact["id"]):
            self.keep(
                fact["id"],
                fact["type"],
                group,
                "recorded as made by a setup, but it no longer carries this target's hopsworks-setup tag: "
                "ownership unclear, kept",
            )
        else:
            self.keep(fact["id"], fact["type"], group, NOT_OURS)


def decide(
    request: Mapping[str, Any],
    facts: Mapping[str, Mapping[str, Any]],
    record: Iterable[str],
    setup_instance_id: str,
) -> Decision:
    """What to delete (in order) and what to keep, with a reason for each."""
    ctx = _Context(Target(request), facts, {rid.casefold() for rid in record}, setup_instance_id)
    _dns_link(ctx)
    _peerings(ctx)
    _role_assignments(ctx)
    ctx.tagged(lifecycle.F_CLUSTER, "cluster", "cluster (its node resource group goes with it)")
    ctx.tagged(lifecycle.F_REGISTRY, "registry", "registry")
    _networks(ctx)
    ctx.tagged(lifecycle.F_IDENTITY, "identity", "managed identity")
    _unreached_records(ctx, record)
    return ctx.decision


def _dns_link(ctx: _Context) -> None:
    target = ctx.target
    named, for_vnet = lifecycle.dns_link_for(ctx.facts, target.hopsworks_vnet_id, target.dns_link_name)
    for link in {id(x): x for x in (for_vnet, named) if x is not None}.values():
        if (link.get("tags") or {}).get(naming.RUN_TAG_INSTANCE) == ctx.instance_id:
            ctx.delete(
                link["id"], lifecycle.DNS_LINK, "dns_link", "DNS zone link made by a setup for this target"
            )
        else:
            ctx.keep(link["id"], lifecycle.DNS_LINK, "dns_link", NOT_OURS)


def _peerings(ctx: _Context) -> None:
    vnets_ours = ctx.ours(lifecycle.F_AKS_VNET) or ctx.ours(lifecycle.F_HOPSWORKS_VNET)
    for vnet_fact, name, _remote in ctx.target.peerings():
        peering = lifecycle.find_child(ctx.fact(vnet_fact), "peerings", name)
        if peering is None:
            continue
        ctx.untagged(
            peering["id"],
            lifecycle.PEERING,
            "peerings",
            vnets_ours or ctx.recorded(peering["id"]),
            "peering made by a setup for this target (on or towards a vnet it made, or recorded)",
        )


def _principal_ours(ctx: _Context, wanted: lifecycle.WantedAssignment) -> bool:
    owner = lifecycle.F_IDENTITY if wanted.principal == "managed identity" else lifecycle.F_CLUSTER
    return ctx.ours(owner)


def _role_assignments(ctx: _Context) -> None:
    run_ids = ctx.run_ids()
    for wanted in lifecycle.wanted_assignments(ctx.target, ctx.facts):
        found = lifecycle.found_assignment(ctx.facts, wanted)
        if found is None:
            continue
        if not found.get("exists"):
            if found.get("otherId"):
                ctx.keep(
                    found["otherId"],
                    lifecycle.ROLE_ASSIGNMENT,
                    "role_assignments",
                    f"{wanted.label}: assigned before the setup (under another name): kept",
                )
            continue
        description = str(found.get("description") or "").strip()
        if not description.startswith(SETUP_PREFIX):
            ctx.keep(
                found["id"],
                lifecycle.ROLE_ASSIGNMENT,
                "role_assignments",
                f"{wanted.label}: not created by a setup: kept",
            )
        elif (
            description[len(SETUP_PREFIX) :] in run_ids
            or ctx.recorded(found["id"])
            or _principal_ours(ctx, wanted)
        ):
            ctx.delete(
                found["id"],
                lifecycle.ROLE_ASSIGNMENT,
                "role_assignments",
                f"{wanted.label}, created by a setup for this target",
            )
        else:
            ctx.keep(
                found["id"],
                lifecycle.ROLE_ASSIGNMENT,
                "role_assignments",
                f"{wanted.label}: created by a setup run that is not recorded for this target "
                "(ownership unclear): kept",
            )


def _vnet_facts(ctx: _Context) -> list[tuple[str, list[tuple[str, str]]]]:
    vnets = [(lifecycle.F_AKS_VNET, ctx.target.aks_subnets())]
    if ctx.target.peering:
        vnets.append((lifecycle.F_HOPSWORKS_VNET, ctx.target.hopsworks_subnets()))
    return vnets


def _networks(ctx: _Context) -> None:
    """Subnets first (all of them, across vnets), then the vnets: the order the groups run in."""
    vnet_items: list[tuple[str, Mapping[str, Any], list[Item], list[str]]] = []
    wanted_peerings = {name.casefold() for _, name, _ in ctx.target.peerings()}
    for name, subnets in _vnet_facts(ctx):
        vnet = ctx.fact(name)
        if not vnet.get("exists"):
            continue
        wanted_names = {subnet.casefold() for subnet, _ in subnets}
        foreign = [s["name"] for s in vnet.get("subnets") or () if s["name"].casefold() not in wanted_names]
        foreign += [
            p["name"] for p in vnet.get("peerings") or () if p["name"].casefold() not in wanted_peerings
        ]
        children = []
        for subnet_name, _ in subnets:
            subnet = lifecycle.find_child(vnet, "subnets", subnet_name)
            if subnet is None:
                continue
            item = Item(subnet["id"], lifecycle.SUBNET, "subnets", "")
            if ctx.ours(name):
                children.append(item)
            else:
                ctx.untagged(
                    subnet["id"],
                    lifecycle.SUBNET,
                    "subnets",
                    ctx.recorded(subnet["id"]),
                    "subnet a setup for this target added to an existing vnet (recorded)",
                )
        vnet_items.append((name, vnet, children, foreign))
    for name, vnet, children, foreign in vnet_items:
        if not ctx.ours(name):
            ctx.tagged(name, "vnets", "virtual network")
            continue
        if foreign:
            for child in children:
                ctx.delete(child.id, child.type, "subnets", "subnet made with a vnet of this target's setup")
            ctx.keep(
                vnet["id"],
                lifecycle.VNET,
                "vnets",
                "made by a setup for this target, but it holds subnets or peerings the setup did not make "
                f"({', '.join(foreign)}): ownership of its contents unclear, kept",
            )
            continue
        ctx.delete(vnet["id"], lifecycle.VNET, "vnets", "virtual network made by a setup for this target")
        ctx.decision.goes_with[vnet["id"]] = children
    # Subnets before vnets: keep the group order even though they were collected per vnet.
    ctx.decision.delete.sort(key=lambda item: GROUPS.index(item.group))


def _unreached_records(ctx: _Context, record: Iterable[str]) -> None:
    """Recorded resources this request does not name (names changed since the setup): never deleted unseen."""
    reached = {item.id.casefold() for item in ctx.decision.delete + ctx.decision.kept}
    reached |= {child.id.casefold() for children in ctx.decision.goes_with.values() for child in children}
    for rid in record:
        if rid.casefold() not in reached and not _covered(rid, ctx):
            ctx.keep(
                rid,
                type_of(rid),
                "identity",
                "recorded as made by a setup for this target, but this request does not name it "
                "(not inspected): kept",
            )


def _covered(resource_id: str, ctx: _Context) -> bool:
    """A recorded id that the inventory reached in another spelling or that no longer exists."""
    target = ctx.target
    named = [target.identity_id, target.aks_vnet_id, target.cluster_id, target.registry_id]
    if target.hopsworks_vnet_id:
        named.append(target.hopsworks_vnet_id)
    if any(naming.same_resource_id(resource_id, n) or is_under(resource_id, n) for n in named):
        return True
    # Role assignments at the identity's scope and the DNS link (in the node resource group) are inspected
    # through their principal and the cluster: one not reached no longer exists.
    return type_of(resource_id).casefold() in (
        lifecycle.ROLE_ASSIGNMENT.casefold(),
        lifecycle.DNS_LINK.casefold(),
    )


# ---------------------------------------------------------------- ids and types


def type_of(resource_id: str) -> str:
    """ARM resource type of an id: `Namespace/type[/childType...]` after its last `/providers/`."""
    tail = resource_id.rsplit("/providers/", 1)[-1].strip("/").split("/")
    if len(tail) < 2:
        return ""
    return "/".join([tail[0], *tail[1::2]])


# ---------------------------------------------------------------- the failure message and the record


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


def _ids_in(text: str) -> list[str]:
    return [match.rstrip(".") for match in _ID.findall(text)]


def fold_record(record: Mapping[str, Any] | None, runs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The target's record after the finished runs not folded in yet, oldest first.

    record: `{"resources": [{id, type}], "seen": {"setup": createdTime, "teardown": createdTime}}`: what
    setups for the target created and no teardown has deleted since. A run: `{"kind", "createdTime",
    "runtimeStatus", "output"}`. A completed setup adds the resources it reports `created`; a failed one
    what its rollback left behind; a teardown removes what it deleted (completed: its `deleted`; failed: its
    message's Deleted part).
    """
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
    if kind == lifecycle.SETUP:
        if status == "Completed" and isinstance(output, Mapping):
            created = [r for r in output.get("resources") or () if r.get("action") == "created"]
            return [(str(r["id"]), str(r.get("type") or type_of(str(r["id"])))) for r in created], []
        if isinstance(output, str):
            match = _LEFT_BEHIND_PART.search(output)
            return ([(rid, type_of(rid)) for rid in _ids_in(match.group(1))] if match else []), []
        return [], []
    if status == "Completed" and isinstance(output, Mapping):
        return [], [str(r["id"]) for r in output.get("deleted") or ()]
    if isinstance(output, str):
        match = _DELETED_PART.search(output)
        return [], _ids_in(match.group(1)) if match else []
    return [], []
