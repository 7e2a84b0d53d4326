"""Sub-orchestrations: steps that follow one another while the setup waits for something else.

- `setup_peering_chain` (Option A): the peering on the Hopsworks vnet, then the one on the AKS vnet
  (concurrent writes to peered vnets conflict), then both confirmed Connected; it runs next to the DNS link
  (~30 s), which would otherwise wait for the two peerings (~2 x 5 s) or they for it.

A chain answers a `ChainResult` (one report per step it started: resources, outputs or the failure) and never
raises for an ARM answer, so the setup records everything it made and rolls it back if needed.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase

from orchestrators.durable import Call, Durable, fan_out, retry_delay, wait
from provisioning import function_names, lazy_import

if TYPE_CHECKING:
    from provisioning import contracts as c
else:  # imported when an orchestration first runs, not when the app is indexed (cold start)
    c = lazy_import.module("provisioning.contracts")

bp = df.Blueprint()

CONNECTED = "connected"
PEERING_NOT_CONNECTED = "PeeringNotConnected"


class ChainRun:
    """One chain's steps as they happen: each call retried on transient answers, recorded per step."""

    def __init__(self, context: df.DurableOrchestrationContext, timing: c.Timing, seed: str) -> None:
        self.context, self.timing, self.seed = context, timing, seed
        self.reports: dict[str, c.StepReport] = {}

    def step(self, step: str, activity_input: c.ActivityInput) -> Durable[c.ActivityResult | None]:
        """Call the step's activity (with retries): the answer when ok, else None (the failure recorded)."""
        (answer,) = yield from fan_out(self.context, self.timing, self.seed, [Call(step, activity_input)])
        assert isinstance(answer, c.ActivityResult)
        return answer if self.record(step, answer) else None

    def record(self, step: str, answer: c.ActivityResult) -> bool:
        """Add an answer to the step's report (its resources; its outputs, or its failure); True when ok."""
        report = self.reports.get(step) or c.StepReport(step=step, ok=True)
        resources = report.resources + answer.resources
        if answer.ok:
            self.reports[step] = c.StepReport(step=step, ok=True, resources=resources, outputs=answer.outputs)
            return True
        error = answer.error or c.ActivityError(code="Unknown")
        self.fail(step, error.code, error.message, resources)
        return False

    def fail(self, step: str, code: str, message: str, resources: list[c.ResourceRef] | None = None) -> None:
        if resources is None:
            resources = self.reports[step].resources if step in self.reports else []
        failure = c.StepFailure(step=step, code=code, message=message)
        self.reports[step] = c.StepReport(step=step, ok=False, resources=resources, failure=failure)

    def set_outputs(self, step: str, outputs: dict[str, Any]) -> None:
        self.reports[step] = replace(self.reports[step], outputs=outputs)  # only ever on an ok report

    def result(self) -> dict[str, Any]:
        return c.ChainResult(steps=list(self.reports.values())).to_dict()


@bp.function_name(function_names.PEERING_CHAIN)
@bp.orchestration_trigger(context_name="context")
def setup_peering_chain(context: df.DurableOrchestrationContext) -> Generator[TaskBase, Any, dict]:
    chain_input = c.PeeringChainInput.from_dict(context.get_input(expected_type=dict))
    chain = ChainRun(context, chain_input.timing, chain_input.first.instance_id)
    first = yield from chain.step("peering", chain_input.first)
    second = (yield from chain.step("peering", chain_input.second)) if first else None
    if first and second and (yield from _confirm_connected(chain, chain_input.first, second)):
        chain.set_outputs("peering", {
            "hopsworksToAksId": first.output(c.PeeringOutput).id,
            "aksToHopsworksId": second.output(c.PeeringOutput).id,
            "peeringState": "Connected",
        })
    return chain.result()


def _confirm_connected(chain: ChainRun, first: c.PeeringInput, second: c.ActivityResult) -> Durable[bool]:
    """The second side usually answers Connected at once; otherwise re-read the first side (an idempotent
    PUT that finds it in place) with backoff until Azure reports the pair Connected."""
    state = _peering_state(second)
    attempt = 0
    while state != CONNECTED:
        attempt += 1
        if attempt >= chain.timing.retry_max_attempts:
            chain.fail("peering", PEERING_NOT_CONNECTED,
                       f"the vnet peerings stayed {state or 'unknown'} instead of Connected")
            return False
        yield wait(chain.context, retry_delay(chain.timing, attempt))
        reread = yield from chain.step("peering", first)
        if reread is None:
            return False
        state = _peering_state(reread)
    return True


def _peering_state(answer: c.ActivityResult) -> str:
    return str(answer.output(c.PeeringOutput).peering_state or "").casefold()
