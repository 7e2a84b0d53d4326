"""`setup_orchestrator`: runs the step plan, fanning out everything whose needs are met, and rolls back.

Deterministic (it is replayed from history): no clock, env, random ids or I/O; decisions come from
`provisioning.plan`, the custom status from `provisioning.status`.

Scheduler: every running step is a program (see `provisioning.plan`) that yields a batch of activity calls or
a wait. The orchestrator keeps one list of in-flight durable tasks (activity calls, retry timers, poll
timers), each tagged with its step, and waits on `task_any` over all of them; the winner advances only its
own step, and any step whose needs are then met starts in the same episode. Transient failures are retried
on durable timers with exponential backoff; a permanent failure stops new work, the in-flight activities are
drained (their results may name resources they created), and then everything this run created is deleted in
rollback order.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase, TaskState

from provisioning import plan as step_plan
from provisioning import status as step_status
from provisioning.plan import Call, RunContext, StepFailed, Timing, Wait
from provisioning.result import build_setup_result

bp = df.Blueprint()

ACTIVITY_CRASHED = "ActivityCrashed"
DELETE_TIMEOUT = "DeleteTimeout"
_MAX_CRASH_MESSAGE = 300

log = logging.getLogger(__name__)


class SetupFailed(Exception):
    """Ends the orchestration Failed; the message is what the status endpoint reports as output."""


@dataclass
class _Batch:
    """The calls a step's program asked for at once, with each call's attempts and result."""

    calls: list[Call]
    results: list[dict | None]
    attempts: list[int]
    number: int = 0  # the step's how-manieth batch (orders the reported resources)

    @classmethod
    def of(cls, calls: list[Call], number: int = 0) -> _Batch:
        return cls(list(calls), [None] * len(calls), [1] * len(calls), number)

    @property
    def complete(self) -> bool:
        return all(result is not None for result in self.results)


@dataclass
class _InFlight:
    task: TaskBase
    step: str
    kind: str  # "call": activity; "retry": backoff timer before calling again; "wait": program's timer
    index: int = -1


@dataclass
class _Failure:
    step: str
    code: str
    message: str


@dataclass
class _Setup:
    context: df.DurableOrchestrationContext
    ctx: RunContext
    plan: step_plan.Plan
    states: dict[str, str] = field(default_factory=dict)
    resources: dict[str, list[dict]] = field(default_factory=dict)
    # The same resources keyed by (batch number, call index): the output lists them in call order, not in
    # the order parallel calls happened to finish (so a re-run answers the same list).
    reported: dict[str, list[tuple[tuple[int, int], dict]]] = field(default_factory=dict)
    programs: dict[str, Generator] = field(default_factory=dict)
    batches: dict[str, _Batch] = field(default_factory=dict)
    inflight: list[_InFlight] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    published: dict | None = None

    # ------------------------------------------------------------ forward: run the plan

    def run(self) -> Generator[TaskBase, Any, dict]:
        self._start_ready_steps()
        self._publish()
        while self.inflight:
            winner = yield self.context.task_any([entry.task for entry in self.inflight])
            entry = self._take(winner)
            if entry.kind == "call":
                self._on_call_done(entry, _result_of(winner))
            elif entry.kind == "retry":
                self._schedule_call(entry.step, entry.index)
            else:  # "wait"
                self._advance(entry.step, self.context.current_utc_datetime)
            self._start_ready_steps()
            self._publish()
        if self.failures:
            yield from self._roll_back()
        return build_setup_result(self.ctx.request, self._all_resources(), self.ctx.location)

    def _take(self, winner: TaskBase) -> _InFlight:
        for position, entry in enumerate(self.inflight):
            if entry.task is winner:
                return self.inflight.pop(position)
        raise RuntimeError("task_any answered with a task the orchestrator is not waiting for")

    def _names_in(self, state: str) -> list[str]:
        return [name for name, current in self.states.items() if current == state]

    def _start_ready_steps(self) -> None:
        ready = self.plan.ready_steps(
            self._names_in(step_status.SUCCEEDED), self._names_in(step_status.RUNNING),
            [failure.step for failure in self.failures],
        )
        for name in ready:
            self.states[name] = step_status.RUNNING
            self.programs[name] = step_plan.step_program(name, self.ctx)
            self._log("step %s started", name)
            self._advance(name, None)

    def _advance(self, step: str, answer: Any) -> None:
        """Send `answer` to the step's program and schedule what it asks for next."""
        try:
            request = self.programs[step].send(answer)
        except StopIteration as finished:
            self.ctx.outputs[step] = dict(finished.value or {})
            self.states[step] = step_status.SUCCEEDED
            self._log("step %s succeeded", step)
            return
        except StepFailed as failed:
            self._fail(step, failed.code, failed.message)
            return
        if isinstance(request, Wait):
            self._timer(step, "wait", request.seconds)
            return
        if not request:
            self._advance(step, [])
            return
        previous = self.batches.get(step)
        self.batches[step] = _Batch.of(request, previous.number + 1 if previous else 0)
        for index in range(len(request)):
            self._schedule_call(step, index)

    def _schedule_call(self, step: str, index: int) -> None:
        if self.failures:
            return  # a retry timer that fired after the failure: no new work
        call = self.batches[step].calls[index]
        task = self.context.call_activity(call.activity, call.input, expected_type=dict)
        self.inflight.append(_InFlight(task, step, "call", index))

    def _timer(self, step: str, kind: str, seconds: float, index: int = -1) -> None:
        fire_at = self.context.current_utc_datetime + timedelta(seconds=seconds)
        self.inflight.append(_InFlight(self.context.create_timer(fire_at), step, kind, index))

    def _on_call_done(self, entry: _InFlight, result: dict) -> None:
        step, index = entry.step, entry.index
        batch = self.batches[step]
        # Whatever the answer, resources it names are this run's to report (and to roll back if created).
        self.resources.setdefault(step, []).extend(dict(r) for r in result.get("resources") or ())
        self.reported.setdefault(step, []).extend(
            ((batch.number, index), dict(r)) for r in result.get("resources") or ()
        )
        if result.get("ok"):
            batch.results[index] = result
            if batch.complete and not self.failures:
                self._advance(step, list(batch.results))
            return
        error = result.get("error") or {}
        code = str(error.get("code") or "Unknown")
        attempt = batch.attempts[index]
        if error.get("transient") and self.failures:
            return  # drained after the failure: it made nothing and is not retried
        if error.get("transient") and attempt < self.ctx.timing.retry_max_attempts:
            batch.attempts[index] = attempt + 1
            delay = step_plan.retry_delay(self.ctx.timing, attempt, seed=f"{self.ctx.instance_id}|{step}")
            self._log("step %s: %s is transient, retry %d in %gs", step, code, attempt, delay)
            self._timer(step, "retry", delay, index)
            return
        self._fail(step, code, str(error.get("message") or ""))

    def _fail(self, step: str, code: str, message: str) -> None:
        self.states[step] = step_status.FAILED
        self.failures.append(_Failure(step, code, message))
        self._log("step %s failed: %s", step, code)
        # No new work from here on. Timers do no work: forget them. Activities may still create
        # something, so they stay in flight until they answer (drain).
        self.inflight = [entry for entry in self.inflight if entry.kind == "call"]

    # ------------------------------------------------------------ backward: roll back

    def _roll_back(self) -> Generator[TaskBase, Any, None]:
        order = self.plan.rollback_order(self.resources)
        remaining = {name: 0 for name in self.plan.names}
        for resource in order:
            remaining[resource["step"]] += 1
        rolled_back: list[str] = []
        left_behind: list[tuple[dict, str]] = []
        for resource in order:
            problem = yield from self._delete(resource)
            if problem is not None:
                left_behind.append((resource, problem))
                continue
            # Deleting a resource deletes what lies under it (subnets, peerings, role assignments scoped to
            # it): a child whose own delete failed is gone now, so it is not left behind.
            gone = [resource] + [kept for kept, _ in left_behind if _is_under(kept["id"], resource["id"])]
            left_behind = [(kept, code) for kept, code in left_behind if not any(kept is g for g in gone)]
            for removed in gone:
                rolled_back.append(removed["id"])
                remaining[removed["step"]] -= 1
                if remaining[removed["step"]] == 0:
                    self._settle(removed["step"], remaining)
                    self._publish()
        for name in self.plan.names:
            self._settle(name, remaining)
        self._publish()
        raise SetupFailed(_failure_message(
            self.failures, rolled_back, [(kept["id"], code) for kept, code in left_behind]
        ))

    def _settle(self, step: str, remaining: dict[str, int]) -> None:
        """A started step's state once rollback is through with it: rolled_back when nothing it created is
        left, else succeeded (its work stands) or failed (it never finished)."""
        state = self.states[step]
        if state not in (step_status.SUCCEEDED, step_status.RUNNING):
            return
        if remaining[step] == 0:
            self.states[step] = step_status.ROLLED_BACK
        elif state == step_status.RUNNING:
            self.states[step] = step_status.FAILED

    def _delete(self, resource: dict) -> Generator[TaskBase, Any, str | None]:
        """Delete one resource: call again on a timer while it is going, retry transient failures.

        Answers None when it is gone, else the error code that left it behind.
        """
        timing = self.ctx.timing
        call = step_plan.delete_call(self.ctx, resource)
        attempt, waited = 1, 0.0
        while True:
            try:
                result = yield self.context.call_activity(call.activity, call.input, expected_type=dict)
            except Exception as crash:  # noqa: BLE001 - an activity that raised answers ActivityCrashed
                result = _crashed(crash)
            if result.get("ok"):
                if (result.get("outputs") or {}).get("done"):
                    self._log("deleted %s", resource["id"])
                    return None
                if waited >= timing.cluster_timeout_seconds:
                    return DELETE_TIMEOUT
                waited += timing.poll_interval_seconds
                yield self._create_timer(timing.poll_interval_seconds)
                continue
            error = result.get("error") or {}
            if error.get("transient") and attempt < timing.retry_max_attempts:
                delay = step_plan.retry_delay(timing, attempt, seed=f"{self.ctx.instance_id}|delete")
                attempt += 1
                yield self._create_timer(delay)
                continue
            return str(error.get("code") or "Unknown")

    def _create_timer(self, seconds: float) -> TaskBase:
        return self.context.create_timer(self.context.current_utc_datetime + timedelta(seconds=seconds))

    # ------------------------------------------------------------ status, result, logs

    def _publish(self) -> None:
        error = None
        if self.failures:
            error = {"step": self.failures[0].step, "code": self.failures[0].code}
        current = step_status.build_status(self.plan.topology, self.plan.names, self.states, error)
        if current != self.published:
            self.context.set_custom_status(current)
            self.published = current

    def _all_resources(self) -> list[dict]:
        """Every resource the steps reported, in plan order and call order (the result merges repeats)."""
        return [
            resource
            for name in self.plan.names
            for _, resource in sorted(self.reported.get(name, ()), key=lambda item: item[0])
        ]

    def _log(self, message: str, *args: Any) -> None:
        if not self.context.is_replaying:
            log.info("%s: " + message, self.context.instance_id, *args)


