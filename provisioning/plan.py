"""The step plan: which guide steps a setup runs, what each needs, and what each asks the activities to do.

Plain data and pure functions, so the orchestrator only schedules. A step's *program* is a generator that
yields requests and receives their answers:

- a ``list[Call]``: activity calls to run in parallel; the answer is the list of their ``ok`` results, in
  order (the orchestrator retries transient failures and fails the step on a permanent one before the program
  sees them);
- a ``Wait``: a durable timer; the answer is the orchestration's current time after it fired.

The program returns the step's outputs (what later steps and the result read) or raises ``StepFailed``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from provisioning import errors, naming, roles

PEERING = "peering"
SUBNET = "subnet"
TOPOLOGIES = (PEERING, SUBNET)

SERVICE_PRINCIPAL = roles.PRINCIPAL_TYPE_SERVICE_PRINCIPAL
CONNECTED = "connected"
CLUSTER_SUCCEEDED = "succeeded"
CLUSTER_ENDED_BADLY = ("failed", "canceled", "cancelled")


def _state(outputs: Mapping[str, Any], key: str) -> str:
    """A provisioning/peering state from an activity's outputs, lower case ("" when absent)."""
    return str(outputs.get(key) or "").casefold()


@dataclass(frozen=True)
class Step:
    name: str
    needs: tuple[str, ...]
    guide_step: str
    # Scheduling only, not a dependency: start no earlier than these steps. Rounds move in lock-step (one
    # task_all each), so a slow step off the critical path that shares the cluster's network round would hold
    # the cluster back; started with the cluster instead, it overlaps the cluster's build.
    starts_with: tuple[str, ...] = ()


_COMMON_STEPS = (
    Step("preflight", (), "check the resource group, names and permissions before creating anything"),
    Step("identity", ("preflight",), "user assigned managed identity"),
    Step("identity_roles", ("identity",),
         "add role assignments to the managed identity: AcrPull, AcrPush, AcrDelete, AKS Cluster User"),
    Step("aks_network", ("preflight",),
         "AKS networking: Azure CNI in a virtual network of the resource group"),
    Step("aks_cluster", ("aks_network",), "Step 1: create the private AKS cluster"),
    Step("aks_network_role", ("aks_cluster",), "Network Contributor for the cluster identity on its vnet"),
    Step("acr", ("preflight",), "Step 2: create the Premium container registry",
         starts_with=("aks_cluster",)),
    Step("acr_retention", ("acr",), "Step 2: retention policy for untagged manifests"),
    Step("acr_pull", ("acr", "aks_cluster"), "Step 2: integrate the registry with AKS (AcrPull for kubelet)"),
)
_PEERING_STEPS = (
    Step("hopsworks_network", ("preflight",), "Option A: a virtual network and subnet for Hopsworks"),
    Step("peering", ("aks_network", "hopsworks_network"),
         "Option A: peer the Hopsworks and AKS virtual networks in both directions"),
    Step("dns_link", ("aks_cluster", "hopsworks_network"),
         "Option A: link the cluster's private DNS zone to the Hopsworks virtual network"),
)


@dataclass(frozen=True)
class Plan:
    """The steps of one topology, listed in a dependency order (each step after everything it needs)."""

    topology: str
    steps: tuple[Step, ...]
    _by_name: Mapping[str, Step] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {step.name: step for step in self.steps})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(step.name for step in self.steps)

    def step(self, name: str) -> Step:
        return self._by_name[name]

    def ready_steps(self, done: Iterable[str], running: Iterable[str], failed: Iterable[str]) -> list[str]:
        """Steps to start now: every need done, every `starts_with` step started, not started yet. Nothing new
        once any step has failed."""
        done, running, failed = set(done), set(running), set(failed)
        if failed:
            return []
        started = done | running
        ready = [s for s in self.steps if s.name not in started and set(s.needs) <= done]
        starting = started | {s.name for s in ready}
        return [s.name for s in ready if set(s.starts_with) <= starting]

    def rollback_order(self, resources_by_step: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict]:
        """The resources this run created, in the order to delete them.

        A step's resources go before those of the steps it needs (the plan lists steps in a dependency
        order, so walking it backwards does that); within a step, reverse creation order. Resources reported
        as ``existing`` are never included; an id reported twice is deleted once (ids compare without case).
        """
        order: list[dict] = []
        seen: set[str] = set()
        for step in reversed(self.steps):
            for resource in reversed(list(resources_by_step.get(step.name, ()))):
                key = resource["id"].casefold()
                if resource.get("action") != "created" or key in seen:
                    continue
                seen.add(key)
                order.append({"id": resource["id"], "type": resource["type"], "step": step.name})
        return order


