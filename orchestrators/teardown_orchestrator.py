"""`teardown_orchestrator`: removes what setups for a target created, in reverse dependency order.

Deterministic (replayed from history): no clock, env, random ids or I/O. The decisions live in
`provisioning.teardown` (what is ours, the order), the reads in the `inspect_*` activities, the deletes in
`delete_resource`.

1. inventory: the read-only `inspect_*` activities in two rounds (the second needs principals and the node
   resource group the first found); transient answers are retried with backoff on durable timers.
2. decide: what to delete (ours: tags, role-assignment descriptions, the record of the setups' outputs in the
   input) and what to keep (with a reason).
3. delete, one resource at a time, waiting for each (the cluster's delete is long: `delete_resource` answers
   done=false and is called again on a timer). A transient fault is retried with backoff; one that keeps
   failing, or a permanent one, ends the teardown Failed naming what is left; a second teardown starts from
   the Azure state and so picks up where this one stopped.

Also `setup_record`: the durable record of what setups for a target created (see `api/instances.py`); it only
returns its input, which is the record.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase

from provisioning import contracts, lifecycle, teardown
from provisioning import status as step_status
from provisioning.contracts import Timing
from provisioning.errors import backoff_seconds

bp = df.Blueprint()

ACTIVITY_CRASHED = contracts.ACTIVITY_CRASHED
DELETE_TIMEOUT = "DeleteTimeout"

log = logging.getLogger(__name__)


class TeardownFailed(Exception):
    """Ends the orchestration Failed; the message is what the status endpoint reports as output."""


@dataclass
class _Teardown:
    context: df.DurableOrchestrationContext
    request: dict[str, Any]
    timing: Timing
    states: dict[str, str] = field(default_factory=dict)
    error: dict[str, str] | None = None
    published: dict | None = None

    # ------------------------------------------------------------ progress

    def set(self, step: str, state: str) -> None:
        self.states[step] = state
        self.publish()

    def publish(self) -> None:
        current = step_status.build_status(self.request["topology"], teardown.STEPS, self.states, self.error)
        if current != self.published:
            self.context.set_custom_status(current)
            self.published = current

    def _timer(self, seconds: float) -> TaskBase:
        return self.context.create_timer(self.context.current_utc_datetime + timedelta(seconds=seconds))

    def _retry_delay(self, attempt: int, seed: str) -> float:
        timing = self.timing
        return backoff_seconds(attempt, timing.retry_first_seconds, timing.retry_max_seconds, seed)

    # ------------------------------------------------------------ reads

    def inspect(
        self, inspections: list[lifecycle.Inspection], facts: dict[str, Any]
    ) -> Generator[TaskBase, Any, dict | None]:
        """Run the reads in parallel; retry the transient answers with backoff. Returns the first permanent
        error (with the fact it concerns) or None; the answers go into `facts`."""
        pending = list(inspections)
        attempt = 1
        while pending:
            tasks = [self.context.call_activity(i.activity, i.input) for i in pending]
            results = yield from _all_results(self.context, tasks)
            retry = []
            for inspection, result in zip(pending, results, strict=True):
                if result.get("ok"):
                    facts[inspection.fact] = dict(result.get("outputs") or {})
                    continue
                error = dict(result.get("error") or {})
                if not error.get("transient") or attempt >= self.timing.retry_max_attempts:
                    return {**error, "fact": inspection.fact}
                retry.append(inspection)
            if retry:
                yield self._timer(self._retry_delay(attempt, f"{self.context.instance_id}|inspect"))
                attempt += 1
            pending = retry
        return None

    # ------------------------------------------------------------ deletes

    def delete(self, item: teardown.Item, run_id: str) -> Generator[TaskBase, Any, dict | None]:
        """Delete one resource and wait until it is gone. None when gone, else the error that left it."""
        timing = self.timing
        target = lifecycle.Target(self.request)
        call_input = contracts.DeleteInput(
            subscription_id=target.subscription_id,
            resource_group=target.resource_group,
            location=self.request.get("location"),
            tags={},
            run_id=run_id,
            instance_id=self.context.instance_id,
            id=item.id,
            type=item.type,
        ).to_dict()
        attempt, waited = 1, 0.0
        while True:
            (result,) = yield from _all_results(
                self.context, [self.context.call_activity(contracts.DELETE_RESOURCE, call_input)]
            )
            if result.get("ok"):
                if (result.get("outputs") or {}).get("done"):
                    return None
                if waited >= timing.cluster_timeout_seconds:
                    return {
                        "code": DELETE_TIMEOUT,
                        "message": f"still being deleted after {waited:g} seconds",
                    }
                waited += timing.poll_interval_seconds
                yield self._timer(timing.poll_interval_seconds)
                continue
            error = dict(result.get("error") or {})
            if error.get("transient") and attempt < timing.retry_max_attempts:
                yield self._timer(self._retry_delay(attempt, f"{self.context.instance_id}|{item.id}"))
                attempt += 1
                continue
            return error

    # ------------------------------------------------------------ the run

    def run(self, record: list[str], setup_instance_id: str) -> Generator[TaskBase, Any, dict]:
        run_id = str(self.context.new_uuid())
        target = lifecycle.Target(self.request)
        self.set(teardown.INVENTORY, step_status.RUNNING)
        facts: dict[str, Any] = {}
        failure = yield from self.inspect(lifecycle.first_inspections(target), facts)
        if failure is None:
            failure = yield from self.inspect(lifecycle.second_inspections(target, facts), facts)
        if failure is not None:
            self.error = {"step": teardown.INVENTORY, "code": str(failure.get("code"))}
            self.set(teardown.INVENTORY, step_status.FAILED)
            raise TeardownFailed(
                f"Teardown failed reading the target ({failure['fact']}): {failure.get('code')}: "
                f"{str(failure.get('message') or '').strip()}. Deleted 0: nothing. Left 0 to remove."
            )
        decision = teardown.decide(self.request, facts, record, setup_instance_id)
        busy = decision.groups()
        self.states.update({g: step_status.SUCCEEDED for g in teardown.GROUPS if g not in busy})
        self.set(teardown.INVENTORY, step_status.SUCCEEDED)
        self._log("inventory: %d to delete, %d kept", len(decision.delete), len(decision.kept))
        deleted: list[teardown.Item] = []
        for index, item in enumerate(decision.delete):
            if self.states.get(item.group) != step_status.RUNNING:
                self.set(item.group, step_status.RUNNING)
            problem = yield from self.delete(item, run_id)
            if problem is not None:
                code = str(problem.get("code") or "Unknown")
                self.error = {"step": item.group, "code": code}
                self.set(item.group, step_status.FAILED)
                raise TeardownFailed(
                    teardown.failure_message(
                        item,
                        code,
                        str(problem.get("message") or ""),
                        [d.id for d in deleted],
                        [left.id for left in decision.delete[index:]],
                    )
                )
            self._log("deleted %s", item.id)
            deleted += [item, *decision.goes_with.get(item.id, [])]
            later = decision.delete[index + 1 :]
            if not any(other.group == item.group for other in later):
                self.set(item.group, step_status.SUCCEEDED)
        return {
            "deleted": [d.as_deleted() for d in deleted],
            "kept": [k.as_kept() for k in decision.kept],
        }

    def _log(self, message: str, *args: Any) -> None:
        if not self.context.is_replaying:
            log.info("%s: " + message, self.context.instance_id, *args)


def _all_results(
    context: df.DurableOrchestrationContext, tasks: list[TaskBase]
) -> Generator[TaskBase, Any, list[dict]]:
    """Every task's answer as a result dict; an activity that raised answers ActivityCrashed (permanent).

    task_all gives up at the first failed child while the others still run: each is then yielded on its own
    (a re-yielded task adds no action) so every answer is read.
    """
    try:
        answers = yield context.task_all(tasks)
        return [_as_result(answer) for answer in answers]
    except Exception:  # noqa: BLE001 - read each task below
        results = []
        for task in tasks:
            try:
                results.append(_as_result((yield task)))
            except Exception as crash:  # noqa: BLE001 - an activity that raised
                reason = str(crash).split("\n", 1)[0].strip()[:300]
                results.append(
                    {"ok": False, "error": {"code": ACTIVITY_CRASHED, "message": reason, "transient": False}}
                )
        return results


def _as_result(answer: Any) -> dict:
    if isinstance(answer, dict):
        return answer
    return {
        "ok": False,
        "error": {
            "code": ACTIVITY_CRASHED,
            "transient": False,
            "message": "the activity answered something other than a JSON object",
        },
    }


def run_teardown(context: df.DurableOrchestrationContext) -> Generator[TaskBase, Any, dict]:
    payload = context.get_input() or {}
    request = payload["request"]
    work = _Teardown(context, request, Timing.from_dict(payload.get("timing") or {}))
    work.states = {step: step_status.PENDING for step in teardown.STEPS}
    return (yield from work.run(list(payload.get("record") or []), str(payload["setupInstanceId"])))


@bp.orchestration_trigger(context_name="context", orchestration=lifecycle.TEARDOWN_ORCHESTRATOR)
def teardown_orchestrator(context: df.DurableOrchestrationContext) -> Generator[TaskBase, Any, dict]:
    return (yield from run_teardown(context))


@bp.orchestration_trigger(context_name="context", orchestration=lifecycle.RECORD_ORCHESTRATOR)
def setup_record(context: df.DurableOrchestrationContext) -> Any:
    """The durable record of what setups for one target created: it only holds its input."""
    return context.get_input()
