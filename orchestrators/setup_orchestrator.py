"""`setup_orchestrator`: runs the step plan, fanning out everything whose needs are met, and rolls back.

Deterministic (it is replayed from history): no clock, env, random ids or I/O; decisions come from
`provisioning.plan`, the custom status from `provisioning.status`.

Scheduler: lock-step rounds. Every running step is a program (see `provisioning.plan`) with exactly one
outstanding request: a batch of activity calls, a wait, or a retry timer (after which the calls that answered
transiently are made again). A round creates the tasks of every running step's request and yields them as ONE
`task_all`; then every answer is handled in plan order and call order, programs advance, steps whose needs
are now met start, and the next round is built.

Why not `task_any` over the tasks in flight: the Durable extension (OutOfProcOrchestrationShim, replay schema
V3) awaits the action of each `yield` in turn before it issues the next one, and a compound action carries
only the tasks that are new at that yield. Work asked for after an *older* task finished is then issued only
once one of the newer tasks finishes too (often a lone 20 s poll timer); and a WhenAny action with no
children would make .NET's `Task.WhenAny` throw (SDK 1.7.0 sends no action at all for a `task_any` over only
old tasks, but nothing here relies on that). Every task of a round's `task_all` is new, so the extension's
await ends exactly when this code resumes. The price is a barrier: a round lasts as long as its slowest
request.

Transient failures are retried on durable timers with exponential backoff. A permanent failure ends the
forward part after the current round (which waited for every activity in it: drained, their resources are
recorded), and then everything this run created is deleted in rollback order, one task per `yield`.
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

CALLS = "calls"  # the batch's calls that have no ok answer yet
WAIT = "wait"  # the program's own durable timer
RETRY = "retry"  # backoff timer; the calls that answered transiently go again in the round after it

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
class _Request:
    """A running step's one outstanding request."""

    kind: str  # CALLS | WAIT | RETRY
    batch: _Batch | None = None
    seconds: float = 0.0