def step_plan(topology: str) -> Plan:
    if topology == PEERING:
        return Plan(PEERING, _COMMON_STEPS + _PEERING_STEPS)
    if topology == SUBNET:
        return Plan(SUBNET, _COMMON_STEPS)
    raise ValueError(f"topology must be one of {', '.join(TOPOLOGIES)}")


# ---------------------------------------------------------------- requests a step program yields


@dataclass(frozen=True)
class Call:
    activity: str
    input: dict


@dataclass(frozen=True)
class Wait:
    seconds: float


class StepFailed(Exception):
    """A step's program found a permanent problem in an otherwise successful answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Timing:
    poll_interval_seconds: float = 20
    retry_first_seconds: float = 5
    retry_max_seconds: float = 120
    retry_max_attempts: int = 8
    cluster_timeout_seconds: float = 3600

    @classmethod
    def from_input(cls, timing: Mapping[str, Any] | None) -> Timing:
        """From the orchestration input's ``timing`` (camelCase); missing keys keep the defaults."""
        timing = timing or {}
        defaults = cls()
        return cls(
            poll_interval_seconds=timing.get("pollIntervalSeconds", defaults.poll_interval_seconds),
            retry_first_seconds=timing.get("retryFirstSeconds", defaults.retry_first_seconds),
            retry_max_seconds=timing.get("retryMaxSeconds", defaults.retry_max_seconds),
            retry_max_attempts=timing.get("retryMaxAttempts", defaults.retry_max_attempts),
            cluster_timeout_seconds=timing.get("clusterTimeoutSeconds", defaults.cluster_timeout_seconds),
        )


@dataclass(frozen=True)
class RunContext:
    """What a step's inputs are built from: the normalized request, the run's ids, earlier steps' outputs."""

    request: Mapping[str, Any]
    run_id: str
    instance_id: str
    timing: Timing
    outputs: Mapping[str, Mapping[str, Any]]

    @property
    def location(self) -> str | None:
        """The request's location, else the resource group's (preflight reports it)."""
        return self.request.get("location") or self.outputs.get("preflight", {}).get("location")

    @property
    def existed_before(self) -> list[str] | None:
        """Subnets and peerings preflight found before the run wrote anything (they carry no runId tag, so
        this snapshot is what tells the run's own from the user's after a crash). None when preflight gave no
        snapshot: then nothing found is claimed (a user's subnet must never be rolled back)."""
        snapshot = self.outputs.get("preflight", {}).get("existedBefore")
        return None if snapshot is None else list(snapshot)

    def common(self) -> dict:
        """The fields every activity input carries."""
        return {
            "subscriptionId": self.request["subscriptionId"],
            "resourceGroup": self.request["resourceGroup"],
            "location": self.location,
            "tags": dict(self.request.get("tags") or {}),
            "runId": self.run_id,
            "instanceId": self.instance_id,
        }

    def call(self, activity: str, **fields: Any) -> Call:
        return Call(activity, {**self.common(), **fields})


# ---------------------------------------------------------------- activity inputs, one builder per call


def preflight_call(ctx: RunContext) -> Call:
    return ctx.call("preflight", request=dict(ctx.request))


def identity_call(ctx: RunContext) -> Call:
    return ctx.call("ensure_identity", name=ctx.request["identity"]["name"])


def role_assignment_call(ctx: RunContext, scope: str, role_guid: str, principal_id: str) -> Call:
    return ctx.call(
        "ensure_role_assignment",
        scope=scope,
        roleDefinitionGuid=role_guid,
        principalId=principal_id,
        principalType=SERVICE_PRINCIPAL,
    )


def identity_role_calls(ctx: RunContext) -> list[Call]:
    request = ctx.request
    scope = naming.identity_role_scope(
        request["subscriptionId"],
        request["resourceGroup"],
        request["identity"].get("roleScope", "resourceGroup"),
    )
    principal_id = ctx.outputs["identity"]["principalId"]
    return [role_assignment_call(ctx, scope, _role_guid(role), principal_id) for role in roles.IDENTITY_ROLES]


