"""`teardown_orchestrator`: removes what setups for a target created, in reverse dependency order.

Deterministic (replayed from history): no clock, env, random ids or I/O.
1. inventory: the read-only `inspect_*` activities in two rounds (the second needs principals and the node
   resource group the first found), each round one `fan_out` (transient answers retried on durable timers).
2. decide (`provisioning.teardown`): what is ours to delete and in what order (tags, role-assignment
   descriptions, the record of the setups' outputs in the input), what is kept and why.
3. delete one resource at a time (`durable.delete_until_gone`, as the setup's rollback: the cluster's delete
   is long and called again on a timer). A fault that keeps failing, or a permanent one, ends the teardown
   Failed naming what is left; a second teardown starts from the Azure state, so it picks up from there.

Also `setup_record`: the durable record of what setups for a target created (see `api/instances.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase

from orchestrators.durable import Call, Durable, delete_until_gone, fan_out
from provisioning import function_names, lazy_import
from provisioning import status as step_status

if TYPE_CHECKING:
    from provisioning import contracts as c
    from provisioning import lifecycle, teardown
else:  # imported when an orchestration first runs, not when the app is indexed (cold start)
    c = lazy_import.module("provisioning.contracts")
    lifecycle = lazy_import.module("provisioning.lifecycle")
    teardown = lazy_import.module("provisioning.teardown")

bp = df.Blueprint()

log = logging.getLogger(__name__)


class TeardownFailed(Exception):
    """Ends the orchestration Failed; the message is what the status endpoint reports as output."""


@dataclass
class _Teardown:
    context: df.DurableOrchestrationContext
    request: dict[str, Any]
    timing: c.Timing
    states: dict[str, str] = field(default_factory=lambda: dict.fromkeys(teardown.STEPS, step_status.PENDING))
    error: dict[str, str] | None = None
    published: dict | None = None

    def set(self, step: str, state: str) -> None:
        self.states[step] = state
        current = step_status.build_status(self.request["topology"], teardown.STEPS, self.states, self.error)
        if current != self.published:
            self.context.set_custom_status(current)
            self.published = current

    def fail(self, step: str, code: str, message: str) -> TeardownFailed:
        self.error = {"step": step, "code": code}
        self.set(step, step_status.FAILED)
        return TeardownFailed(message)

    def inspect(self, inspections: list[lifecycle.Inspection], facts: dict[str, Any]) -> Durable[None]:
        """The reads together (`fan_out`: transient answers retried with backoff); their outputs go into
        `facts`. A read that fails for good fails the teardown before anything is deleted."""
        if not inspections:
            return
        seed = f"{self.context.instance_id}|inspect"
        answers = yield from fan_out(
            self.context, self.timing, seed, [Call(i.fact, i.input) for i in inspections]
        )
        for inspection, answer in zip(inspections, answers, strict=True):
            if isinstance(answer, c.ActivityResult) and answer.ok:
                facts[inspection.fact] = dict(answer.outputs or {})
                continue
            error = getattr(answer, "error", None) or c.ActivityError(code="Unknown")
            raise self.fail(
                teardown.INVENTORY,
                error.code,
                f"Teardown failed reading the target ({inspection.fact}): {error.code}: "
                f"{error.message.strip()}. Deleted 0: nothing. Left 0 to remove.",
            )

    def run(self, record: list[str], setup_instance_id: str) -> Durable[dict]:
        target = lifecycle.Target(self.request)
        base = lifecycle.common(target, str(self.context.new_uuid()), self.context.instance_id)
        self.set(teardown.INVENTORY, step_status.RUNNING)
        facts: dict[str, Any] = {}
        yield from self.inspect(lifecycle.first_inspections(target, base), facts)
        yield from self.inspect(lifecycle.second_inspections(target, base, facts), facts)
        decision = teardown.decide(self.request, facts, record, setup_instance_id)
        busy = decision.groups()
        self.states.update({g: step_status.SUCCEEDED for g in teardown.GROUPS if g not in busy})
        self.set(teardown.INVENTORY, step_status.SUCCEEDED)
        self._log("inventory: %d to delete, %d kept", len(decision.delete), len(decision.kept))
        deleted: list[teardown.Item] = []
        for index, item in enumerate(decision.delete):
            self.set(item.group, step_status.RUNNING)  # `set` publishes a changed status only
            call = Call(item.group, c.DeleteInput(**base.fields(), id=item.id, type=item.type))
            seed = f"{self.context.instance_id}|{item.id}"
            error = yield from delete_until_gone(self.context, self.timing, call, item.type, seed)
            if error is not None:
                left = [other.id for other in decision.delete[index:]]
                message = teardown.failure_message(
                    item, error.code, error.message, [d.id for d in deleted], left
                )
                raise self.fail(item.group, error.code, message)
            self._log("deleted %s", item.id)
            deleted += [item, *decision.goes_with.get(item.id, [])]
            if not any(other.group == item.group for other in decision.delete[index + 1 :]):
                self.set(item.group, step_status.SUCCEEDED)
        return {"deleted": [d.as_deleted() for d in deleted], "kept": [k.as_kept() for k in decision.kept]}

    def _log(self, message: str, *args: Any) -> None:
        if not self.context.is_replaying:
            log.info("%s: " + message, self.context.instance_id, *args)


@bp.orchestration_trigger(context_name="context", orchestration=function_names.TEARDOWN_ORCHESTRATOR)
def teardown_orchestrator(context: df.DurableOrchestrationContext) -> Generator[TaskBase, Any, dict]:
    payload = context.get_input() or {}
    work = _Teardown(context, payload["request"], c.Timing.from_dict(payload.get("timing") or {}))
    return (yield from work.run(list(payload.get("record") or []), str(payload["setupInstanceId"])))


@bp.orchestration_trigger(context_name="context", orchestration=function_names.RECORD_ORCHESTRATOR)
def setup_record(context: df.DurableOrchestrationContext) -> Any:
    """The durable record of what setups for one target created: it only holds its input."""
    return context.get_input()
