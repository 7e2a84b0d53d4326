"""The physical limit of a setup: the critical path of the step plan under the simulator's latency model.

Dependencies come from `provisioning.topology` (the steps the orchestrator runs, with their needs). A step's
duration is the sum of the operations it makes Azure do, one after another as the step does them, each taking
what `simulator.arm.LATENCY` says for its resource type and kind. Writes the simulator answers synchronously
(identities, role assignments) and reads take no time in the model: the bound is what Azure itself costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from provisioning.topology import of as step_plan
from simulator.arm import LATENCY

CLUSTER = "microsoft.containerservice/managedclusters"
REGISTRY = "microsoft.containerregistry/registries"
VNET = "microsoft.network/virtualnetworks"
PEERING = "microsoft.network/virtualnetworks/virtualnetworkpeerings"
DNS_LINK = "microsoft.network/privatednszones/virtualnetworklinks"
IDENTITY = "microsoft.managedidentity/userassignedidentities"
ROLE_ASSIGNMENT = "microsoft.authorization/roleassignments"

# The writes each step makes, in the order it makes them (see provisioning/step_inputs.py and activities/*).
# Long-running operations only have a LATENCY entry; a write without one is answered at once.
STEP_WRITES: dict[str, tuple[tuple[str, str], ...]] = {
    "preflight": (),
    "identity": ((IDENTITY, "create"),),
    "identity_roles": ((ROLE_ASSIGNMENT, "create"),) * 4,  # in parallel, all synchronous
    "aks_network": ((VNET, "create"),),  # one vnet PUT carrying its subnets
    "aks_cluster": ((CLUSTER, "create"),),
    "aks_network_role": ((ROLE_ASSIGNMENT, "create"),),
    "acr": ((REGISTRY, "create"),),
    "acr_retention": ((REGISTRY, "update"),),  # PATCH of the registry's policies
    "acr_pull": ((ROLE_ASSIGNMENT, "create"),),
    "hopsworks_network": ((VNET, "create"),),
    "peering": ((PEERING, "create"), (PEERING, "create")),  # one side, then the other
    "dns_link": ((DNS_LINK, "create"),),
}
# Resource types the simulator answers synchronously (no LATENCY entry would apply to them).
SYNCHRONOUS = {ROLE_ASSIGNMENT}


# Another latency model: seconds at scale 1 per resource type and kind replacing LATENCY's (the simulator's
# `latency_overrides`).
Overrides = Mapping[str, Mapping[str, float]]

# The truly dependent chain of each topology: the writes a setup cannot start before the previous one is done
# (the cluster needs its vnet; the DNS link needs the cluster's private zone; the kubelet's AcrPull needs the
# kubelet identity the cluster makes). Everything else can run beside it.
DEPENDENT_CHAIN: dict[str, tuple[tuple[str, str], ...]] = {
    "peering": ((VNET, "create"), (CLUSTER, "create"), (DNS_LINK, "create")),
    "subnet": ((VNET, "create"), (CLUSTER, "create"), (ROLE_ASSIGNMENT, "create")),
}


def operation_seconds(resource_type: str, kind: str, overrides: Overrides | None = None) -> float:
    if resource_type in SYNCHRONOUS:
        return 0.0
    override = (overrides or {}).get(resource_type, {})
    return float(override.get(kind, LATENCY[resource_type][kind]))


def step_seconds(step: str, overrides: Overrides | None = None) -> float:
    seconds = [operation_seconds(t, k, overrides) for t, k in STEP_WRITES[step]]
    if step == "identity_roles":  # four role assignments in parallel
        return max(seconds, default=0.0)
    return float(sum(seconds))


@dataclass(frozen=True)
class ChainBound:
    """What a user must wait for at least: the dependent chain's operations, one ARM round trip each."""

    topology: str
    links: tuple[str, ...]  # resource types, in order
    model_seconds: float  # the chain's operations at latency_scale 1
    round_trips: int

    def seconds(self, latency_scale: float, round_trip_seconds: float) -> float:
        return self.model_seconds * latency_scale + self.round_trips * round_trip_seconds


def chain_bound(topology: str, overrides: Overrides | None = None) -> ChainBound:
    chain = DEPENDENT_CHAIN[topology]
    return ChainBound(topology, tuple(t.rsplit("/", 1)[-1] for t, _ in chain),
                      sum(operation_seconds(t, k, overrides) for t, k in chain), len(chain))


@dataclass(frozen=True)
class Bound:
    topology: str
    critical_path: tuple[str, ...]
    critical_seconds: float  # at latency_scale 1
    sequential_seconds: float  # every step one after another
    step_seconds: dict[str, float]


def bound(topology: str, overrides: Overrides | None = None) -> Bound:
    """Issue #6's yardstick: the critical path of the step plan (the old definition, kept beside the new)."""
    plan = step_plan(topology)
    durations = {name: step_seconds(name, overrides) for name in plan.step_names}
    finish: dict[str, float] = {}
    via: dict[str, str | None] = {}
    for step in plan.steps:  # the plan lists steps in a dependency order
        before = max(step.needs, key=lambda need: finish[need], default=None)
        finish[step.name] = (finish[before] if before else 0.0) + durations[step.name]
        via[step.name] = before
    last = max(finish, key=lambda name: finish[name])
    path: list[str] = []
    node: str | None = last
    while node is not None:
        path.append(node)
        node = via[node]
    return Bound(topology, tuple(reversed(path)), finish[last], sum(durations.values()), durations)


def writes_by_type(topology: str) -> dict[str, int]:
    """How many writes (PUT/PATCH) of each resource type a fresh run makes, per the model."""
    counts: dict[str, int] = {}
    for name in step_plan(topology).step_names:
        for resource_type, _kind in STEP_WRITES[name]:
            counts[resource_type] = counts.get(resource_type, 0) + 1
    return counts