def aks_network_call(ctx: RunContext) -> Call:
    aks = ctx.request["aks"]
    subnets = [{"name": aks["nodeSubnetName"], "prefix": aks["nodeSubnetPrefix"]}]
    if ctx.request["topology"] == SUBNET:
        hopsworks_subnet = ctx.request["hopsworksSubnet"]
        subnets.append({"name": hopsworks_subnet["name"], "prefix": hopsworks_subnet["prefix"]})
    return ctx.call("ensure_aks_network", vnetName=aks["vnetName"], addressSpace=aks["addressSpace"],
                    subnets=subnets, existedBefore=ctx.existed_before)


def begin_cluster_call(ctx: RunContext) -> Call:
    aks = ctx.request["aks"]
    return ctx.call(
        "begin_aks_cluster",
        name=aks["name"],
        nodeSubnetId=ctx.outputs["aks_network"]["subnetIds"][aks["nodeSubnetName"]],
        serviceCidr=aks["serviceCidr"],
        dnsServiceIp=aks["dnsServiceIp"],
        nodeCount=aks.get("nodeCount", 1),
        vmSize=aks.get("vmSize"),
        kubernetesVersion=aks.get("kubernetesVersion"),
    )


def get_cluster_call(ctx: RunContext) -> Call:
    return ctx.call("get_aks_cluster", name=ctx.request["aks"]["name"])


def aks_network_role_call(ctx: RunContext) -> Call:
    return role_assignment_call(
        ctx, ctx.outputs["aks_network"]["vnetId"], _role_guid(roles.NETWORK_CONTRIBUTOR),
        ctx.outputs["aks_cluster"]["principalId"],
    )


def registry_call(ctx: RunContext) -> Call:
    return ctx.call("ensure_registry", name=ctx.request["acr"]["name"])


def retention_call(ctx: RunContext) -> Call:
    acr = ctx.request["acr"]
    return ctx.call("ensure_retention_policy", name=acr["name"], days=acr.get("retentionDays", 7))


def acr_pull_call(ctx: RunContext) -> Call:
    return role_assignment_call(
        ctx,
        ctx.outputs["acr"]["id"],
        _role_guid(roles.ACR_PULL),
        ctx.outputs["aks_cluster"]["kubeletObjectId"],
    )


def hopsworks_network_call(ctx: RunContext) -> Call:
    network = ctx.request["hopsworksNetwork"]
    return ctx.call(
        "ensure_hopsworks_network",
        vnetName=network["vnetName"],
        addressSpace=network["addressSpace"],
        subnetName=network["subnetName"],
        subnetPrefix=network["subnetPrefix"],
        existedBefore=ctx.existed_before,
    )


def peering_calls(ctx: RunContext) -> tuple[Call, Call]:
    """(Hopsworks -> AKS on the Hopsworks vnet, AKS -> Hopsworks on the AKS vnet): run one after the other."""
    hopsworks_vnet = ctx.request["hopsworksNetwork"]["vnetName"]
    aks_vnet = ctx.request["aks"]["vnetName"]
    on_hopsworks, on_aks = naming.peering_names(hopsworks_vnet, aks_vnet)
    return (
        ctx.call("ensure_peering", vnetName=hopsworks_vnet, peeringName=on_hopsworks,
                 remoteVnetId=ctx.outputs["aks_network"]["vnetId"], existedBefore=ctx.existed_before),
        ctx.call("ensure_peering", vnetName=aks_vnet, peeringName=on_aks,
                 remoteVnetId=ctx.outputs["hopsworks_network"]["vnetId"], existedBefore=ctx.existed_before),
    )


def dns_link_call(ctx: RunContext) -> Call:
    cluster = ctx.outputs["aks_cluster"]
    hopsworks_vnet = ctx.request["hopsworksNetwork"]["vnetName"]
    return ctx.call(
        "ensure_dns_zone_link",
        nodeResourceGroup=cluster["nodeResourceGroup"],
        privateFqdn=cluster["privateFqdn"],
        vnetId=ctx.outputs["hopsworks_network"]["vnetId"],
        linkName=naming.dns_link_name(hopsworks_vnet),
    )


