"""`setup_orchestrator`: the guide's steps, top to bottom (`guide` below), and the rollback after a failure.

Deterministic (it is replayed from history): no clock, env, random ids or I/O. What each call asks for comes
from `provisioning.step_inputs`, what differs between the topologies from `provisioning.topology`, what a
rollback deletes from `provisioning.rollback`, the custom status from `provisioning.status`.

Each stage of the guide is one `together(...)`: its calls (and chains, run as sub-orchestrations) go out as
one `task_all` and every one of them answers before the next stage starts, so a failure stops the setup with
nothing left running: the stage drained, no later stage starts, and the rollback deletes what this run made.
Why stages and not independent chains racing each other: a chain cannot learn that another one failed
without `task_any` or events, and the extension's shim awaits each `yield` in turn (see
`orchestrators.durable`), so the setup would go on building a cluster for minutes after a failure. The
stages follow the critical path: the cluster starts as soon as its subnet exists, and what does not feed it
(the identity's roles, the registry chain) runs while it builds.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase

from orchestrators.durable import Call, Durable, Item, SubOrchestration, delete_until_gone, fan_out
from provisioning import function_names, lazy_import, status

if TYPE_CHECKING:
    from orchestrators.durable import Answer
    from provisioning import contracts as c
    from provisioning import topology
    from provisioning.step_inputs import StepInputs
else:  # imported when an orchestration first runs, not when the app is indexed (cold start)
    c = lazy_import.module("provisioning.contracts")
    topology = lazy_import.module("provisioning.topology")

bp = df.Blueprint()

VERIFICATION_FAILED = "VerificationFailed"
CLUSTER_SUCCEEDED = "succeeded"

log = logging.getLogger(__name__)


class SetupFailed(Exception):
    """Ends the orchestration Failed; the message is what the status endpoint reports as output."""


class _Stopped(Exception):
    """A step failed for good: the forward part ends (everything in flight has answered)."""


def guide(run: SetupRun) -> Durable[None]:
    """The setup, stage by stage. `ask` builds each call's input; `run.out` reads an earlier step's output."""
    ask = run.inputs
    option_a = run.topology.separate_hopsworks_network  # peering: a Hopsworks vnet of its own

    # Before anything is written: the resource group, every name, existing resources, permissions.
    yield from run.together(Call("preflight", ask.preflight()))
    ask = run.inputs = ask.after_preflight(run.out("preflight", c.PreflightOutput))

    # The managed identity and the networks (the cluster needs its node subnet).
    yield from run.together(
        Call("identity", ask.identity()),
        Call("aks_network", ask.aks_network()),
        *([Call("hopsworks_network", ask.hopsworks_network())] if option_a else []),
    )
    aks_network = run.out("aks_network", c.AksNetworkOutput)

    # Step 1 starts the private AKS cluster; while Azure builds it: the identity's four roles, and Step 2's
    # registry, then its retention policy.
    yield from run.together(
        Call("aks_cluster", ask.begin_cluster(aks_network), finishes=False),
        *[Call("identity_roles", role) for role in ask.identity_roles(run.out("identity", c.IdentityOutput))],
        Call("acr", ask.registry()),
    )
    yield from run.together(Call("acr_retention", ask.retention()))
    cluster = yield from run.watch_cluster(aks_network)

    # What needs the ready cluster: Network Contributor on its vnet for its identity, AcrPull on the registry
    # for its kubelet (Step 2's integration) and, in Option A, both peerings (after the cluster: AKS writes
    # into its vnet while it builds) and the private DNS zone link to the Hopsworks vnet.
    joins: list[Item] = [
        Call("aks_network_role", ask.network_role(aks_network, cluster)),
        Call("acr_pull", ask.acr_pull(run.out("acr", c.RegistryOutput), cluster)),
    ]
    if option_a:
        hopsworks_network = run.out("hopsworks_network", c.HopsworksNetworkOutput)
        first, second = ask.peerings(aks_network, hopsworks_network)
        peerings = c.PeeringChainInput(timing=run.timing, first=first, second=second)
        joins += [
            run.chain(function_names.PEERING_CHAIN, ("peering",), peerings),
            Call("dns_link", ask.dns_link(cluster, hopsworks_network)),
        ]
    yield from run.together(*joins)

    run.verify()


@bp.function_name(function_names.SETUP_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def setup_orchestrator(context: df.DurableOrchestrationContext) -> Generator[TaskBase, Any, dict]:
    run = SetupRun.start(context)
    try:
        yield from guide(run)
    except _Stopped:
        yield from run.roll_back()  # raises SetupFailed
    return run.result()


@dataclass
class SetupRun:
    """One run: the steps' states, what they reported, and the stages and rollback that move them."""

    context: df.DurableOrchestrationContext
    topology: topology.Topology
    timing: c.Timing
    inputs: StepInputs
    run_id: str
    states: dict[str, str] = field(default_factory=dict)
    resources: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # per step, as reported
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[c.StepFailure] = field(default_factory=list)
    published: dict | None = None

    @classmethod
    def start(cls, context: df.DurableOrchestrationContext) -> SetupRun:
        from provisioning.step_inputs import StepInputs  # when a run starts, not at indexing (cold start)

        setup = c.SetupInput.from_dict(context.get_input(expected_type=dict))
        request = setup.request
        run_id = str(context.new_uuid())
        common = c.Common(subscription_id=request["subscriptionId"], resource_group=request["resourceGroup"],
                          location=request.get("location"), tags=dict(request.get("tags") or {}),
                          run_id=run_id, instance_id=context.instance_id)
        kind = topology.of(request["topology"])
        states = {name: status.PENDING for name in kind.step_names}
        return cls(context, kind, setup.timing, StepInputs(request, common), run_id, states)

    @property
    def instance_id(self) -> str:
        return self.context.instance_id

    def out(self, step: str, output_type: type[c.OutputT]) -> c.OutputT:
        """An earlier step's outputs, read as that activity's output contract."""
        return output_type.from_dict(self.outputs.get(step, {}), f"{step} outputs")

    def chain(self, name: str, steps: tuple[str, ...], chain_input: c.Wire) -> SubOrchestration:
        # The run id keeps a re-run's chains apart from the last run's under the same setup instance id.
        return SubOrchestration(steps, name, chain_input, f"{self.instance_id}:{name}:{self.run_id[:8]}")

    def together(self, *items: Item) -> Durable[None]:
        """Run `items` at once (one task_all) and record every answer; stop the setup if a step failed."""
        steps = list(dict.fromkeys(step for item in items for step in item.steps))
        for step in steps:
            self.states[step] = status.RUNNING
        self._log("running %s", ", ".join(steps))
        self.publish()
        answers = yield from fan_out(self.context, self.timing, self.instance_id, items)
        for item, answer in zip(items, answers, strict=True):
            self._record(item, answer)
        self._settle(items, answers)
        self.publish()
        if self.failures:
            raise _Stopped

    def _record(self, item: Item, answer: Answer) -> None:
        if isinstance(answer, c.ChainResult):
            for report in answer.steps:
                self._add(report.step, report.resources, report.outputs if report.ok else None,
                          report.failure)
            return
        assert isinstance(item, Call)
        failure = None
        if not answer.ok and answer.error is not None and not answer.error.transient:
            failure = c.StepFailure(step=item.step, code=answer.error.code, message=answer.error.message)
        self._add(item.step, answer.resources, answer.outputs if answer.ok else None, failure)

    def _add(self, step: str, resources: Sequence[c.ResourceRef], outputs: dict[str, Any] | None,
             failure: c.StepFailure | None) -> None:
        self.resources.setdefault(step, []).extend(resource.to_dict() for resource in resources)
        if outputs is not None:
            self.outputs[step] = dict(outputs)
        if failure is not None:
            self.failures.append(failure)
            self.failures.sort(key=lambda f: self.topology.step_names.index(f.step))
            self._log("step %s failed: %s", step, failure.code)

    def _settle(self, items: Sequence[Item], answers: Sequence[Answer]) -> None:
        """Each step of a stage: failed if any of its calls failed, succeeded when all are done, pending when
        its chain never reached it, running while a call's transient answer was dropped or it goes on."""
        failed = {failure.step for failure in self.failures}
        for item, answer in zip(items, answers, strict=True):
            for step in item.steps:
                if step in failed:
                    self.states[step] = status.FAILED
                elif isinstance(answer, c.ChainResult):
                    reported = {report.step for report in answer.steps}
                    self.states[step] = status.SUCCEEDED if step in reported else status.PENDING
        for item, answer in zip(items, answers, strict=True):
            if isinstance(item, Call) and self.states[item.step] != status.FAILED:
                if not answer.ok:  # a transient answer drained with a failure: not done, not failed
                    self.states[item.step] = status.RUNNING
                elif item.finishes and all(done.ok for call, done in zip(items, answers, strict=True)
                                           if isinstance(call, Call) and call.step == item.step):
                    self.states[item.step] = status.SUCCEEDED

    def watch_cluster(self, aks_network: c.AksNetworkOutput) -> Durable[c.ClusterOutput]:
        """The cluster once Azure has built it. A standing one (a re-run) is read at once; one being built is
        watched by a sub-orchestration that reads it often without a long history here, puts a create that
        ended Failed for a passing cause right, and fails the step itself (orchestrators/cluster_watch.py)."""
        if _cluster_state(self.outputs["aks_cluster"]) == CLUSTER_SUCCEEDED:
            yield from self.together(Call("aks_cluster", self.inputs.get_cluster()))
        if _cluster_state(self.outputs["aks_cluster"]) != CLUSTER_SUCCEEDED:
            watch = c.ClusterWatchInput(timing=self.timing, get=self.inputs.get_cluster(),
                                        begin=self.inputs.begin_cluster(aks_network),
                                        begun=self.outputs["aks_cluster"])
            yield from self.together(self.chain(function_names.CLUSTER_WATCH, ("aks_cluster",), watch))
        return self.out("aks_cluster", c.ClusterOutput)

    def verify(self) -> None:
        """Every step of the topology has succeeded and the Hopsworks values can be given."""
        unfinished = [name for name in self.topology.step_names if self.states[name] != status.SUCCEEDED]
        if unfinished:
            self._stop(unfinished[0], VERIFICATION_FAILED, f"steps not done: {', '.join(unfinished)}")
        if not self.inputs.common.location:
            self._stop("preflight", VERIFICATION_FAILED, "the location is unknown")

    def _stop(self, step: str, code: str, message: str) -> None:
        self._add(step, [], None, c.StepFailure(step=step, code=code, message=message))
        self.states[step] = status.FAILED
        self.publish()
        raise _Stopped

    def roll_back(self) -> Durable[None]:
        """Delete what this run created, one task per `yield`, then fail with what was done and left."""
        from provisioning.rollback import Rollback  # when a run fails, not at indexing (cold start)

        rollback = Rollback.plan(self.topology.step_names, self.states, self.resources)
        for deletion in rollback.order:
            call = Call(deletion.step, self.inputs.delete(deletion))
            seed = f"{self.instance_id}|delete"
            error = yield from delete_until_gone(self.context, self.timing, call, deletion.type, seed)
            if error is not None:
                rollback.kept(deletion, error.code)
                continue
            self._log("deleted %s", deletion.id)
            if rollback.deleted(deletion):
                self.publish()
        rollback.finish()
        self.publish()
        raise SetupFailed(rollback.message(self.failures))

    def publish(self) -> None:
        error = {"step": self.failures[0].step, "code": self.failures[0].code} if self.failures else None
        current = status.build_status(self.topology.name, self.topology.step_names, self.states, error)
        if current != self.published:
            self.context.set_custom_status(current)
            self.published = current

    def result(self) -> dict[str, Any]:
        """SetupResult: the Hopsworks values and every resource, in step order and report order."""
        from provisioning.result import build_setup_result  # when a run ends, not at indexing (cold start)

        names = self.topology.step_names
        reported = [resource for name in names for resource in self.resources.get(name, ())]
        return build_setup_result(self.inputs.request, reported, self.inputs.common.location)

    def _log(self, message: str, *args: Any) -> None:
        if not self.context.is_replaying:
            log.info("%s: " + message, self.instance_id, *args)


def _cluster_state(outputs: dict[str, Any]) -> str:
    return str(outputs.get("provisioningState") or "").casefold()
