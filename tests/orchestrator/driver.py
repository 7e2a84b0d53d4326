"""Drive an orchestrator through the real replay engine against a scripted world, episode by episode.

Sub-orchestrations run as instances of their own on the same clock: the parent's call is recorded as
SubOrchestrationInstanceCreated, the child starts in the same instant with its own history, and its end
reaches the parent as SubOrchestrationInstanceCompleted / -Failed (`Run.children`; `Run.event_count` counts
every instance's events).

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from devhost.replay import CONTINUE_AS_NEW_ACTION, continue_as_new_input
from tests.orchestrator.history import (
    CALL_ACTIVITY,
    CALL_SUB_ORCHESTRATOR,
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
    children: dict[str, Run] = field(default_factory=dict)  # the sub-orchestrations, by instance id
    # History events of each generation that continued as new (the task hub drops them; `history` is the
    # current generation's).
    generations: list[int] = field(default_factory=list)

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
        """History events of this instance and of every sub-orchestration it started (what the task hub
        stores for one setup)."""
        return len(self.history.events) + sum(child.event_count for child in self.children.values())

    @property
    def largest_history(self) -> int:
        """The most events any one history (instance or generation) held: what one replay reads at most."""
        own = max([len(self.history.events), *self.generations])
        return max([own, *(child.largest_history for child in self.children.values())])

    @property
    def events_written(self) -> int:
        """Every history event written for this instance and its sub-orchestrations, generations included."""
        return (len(self.history.events) + sum(self.generations)
                + sum(child.events_written for child in self.children.values()))

    def every_run(self) -> list[Run]:
        """This instance and its sub-orchestrations (theirs too), parent first."""
        return [self] + [run for child in self.children.values() for run in child.every_run()]

    @property
    def all_gated(self) -> list[tuple[int, int, int]]:
        return [entry for run in self.every_run() for entry in run.gated]

    def all_timers(self) -> list[tuple[datetime, datetime]]:
        """(made at, fires at) of every durable timer of this instance and its sub-orchestrations."""
        return sorted((episode.time, at) for run in self.every_run() for episode in run.episodes
                      for name, at in episode.scheduled if name == "timer")

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
        if action["actionType"] == CONTINUE_AS_NEW_ACTION:
            return True  # not awaited: the extension starts the next generation once the episode ends
        if action["actionType"] not in (CALL_ACTIVITY, CALL_SUB_ORCHESTRATOR, CREATE_TIMER):
            raise AssertionError(f"unexpected action {action}")
        number = sequence
        sequence += 1
        return number in completed

    for action in top_level:
        if not invoke(action):
            return sequence, False
    return sequence, True


@dataclass
class _Instance:
    """One orchestration instance the driver runs: the root setup, or a sub-orchestration it started."""

    history: HistoryBuilder
    handle: Callable[[str], str]
    run: Run
    parent: tuple[_Instance, int] | None = None  # (parent, the sequence number of its call)
    recorded: list[dict] = field(default_factory=list)  # the actions the extension has issued
    first_asked: dict[int, int] = field(default_factory=dict)  # sequence -> episode first returned
    completed: set[int] = field(default_factory=set)
    woke_by: list[str] = field(default_factory=list)


class _Loop:
    """Every instance of one drive, on one simulated clock."""

    def __init__(self, world: FakeAzure, handles: Mapping[str, Callable[[str], str]], now: datetime) -> None:
        self.world, self.handles, self.now = world, handles, now
        self.pending: list[tuple[datetime, int, _Instance, int, str, Any]] = []  # due, order, ...
        self.order = 0

    def add(self, due: datetime, instance: _Instance, sequence: int, kind: str, payload: Any) -> None:
        self.order += 1
        self.pending.append((due, self.order, instance, sequence, kind, payload))

    def episode(self, instance: _Instance, ready: list[_Instance]) -> None:
        """One episode of `instance` at `now`: replay, issue what the shim reaches, finish if it is done."""
        run, history, now = instance.run, instance.history, self.now
        episode = len(run.episodes)
        answer = replay(instance.handle, history)
        actions = answer.actions
        run.action_lists.append(list((answer.state.get("actions") or [[]])[0]))
        if actions[: len(instance.recorded)] != instance.recorded:
            raise NonDeterminism(
                f"replay of {history.instance_id} changed earlier actions at episode {episode}")
        for sequence in range(len(actions)):
            instance.first_asked.setdefault(sequence, episode)
        try:
            reached, settled = shim_reach(run.action_lists[-1], instance.completed)
        except ShimFailure as failure:
            history.orchestrator_completed(now)
            history.execution_completed(now, True, str(failure))
            run.episodes.append(Episode(now, instance.woke_by, [], answer.custom_status))
            self.finish(instance, Replay(dict(answer.state, isDone=False), True, str(failure)))
            return
        scheduled = [self.issue(instance, sequence, actions[sequence], episode, ready)
                     for sequence in range(len(instance.recorded), reached)]
        instance.recorded = actions[:reached]
        run.episodes.append(Episode(now, instance.woke_by, scheduled, answer.custom_status))
        history.orchestrator_completed(now)
        # The extension reads isDone / error only once it has awaited every action.
        if answer.done and settled:
            renewed, next_input = continue_as_new_input(answer.state)
            if renewed and not answer.failed:
                self.renew(instance, next_input, ready)
                return
            history.execution_completed(now, answer.failed, answer.error if answer.failed else answer.output)
            self.finish(instance, answer)

    def renew(self, instance: _Instance, next_input: Any, ready: list[_Instance]) -> None:
        """continue_as_new: the instance starts again under its id with a new input and an empty history
        (DTFx keeps the parent link: the parent hears of the last generation's end)."""
        old = instance.history
        instance.run.generations.append(len(old.events))
        token = json.loads(next_input) if isinstance(next_input, str) else next_input
        instance.history = instance.run.history = HistoryBuilder(
            old.instance_id, old.orchestrator_name, token, parent_instance_id=old.parent_instance_id)
        instance.recorded, instance.first_asked, instance.completed = [], {}, set()
        instance.woke_by = ["continue-as-new"]
        instance.history.begin_episode(self.now)
        instance.history.execution_started(self.now)
        ready.append(instance)

    def issue(self, instance: _Instance, sequence: int, action: dict, episode: int,
              ready: list[_Instance]) -> tuple[str, Any]:
        run, history, now = instance.run, instance.history, self.now
        if instance.first_asked[sequence] != episode:
            run.gated.append((sequence, instance.first_asked[sequence], episode))
        if action["actionType"] == CALL_ACTIVITY:
            name, input_json = action["functionName"], action["input"]
            history.task_scheduled(now, sequence, name, input_json)
            payload = json.loads(input_json)
            result, seconds = self.world.answer(now, name, payload)
            self.add(now + timedelta(seconds=seconds), instance, sequence, name, result)
            return name, payload
        if action["actionType"] == CALL_SUB_ORCHESTRATOR:
            name = action["functionName"]
            child_id = action.get("instanceId") or f"{history.instance_id}:{sequence:04X}"
            history.sub_orchestration_created(now, sequence, name, child_id, action.get("input"))
            child_input = json.loads(action["input"]) if action.get("input") else None
            child_history = HistoryBuilder(child_id, name, child_input,
                                           parent_instance_id=history.instance_id)
            child = _Instance(child_history, self.handles[name], Run(child_history), (instance, sequence),
                              woke_by=["start"])
            run.children[child_id] = child.run
            child.history.begin_episode(now)
            child.history.execution_started(now)
            ready.append(child)
            return name, child_input
        fire_at = action["fireAt"]
        history.timer_created(now, sequence, fire_at)
        self.add(parse_fire_at(fire_at), instance, sequence, "timer", fire_at)
        return "timer", parse_fire_at(fire_at)

    def finish(self, instance: _Instance, answer: Replay) -> None:
        instance.run.final = answer
        if instance.parent is not None:
            parent, sequence = instance.parent
            self.add(self.now, parent, sequence, "suborchestration", answer)

    def wake_due(self) -> list[_Instance]:
        """Move the clock to the next completion; deliver everything due then, one episode per instance."""
        if not self.pending:
            raise AssertionError("the orchestrations wait for nothing but are not done")
        self.now = max(self.now, min(item[0] for item in self.pending))
        due = sorted((item for item in self.pending if item[0] <= self.now), key=lambda item: item[:2])
        self.pending = [item for item in self.pending if item[0] > self.now]
        woken: list[_Instance] = []
        for _, _, instance, sequence, kind, payload in due:
            if instance not in woken:
                woken.append(instance)
                instance.history.begin_episode(self.now)
                instance.woke_by = []
            self.deliver(instance, sequence, kind, payload)
        return woken

    def deliver(self, instance: _Instance, sequence: int, kind: str, payload: Any) -> None:
        history, now = instance.history, self.now
        instance.woke_by.append(kind)
        instance.completed.add(sequence)
        if kind == "timer":
            history.timer_fired(now, sequence, payload)
        elif kind == "suborchestration":
            if payload.failed:
                history.sub_orchestration_failed(now, sequence, str(payload.error), "")
            else:
                history.sub_orchestration_completed(now, sequence, payload.output)
        elif isinstance(payload, Crash):
            history.task_failed(now, sequence, payload.reason, payload.details)
        else:
            history.task_completed(now, sequence, payload)


def drive(
    handle: Callable[[str], str],
    world: FakeAzure,
    orchestration_input: dict,
    instance_id: str = "setup-test-instance",
    start: datetime = START,
    max_episodes: int = 5000,
    handles: Mapping[str, Callable[[str], str]] | None = None,
) -> Run:
    """Run the orchestration (and the sub-orchestrations it calls, by name from `handles`) to its end."""
    if handles is None:
        from tests.orchestrator.conftest import registered_handles

        handles = registered_handles()
    history = HistoryBuilder(instance_id, "setup_orchestrator", orchestration_input)
    root = _Instance(history, handle, Run(history), woke_by=["start"])
    loop = _Loop(world, handles, start)
    history.begin_episode(start)
    history.execution_started(start)
    ready = [root]
    for _ in range(max_episodes):
        while ready:
            loop.episode(ready.pop(0), ready)
        if root.run.final is not None:
            return root.run
        ready = loop.wake_due()
    raise AssertionError("the orchestration did not finish")
