"""The physical limit of a setup: the critical path of the step plan under the simulator's latency model.

Dependencies come from `provisioning.plan.step_plan` (the same plan the orchestrator runs). A step's duration
is the sum of the operations it makes Azure do, one after another as the step does them, each taking what
`simulator.arm.LATENCY` says for its resource type and kind. Writes the simulator answers synchronously
(identities, role assignments) and reads take no time in the model: the bound is what Azure itself costs.
"""

from __future__ import annotations

from dataclasses import dataclass

from provisioning.plan import step_plan
from simulator.arm import LATENCY

CLUSTER = "microsoft.containerservice/managedclusters"
REGISTRY = "microsoft.containerregistry/registries"
VNET = "microsoft.network/virtualnetworks"
PEERING = "microsoft.network/virtualnetworks/virtualnetworkpeerings"
DNS_LINK = "microsoft.network/privatednszones/virtualnetworklinks"
IDENTITY = "microsoft.managedidentity/userassignedidentities"
ROLE_ASSIGNMENT = "microsoft.authorization/roleassignments"

# The writes each step makes, in the order it makes them (see provisioning/plan.py and activities/*).
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


def operation_seconds(resource_type: str, kind: str) -> float:
    if resource_type in SYNCHRONOUS:
        return 0.0
    return LATENCY[resource_type][kind]


def step_seconds(step: str) -> float:
    if step == "identity_roles":  # four role assignments in parallel
        return max((operation_seconds(t, k) for t, k in STEP_WRITES[step]), default=0.0)
    return float(sum(operation_seconds(t, k) for t, k in STEP_WRITES[step]))


@dataclass(frozen=True)
class Bound:
    topology: str
    critical_path: tuple[str, ...]
    critical_seconds: float  # at latency_scale 1
    sequential_seconds: float  # every step one after another
    step_seconds: dict[str, float]


def bound(topology: str) -> Bound:
    plan = step_plan(topology)
    durations = {name: step_seconds(name) for name in plan.names}
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
    for name in step_plan(topology).names:
        for resource_type, _kind in STEP_WRITES[name]:
            counts[resource_type] = counts.get(resource_type, 0) + 1
    return counts