def _is_under(child_id: str, parent_id: str) -> bool:
    """True when `child_id` lies under `parent_id` (ARM ids compare without case)."""
    return child_id.casefold().startswith(parent_id.casefold().rstrip("/") + "/")


def _result_of(task: TaskBase) -> dict:
    if task.state is TaskState.FAILED:
        return _crashed(task.result)
    result = task.result
    if not isinstance(result, dict):
        return {"ok": False, "error": {"code": ACTIVITY_CRASHED, "transient": False,
                                       "message": "the activity answered something other than a JSON object"}}
    return result


def _crashed(exception: BaseException) -> dict:
    # The host's text is "Reason \n Details"; the details are a stack trace, keep the reason only.
    reason = str(exception).split("\n", 1)[0].strip()
    return {"ok": False, "error": {"code": ACTIVITY_CRASHED, "message": reason[:_MAX_CRASH_MESSAGE],
                                   "transient": False}}


def _failure_message(
    failures: list[_Failure], rolled_back: list[str], left_behind: list[tuple[str, str]]
) -> str:
    first = failures[0]
    parts = [_described(f"Setup failed at step {first.step}", first)]
    parts += [_described(f"Step {other.step} also failed", other) for other in failures[1:]]
    if rolled_back:
        parts.append(f"Rolled back {len(rolled_back)} resource(s) this run created: {', '.join(rolled_back)}")
    else:
        parts.append("Rolled back: nothing (this run had created nothing)")
    if left_behind:
        kept = ", ".join(f"{rid} ({code})" for rid, code in left_behind)
        parts.append(f"Left behind {len(left_behind)} resource(s) that could not be removed: {kept}")
    else:
        parts.append("Left behind: nothing")
    return ". ".join(parts) + "."


def _described(prefix: str, failure: _Failure) -> str:
    message = failure.message.strip().rstrip(".")
    return f"{prefix}: {failure.code}: {message}" if message else f"{prefix}: {failure.code}"


def run_setup(context: df.DurableOrchestrationContext) -> Generator[TaskBase, Any, dict]:
    """The orchestration itself (the registered function delegates here)."""
    payload = context.get_input(expected_type=dict) or {}
    request = payload["request"]
    ctx = RunContext(
        request=request,
        run_id=str(context.new_uuid()),
        instance_id=context.instance_id,
        timing=Timing.from_input(payload.get("timing")),
        outputs={},
    )
    plan = step_plan.step_plan(request["topology"])
    setup = _Setup(context, ctx, plan, states={name: step_status.PENDING for name in plan.names})
    return (yield from setup.run())


@bp.orchestration_trigger(context_name="context")
def setup_orchestrator(context: df.DurableOrchestrationContext) -> Generator[TaskBase, Any, dict]:
    return (yield from run_setup(context))
