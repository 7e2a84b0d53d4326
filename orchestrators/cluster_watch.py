"""`setup_cluster_watch`: read the AKS cluster Azure is building until its provisioning has ended.

A cluster noticed late is time the user waits (issue #12), so the watch reads it every `pollIntervalSeconds`
(5 s by default). A 10-minute build is then ~120 reads of ~8 history events each (timer, activity call, two
episodes): kept in the setup's own history that is ~1000 events, every one replayed at every episode. So the
watch is Durable's monitor pattern: a sub-orchestration whose generation makes at most
`READS_PER_GENERATION` reads and then continues as new with the same start time and its reads counted; no
history grows past ~170 events, and the setup's own history holds the watch's two.

The interval is fixed rather than taken from ARM: a GET of the cluster carries no `Retry-After` (only its
operation-status URL does), and AKS reports no progress from which an end time could be derived.

The watch answers a `ChainResult` with one report for `aks_cluster`: the cluster's outputs once it has
Succeeded, or the failure (ARM's, `ClusterProvisioningFailed`, `ClusterTimeout`).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase

from orchestrators.chains import ChainRun
from orchestrators.durable import Call, fan_out, wait
from provisioning import function_names, lazy_import

if TYPE_CHECKING:
    from provisioning import contracts as c
else:  # imported when an orchestration first runs, not when the app is indexed (cold start)
    c = lazy_import.module("provisioning.contracts")

bp = df.Blueprint()

READS_PER_GENERATION = 20
STEP = "aks_cluster"
CLUSTER_TIMEOUT = "ClusterTimeout"
CLUSTER_FAILED = "ClusterProvisioningFailed"
SUCCEEDED = "succeeded"
ENDED_BADLY = ("failed", "canceled", "cancelled")


@bp.function_name(function_names.CLUSTER_WATCH)
@bp.orchestration_trigger(context_name="context")
def setup_cluster_watch(context: df.DurableOrchestrationContext) -> Generator[TaskBase, Any, dict | None]:
    watch = c.ClusterWatchInput.from_dict(context.get_input())
    started = watch.started or context.current_utc_datetime.isoformat()
    chain = ChainRun(context, watch.timing, watch.get.instance_id)
    repairs = watch.repairs
    for _ in range(READS_PER_GENERATION):
        yield wait(context, watch.timing.poll_interval_seconds)
        (answer,) = yield from fan_out(context, watch.timing, watch.get.instance_id, [Call(STEP, watch.get)],
                                       retry_if=lambda read: not needs_put_again(read))
        assert isinstance(answer, c.ActivityResult)
        if needs_put_again(answer):
            # This run's cluster ended Failed/Canceled for a cause that passes: PUT it again (AKS's
            # documented reconcile), up to the retry budget; then watch it again.
            repairs += 1
            error = answer.error or c.ActivityError(code=CLUSTER_FAILED)
            if repairs >= watch.timing.retry_max_attempts:
                chain.fail(STEP, error.code, error.message)
                return chain.result()
            if (yield from chain.step(STEP, watch.begin)) is None:
                return chain.result()
            continue
        if _ended(chain, watch, answer, started, context):
            return chain.result()
    context.continue_as_new(replace(watch, started=started, reads=watch.reads + READS_PER_GENERATION,
                                    repairs=repairs).to_dict())
    return None


def _ended(chain: ChainRun, watch: c.ClusterWatchInput, answer: c.ActivityResult, started: str,
           context: df.DurableOrchestrationContext) -> bool:
    """Record a read; True when the watch is over (Succeeded, ended badly, failed for good, timed out)."""
    chain.record(STEP, answer)
    if not answer.ok:
        return True
    outputs = dict(answer.outputs)
    state = str(outputs.get("provisioningState") or "").casefold()
    shown = outputs.get("provisioningState")
    if state == SUCCEEDED:
        chain.set_outputs(STEP, {**outputs, "id": outputs.get("id") or watch.begun.get("id")})
        return True
    if state in ENDED_BADLY:
        chain.fail(STEP, CLUSTER_FAILED, f"the AKS cluster's provisioning ended {shown}")
        return True
    waited = (context.current_utc_datetime - datetime.fromisoformat(started)).total_seconds()
    if waited >= watch.timing.cluster_timeout_seconds:
        chain.fail(STEP, CLUSTER_TIMEOUT, f"the AKS cluster was still {shown} after "
                                          f"{watch.timing.cluster_timeout_seconds:g} seconds")
        return True
    return False


def needs_put_again(answer: c.ActivityResult) -> bool:
    """get_aks_cluster's answer for this run's cluster ended Failed/Canceled for a cause that passes."""
    error = answer.error
    return (not answer.ok and error is not None and error.transient
            and str(error.provisioning_state or "").casefold() in ENDED_BADLY)
