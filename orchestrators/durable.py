"""The two things every part of the setup needs from the Durable engine, written once:

- `fan_out`: run activity calls (and sub-orchestrations) together as ONE `task_all` of new tasks; retry the
  calls that answered transiently on a durable timer with exponential backoff (`provisioning.errors`), and
  stop retrying once any call has failed for good;
- `delete_until_gone`: delete one resource and wait until it is gone (rollback and teardown).

The constraints of the extension (OutOfProcOrchestrationShim, replay schema V3) that every `yield` here
keeps: each compound task carries only tasks created for it (the shim awaits each `yield`'s action before it
issues the next, and a compound lists only the tasks new at that `yield`); never a WhenAny, never an empty
compound; after a failed `task_all` every task is waited for (drained) before anything else is scheduled.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase, TaskState

from provisioning import lazy_import

if TYPE_CHECKING:
    from provisioning import contracts as c
    from provisioning import errors, rollback
else:  # imported when an orchestration first runs, not when the app is indexed (cold start)
    c = lazy_import.module("provisioning.contracts")
    errors = lazy_import.module("provisioning.errors")
    rollback = lazy_import.module("provisioning.rollback")

MAX_CRASH_MESSAGE = 300
CHAIN_CRASHED = "ChainCrashed"
DELETE_TIMEOUT = "DeleteTimeout"

T = TypeVar("T")
Durable = Generator[TaskBase, Any, T]


@dataclass(frozen=True)
class Call:
    """One activity call made for a step. `finishes` is False when the step goes on after it (the cluster:
    begun here, watched after)."""

    step: str
    input: c.ActivityInput
    finishes: bool = True

    @property
    def steps(self) -> tuple[str, ...]:
        return (self.step,)


@dataclass(frozen=True)
class SubOrchestration:
    """A chain of steps run one after another in a sub-orchestration (it answers a `ChainResult`)."""

    steps: tuple[str, ...]
    name: str
    input: c.Wire
    instance_id: str

    @property
    def step(self) -> str:
        return self.steps[0]


Item = Call | SubOrchestration
if TYPE_CHECKING:
    Answer = c.ActivityResult | c.ChainResult


def wait(context: df.DurableOrchestrationContext, seconds: float) -> TaskBase:
    return context.create_timer(context.current_utc_datetime + timedelta(seconds=seconds))


def retry_delay(timing: c.Timing, attempt: int, seed: str | None = None) -> float:
    """Seconds before retry number `attempt` (1 = the first retry); `seed` spreads runs started together."""
    return errors.backoff_seconds(attempt, timing.retry_first_seconds, timing.retry_max_seconds, seed)


def fan_out(
    context: df.DurableOrchestrationContext,
    timing: c.Timing,
    seed: str,
    items: Sequence[Item],
    retry_if: Callable[[c.ActivityResult], bool] = lambda answer: True,
) -> Durable[list[Answer]]:
    """Run `items` together; answer each one's last answer, in order.

    A transient activity answer is retried (that call only) after a durable timer of the backoff of its
    attempt (seeded by `seed` and the step), up to `timing.retry_max_attempts` attempts, then it is a
    permanent failure. Once any answer is a permanent failure nothing is retried: the transient answers
    that came with it stay transient (the caller neither reports nor retries them). A transient answer
    `retry_if` refuses is answered as it is, for the caller to act on.
    """
    answers: list[Answer | None] = [None] * len(items)
    attempts = [1] * len(items)
    pending = list(range(len(items)))
    while pending:
        tasks = [_schedule(context, items[index]) for index in pending]
        yield from _all(context, tasks)
        for index, task in zip(pending, tasks, strict=True):
            answers[index] = _answer(task, items[index], attempts[index] >= timing.retry_max_attempts)
        pending = [index for index in pending if _transient(answers[index]) and retry_if(answers[index])]
        if not pending or any(_failed(answer) for answer in answers):
            break
        delay = max(retry_delay(timing, attempts[index], f"{seed}|{items[index].step}") for index in pending)
        for index in pending:
            attempts[index] += 1
        yield wait(context, delay)
    return [answer for answer in answers if answer is not None]


def delete_until_gone(
    context: df.DurableOrchestrationContext, timing: c.Timing, call: Call, resource_type: str, seed: str
) -> Durable[c.ActivityError | None]:
    """Delete one resource (a `delete_resource` call) and wait until it is gone: None when it is, else the
    error that left it (code DeleteTimeout when it was still going after the cluster timeout).

    A delete still going (a cluster) is called again on a timer; so is a cluster that is still being
    created (409 OperationNotAllowed): both bounded by the cluster timeout, not by the retry budget.
    Transient failures are retried with backoff (seeded by `seed`). Used by rollback and teardown.
    """
    attempt, waited = 1, 0.0
    while True:
        task = _schedule(context, call)
        try:
            yield task
        except Exception:  # noqa: BLE001 - an activity that raised: read from the task (ActivityCrashed)
            pass
        result = _answer(task, call, last_attempt=False)
        assert isinstance(result, c.ActivityResult)
        error = result.error or c.ActivityError(code="Unknown")
        if result.ok and result.output(c.DeleteOutput).done:
            return None
        if result.ok or rollback.waits_for_cluster(resource_type, error.code):
            if waited >= timing.cluster_timeout_seconds:
                return c.ActivityError(code=DELETE_TIMEOUT, message=f"still being deleted after {waited:g} s")
            waited += timing.poll_interval_seconds
            yield wait(context, timing.poll_interval_seconds)
        elif error.transient and attempt < timing.retry_max_attempts:
            yield wait(context, retry_delay(timing, attempt, seed))
            attempt += 1
        else:
            return error


def _all(context: df.DurableOrchestrationContext, tasks: list[TaskBase]) -> Durable[None]:
    try:
        yield context.task_all(tasks)
    except Exception:  # noqa: BLE001 - a task failed: each one's answer is read by the caller
        # task_all gives up at the first failed child while the others still run: wait for each of them
        # (re-yielding a scheduled task adds no action) so every resource they report is recorded.
        for task in tasks:
            try:
                yield task
            except Exception:  # noqa: BLE001 - read from the task by the caller
                continue


def _schedule(context: df.DurableOrchestrationContext, item: Item) -> TaskBase:
    if isinstance(item, Call):
        return context.call_activity(item.input.NAME, item.input.to_dict(), expected_type=dict)
    return context.call_sub_orchestrator(item.name, item.input.to_dict(), item.instance_id,
                                         expected_type=dict)


def _answer(task: TaskBase, item: Item, last_attempt: bool) -> Answer:
    if isinstance(item, SubOrchestration):
        return _chain_answer(task, item)
    if task.state is TaskState.FAILED:
        return crashed(str(task.result))
    try:
        result = c.ActivityResult.from_dict(task.result, f"{item.input.NAME} result")
    except c.ContractError as wrong:
        return crashed(str(wrong))
    if last_attempt and _transient(result):
        result = replace(result, error=replace(result.error, transient=False))
    return result


def _chain_answer(task: TaskBase, item: SubOrchestration) -> c.ChainResult:
    if task.state is not TaskState.FAILED:
        try:
            return c.ChainResult.from_dict(task.result, f"{item.name} result")
        except c.ContractError as wrong:
            reason = str(wrong)
    else:
        reason = str(task.result)
    failure = c.StepFailure(step=item.step, code=CHAIN_CRASHED, message=_reason(reason))
    return c.ChainResult(steps=[c.StepReport(step=item.step, ok=False, failure=failure)])


def crashed(text: str) -> c.ActivityResult:
    """An activity that raised (a bug, not an ARM answer): permanent, with the host's reason only."""
    return c.ActivityResult.failure(c.ActivityError(code=c.ACTIVITY_CRASHED, message=_reason(text)))


def _reason(text: str) -> str:
    # The host's text is "Reason \n Details"; the details are a stack trace, keep the reason only.
    return text.split("\n", 1)[0].strip()[:MAX_CRASH_MESSAGE]


def _transient(answer: Answer | None) -> bool:
    return (isinstance(answer, c.ActivityResult) and not answer.ok
            and bool(answer.error and answer.error.transient))


def _failed(answer: Answer | None) -> bool:
    if isinstance(answer, c.ChainResult):
        return answer.failure is not None
    return answer is not None and not answer.ok and not _transient(answer)