@dataclass
class _Task:
    """One task of a round, tagged with the step (and call) it answers."""

    task: TaskBase
    step: str
    index: int = -1  # the call's index in its batch (CALLS only)


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
    requests: dict[str, _Request] = field(default_factory=dict)
    batch_counts: dict[str, int] = field(default_factory=dict)
    failures: list[_Failure] = field(default_factory=list)
    published: dict | None = None

    # ------------------------------------------------------------ forward: run the plan in rounds

    def run(self) -> Generator[TaskBase, Any, dict]:
        self._start_ready_steps()
        self._publish()
        while self.requests and not self.failures:
            round_tasks = self._build_round()
            yield from self._await_round(round_tasks)
            self._handle_round(round_tasks)
            self._start_ready_steps()
            self._publish()
        if self.failures:
            yield from self._roll_back()
        return build_setup_result(self.ctx.request, self._all_resources(), self.ctx.location)

    def _build_round(self) -> list[_Task]:
        """The tasks of every running step's request, in plan order and call order."""
        round_tasks: list[_Task] = []
        for step in self.plan.names:
            request = self.requests.get(step)
            if request is None:
                continue
            if request.kind == CALLS:
                for index, call in enumerate(request.batch.calls):
                    if request.batch.results[index] is None:
                        task = self.context.call_activity(call.activity, call.input, expected_type=dict)
                        round_tasks.append(_Task(task, step, index))
            else:
                round_tasks.append(_Task(self._create_timer(request.seconds), step))
        if not round_tasks:  # every running step has something outstanding; never loop on nothing
            raise RuntimeError("a round with running steps but no task to wait for")
        return round_tasks

    def _await_round(self, round_tasks: list[_Task]) -> Generator[TaskBase, Any, None]:
        tasks = [entry.task for entry in round_tasks]
        try:
            yield self.context.task_all(tasks)
        except Exception:  # noqa: BLE001 - an activity raised: its answer is read below (ActivityCrashed)
            # task_all gives up at the first failed child while the others still run: wait for each of them
            # (re-yielding a scheduled task adds no action) so every resource they report is recorded.
            for task in tasks:
                try:
                    yield task
                except Exception:  # noqa: BLE001 - read from the task below
                    continue

    def _handle_round(self, round_tasks: list[_Task]) -> None:
        """Every answer of the round, in plan order and call order: record, then advance."""
        by_step: dict[str, list[_Task]] = {}
        for entry in round_tasks:
            by_step.setdefault(entry.step, []).append(entry)
        # 1. Record every answer; a permanent error fails its step. Resources named by any answer are this
        #    run's to report (and to roll back if created), failure or not.
        transient: dict[str, list[int]] = {}
        for step, entries in by_step.items():
            request = self.requests[step]
            if request.kind != CALLS:
                continue
            for entry in entries:
                result = _result_of(entry.task)
                self._record(step, request.batch, entry.index, result)
                if result.get("ok"):
                    request.batch.results[entry.index] = result
                    continue
                error = result.get("error") or {}
                code = str(error.get("code") or "Unknown")
                if error.get("transient") and request.batch.attempts[entry.index] < self._max_attempts:
                    transient.setdefault(step, []).append(entry.index)
                    continue
                self._fail(step, code, str(error.get("message") or ""))
        # 2. No failure: retry what was transient, advance what is complete. A failure anywhere stops all new
        #    work (a transient answer drained with the failure made nothing and is not retried).
        now = self.context.current_utc_datetime
        for step in by_step:
            if self.failures:
                return
            request = self.requests[step]
            if request.kind == WAIT:
                self._advance(step, now)
            elif request.kind == RETRY:
                request.kind = CALLS
            elif step in transient:
                attempt = max(request.batch.attempts[index] for index in transient[step])
                for index in transient[step]:
                    request.batch.attempts[index] += 1
                delay = step_plan.retry_delay(self.ctx.timing, attempt, seed=f"{self.ctx.instance_id}|{step}")
                self._log("step %s: transient answer, retry %d in %gs", step, attempt, delay)
                self.requests[step] = _Request(RETRY, request.batch, delay)
            elif request.batch.complete:
                self._advance(step, list(request.batch.results))

    @property
    def _max_attempts(self) -> int:
        return self.ctx.timing.retry_max_attempts

    def _record(self, step: str, batch: _Batch, index: int, result: dict) -> None:
        for resource in result.get("resources") or ():
            self.resources.setdefault(step, []).append(dict(resource))
            self.reported.setdefault(step, []).append(((batch.number, index), dict(resource)))

    def _names_in(self, state: str) -> list[str]:
        return [name for name, current in self.states.items() if current == state]

    def _start_ready_steps(self) -> None:
        """Start every step whose needs are met (a step that finishes at once can make more ready)."""
        while not self.failures:
            ready = self.plan.ready_steps(
                self._names_in(step_status.SUCCEEDED), self._names_in(step_status.RUNNING),
                [failure.step for failure in self.failures],
            )
            if not ready:
                return
            for name in ready:
                self.states[name] = step_status.RUNNING
                self.programs[name] = step_plan.step_program(name, self.ctx)
                self._log("step %s started", name)
                self._advance(name, None)

    def _advance(self, step: str, answer: Any) -> None:
        """Send `answer` to the step's program and keep what it asks for next as the step's request."""
        while True:
            try:
                request = self.programs[step].send(answer)
            except StopIteration as finished:
                self.requests.pop(step, None)
                self.ctx.outputs[step] = dict(finished.value or {})
                self.states[step] = step_status.SUCCEEDED
                self._log("step %s succeeded", step)
                return
            except StepFailed as failed:
                self.requests.pop(step, None)
                self._fail(step, failed.code, failed.message)
                return
            if isinstance(request, Wait):
                self.requests[step] = _Request(WAIT, seconds=request.seconds)
                return
            if request:
                number = self.batch_counts.get(step, 0)
                self.batch_counts[step] = number + 1
                self.requests[step] = _Request(CALLS, _Batch.of(request, number))
                return
            answer = []  # an empty batch is answered at once

    def _fail(self, step: str, code: str, message: str) -> None:
        self.states[step] = step_status.FAILED
        self.failures.append(_Failure(step, code, message))
        self._log("step %s failed: %s", step, code)

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