def delete_call(ctx: RunContext, resource: Mapping[str, Any]) -> Call:
    return ctx.call("delete_resource", id=resource["id"], type=resource["type"])


def _role_guid(role: roles.BuiltInRole) -> str:
    return role.guid


# ---------------------------------------------------------------- step programs

Program = Generator[Any, Any, dict]


def _single(ctx: RunContext, call: Call) -> Program:
    (result,) = yield [call]
    return dict(result.get("outputs") or {})


def _identity_roles(ctx: RunContext) -> Program:
    results = yield identity_role_calls(ctx)
    return {"roleAssignmentIds": [(r.get("outputs") or {}).get("id") for r in results]}


def _aks_cluster(ctx: RunContext) -> Program:
    """Start the cluster, then read it on durable timers until it has Succeeded.

    A cluster that already stands (a re-run) is read at once, without waiting an interval first.
    """
    (begun,) = yield [begin_cluster_call(ctx)]
    begun_outputs = begun.get("outputs") or {}
    started: datetime | None = None
    interval = ctx.timing.poll_interval_seconds
    wait_first = _state(begun_outputs, "provisioningState") != CLUSTER_SUCCEEDED
    while True:
        if wait_first:
            now = yield Wait(interval)
            if started is None:
                started = now - timedelta(seconds=interval)
        wait_first = True
        (read,) = yield [get_cluster_call(ctx)]
        cluster = dict(read.get("outputs") or {})
        state = _state(cluster, "provisioningState")
        shown = cluster.get("provisioningState")
        if state == CLUSTER_SUCCEEDED:
            cluster.setdefault("id", begun_outputs.get("id"))
            return cluster
        if state in CLUSTER_ENDED_BADLY:
            raise StepFailed("ClusterProvisioningFailed", f"the AKS cluster's provisioning ended {shown}")
        if started is not None and (now - started).total_seconds() >= ctx.timing.cluster_timeout_seconds:
            raise StepFailed(
                "ClusterTimeout",
                f"the AKS cluster was still {shown} after {ctx.timing.cluster_timeout_seconds:g} seconds",
            )


def _peering(ctx: RunContext) -> Program:
    """One peering, then the other (concurrent writes to peered vnets conflict); then both Connected."""
    first_call, second_call = peering_calls(ctx)
    (first,) = yield [first_call]
    (second,) = yield [second_call]
    state = _state(second.get("outputs") or {}, "peeringState")
    attempt = 0
    # The second side usually answers Connected at once; otherwise re-read the first side (idempotent PUT
    # that finds it in place) with backoff until Azure reports the pair Connected.
    while state != CONNECTED:
        attempt += 1
        if attempt >= ctx.timing.retry_max_attempts:
            raise StepFailed(
                "PeeringNotConnected", f"the vnet peerings stayed {state or 'unknown'} instead of Connected"
            )
        yield Wait(retry_delay(ctx.timing, attempt))
        (reread,) = yield [first_call]
        state = _state(reread.get("outputs") or {}, "peeringState")
    return {
        "hopsworksToAksId": (first.get("outputs") or {}).get("id"),
        "aksToHopsworksId": (second.get("outputs") or {}).get("id"),
        "peeringState": "Connected",
    }


def retry_delay(timing: Timing, attempt: int, seed: str | None = None) -> float:
    """Seconds to wait before retry number `attempt` (1 = the first retry)."""
    return errors.backoff_seconds(attempt, timing.retry_first_seconds, timing.retry_max_seconds, seed)


def step_program(name: str, ctx: RunContext) -> Program:
    """The program of step `name`, reading the earlier steps' outputs from `ctx`."""
    if name == "identity_roles":
        return _identity_roles(ctx)
    if name == "aks_cluster":
        return _aks_cluster(ctx)
    if name == "peering":
        return _peering(ctx)
    builders = {
        "preflight": preflight_call,
        "identity": identity_call,
        "aks_network": aks_network_call,
        "aks_network_role": aks_network_role_call,
        "acr": registry_call,
        "acr_retention": retention_call,
        "acr_pull": acr_pull_call,
        "hopsworks_network": hopsworks_network_call,
        "dns_link": dns_link_call,
    }
    if name not in builders:
        raise ValueError(f"unknown step {name!r}")
    return _single(ctx, builders[name](ctx))
