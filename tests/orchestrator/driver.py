"""Drive an orchestrator through the real replay engine against a scripted world, episode by episode.

Each episode: OrchestratorStarted, the completions due now (TaskCompleted / TaskFailed / TimerFired), a
replay of the whole history, then the actions the extension issues recorded as TaskScheduled / TimerCreated
and OrchestratorCompleted, like DTFx does. Activities are answered by the world when scheduled and complete
`activity_seconds` later; timers fire at their `fireAt`. Completions due at the same instant land in one
episode. Before appending, every replay's actions are checked against the ones already in the history
(the non-determinism check DTFx makes).

Which actions are issued follows the extension's OutOfProcOrchestrationShim (schema V3,
ProcessAsyncActionsV2): the top-level actions (one per `yield`) are invoked one after the other, each awaited
before the next: an activity or timer until its completion is in the history, a WhenAll until all of its
children are, a WhenAny until one is; a WhenAny with no children throws (.NET `Task.WhenAny` of an empty
set), which fails the orchestration. An action the orchestrator returned but the shim has not reached yet
is issued in a later episode: `Run.gated` lists such delays.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.orchestrator.history import (
    CALL_ACTIVITY,
    CREATE_TIMER,
    WHEN_ALL,
    WHEN_ANY,
    HistoryBuilder,
    Replay,
    replay,
)
from tests.orchestrator.world import Crash, FakeAzure

START = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class NonDeterminism(AssertionError):
    pass


@dataclass
class Episode:
    time: datetime
    completed: list[str]  # what woke the orchestrator: activity names / "timer"
    scheduled: list[tuple[str, Any]]  # (activity name or "timer", input dict or fire time)
    custom_status: Any


@dataclass
class Run:
    history: HistoryBuilder
    episodes: list[Episode] = field(default_factory=list)
    final: Replay | None = None
    # Every action list the orchestrator returned (the top-level actions, compound ones nested), per replay.
    action_lists: list[list[dict]] = field(default_factory=list)
    # (sequence number, episode the orchestrator first returned it, episode the extension issued it) for
    # every action issued later than asked for.
    gated: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def output(self) -> Any:
        return self.final.output

    @property
    def failed(self) -> bool:
        return self.final.failed

    @property
    def error(self) -> str | None:
        return self.final.error

    @property
    def event_count(self) -> int:
        return len(self.history.events)

    @property
    def custom_status(self) -> Any:
        return self.final.custom_status

    def scheduled_activities(self, episode: int) -> list[str]:
        return [name for name, _ in self.episodes[episode].scheduled if name != "timer"]


def parse_fire_at(text: str) -> datetime:
    return datetime.strptime(text, DATETIME_FORMAT).replace(tzinfo=UTC)


class ShimFailure(Exception):
    """The extension threw while it replayed the actions (the orchestration fails with this text)."""


def shim_reach(top_level: list[dict], completed: set[int]) -> tuple[int, bool]:
    """How far the extension gets through the actions: (number of leaf actions invoked, all awaited).

    `completed` holds the sequence numbers whose completion is in the history. Leaves are numbered in
    invocation order, which is the order of `Replay.actions`.
    """
    sequence = 0

    def invoke(action: dict) -> bool:
        """Invoke one action (and its children); answer whether its await has completed."""
        nonlocal sequence
        if action["actionType"] in (WHEN_ALL, WHEN_ANY):
            children = action.get("compoundActions") or []
            if action["actionType"] == WHEN_ANY and not children:
                raise ShimFailure("System.ArgumentException: The tasks argument contains no tasks.")
            done = [invoke(child) for child in children]
            return any(done) if action["actionType"] == WHEN_ANY else all(done)
        if action["actionType"] not in (CALL_ACTIVITY, CREATE_TIMER):
            raise AssertionError(f"unexpected action {action}")
        number = sequence
        sequence += 1
        return number in completed

    for action in top_level:
        if not invoke(action):
            return sequence, False
    return sequence, True


def drive(
    handle: Callable[[str], str],
    world: FakeAzure,
    orchestration_input: dict,
    instance_id: str = "setup-test-instance",
    start: datetime = START,
    max_episodes: int = 5000,
) -> Run:
    history = HistoryBuilder(instance_id, "setup_orchestrator", orchestration_input)
    run = Run(history)
    now = start
    history.begin_episode(now)
    history.execution_started(now)
    recorded: list[dict] = []  # the actions the extension has issued, in sequence order
    first_asked: dict[int, int] = {}  # sequence number -> episode the orchestrator first returned it
    completed: set[int] = set()
    pending: list[tuple[datetime, int, str, Any]] = []  # (due, sequence, kind, payload)
    woke_by: list[str] = ["start"]
    for _ in range(max_episodes):
        episode = len(run.episodes)
        answer = replay(handle, history)
        actions = answer.actions
        run.action_lists.append(list((answer.state.get("actions") or [[]])[0]))
        if actions[: len(recorded)] != recorded:
            raise NonDeterminism(f"replay changed earlier actions at episode {episode}")
        for sequence in range(len(actions)):
            first_asked.setdefault(sequence, episode)
        try:
            reached, settled = shim_reach(run.action_lists[-1], completed)
        except ShimFailure as failure:
            history.orchestrator_completed(now)
            history.execution_completed(now, True, str(failure))
            run.episodes.append(Episode(now, woke_by, [], answer.custom_status))
            run.final = Replay(dict(answer.state, isDone=False), True, str(failure))
            return run
        scheduled = []
        for sequence in range(len(recorded), reached):
            action = actions[sequence]
            if first_asked[sequence] != episode:
                run.gated.append((sequence, first_asked[sequence], episode))
            if action["actionType"] == CALL_ACTIVITY:
                name, input_json = action["functionName"], action["input"]
                history.task_scheduled(now, sequence, name, input_json)
                payload = json.loads(input_json)
                result, seconds = world.answer(now, name, payload)
                pending.append((now + timedelta(seconds=seconds), sequence, name, result))
                scheduled.append((name, payload))
            else:
                fire_at = action["fireAt"]
                history.timer_created(now, sequence, fire_at)
                pending.append((parse_fire_at(fire_at), sequence, "timer", fire_at))
                scheduled.append(("timer", parse_fire_at(fire_at)))
        recorded = actions[:reached]
        run.episodes.append(Episode(now, woke_by, scheduled, answer.custom_status))
        history.orchestrator_completed(now)
        # The extension reads isDone / error only once it has awaited every action.
        if answer.done and settled:
            history.execution_completed(now, answer.failed, answer.error if answer.failed else answer.output)
            run.final = answer
            return run
        if not pending:
            raise AssertionError("the orchestrator waits for nothing but is not done")
        now = max(now, min(item[0] for item in pending))
        due = sorted((item for item in pending if item[0] <= now), key=lambda item: (item[0], item[1]))
        pending = [item for item in pending if item[0] > now]
        history.begin_episode(now)
        woke_by = []
        for _, sequence, kind, payload in due:
            woke_by.append(kind)
            completed.add(sequence)
            if kind == "timer":
                history.timer_fired(now, sequence, payload)
            elif isinstance(payload, Crash):
                history.task_failed(now, sequence, payload.reason, payload.details)
            else:
                history.task_completed(now, sequence, payload)
    raise AssertionError("the orchestration did not finish")
