"""The extension side of one orchestration episode: which actions are new, and with which event ids.

The Durable extension (OutOfProcOrchestrationShim, schema V2/V3) replays the actions the Python SDK returns
through the Durable Task Framework context: top-level actions one after the other, each awaited before the
next is invoked; WhenAll/WhenAny invoke their children at once (`Task.WhenAll` / `Task.WhenAny`: an empty
WhenAll completes at once, an empty WhenAny throws ArgumentException, which fails the orchestration);
-WithRetry calls go through DTFx's RetryInterceptor (attempt, on failure a timer, then the next attempt;
after the last failed attempt one more timer, then the failure). Every scheduling operation takes the next
sequence number, and that number is the EventId of its TaskScheduled / TimerCreated /
SubOrchestrationInstanceCreated event; completions point back at it (TaskScheduledId, TimerId). The Python
SDK assigns its own task ids the same way, so both sides agree.

This module does that bookkeeping over a history + an action list and answers the scheduling events that are
new in this episode. It is pure (no I/O, no clock): the caller passes the times in.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# HistoryEventType values (azure.durable_functions.models.history.HistoryEventType / DTFx EventType).
EXECUTION_STARTED = 0
EXECUTION_COMPLETED = 1
EXECUTION_FAILED = 2
EXECUTION_TERMINATED = 3
TASK_SCHEDULED = 4
TASK_COMPLETED = 5
TASK_FAILED = 6
SUB_ORCHESTRATION_INSTANCE_CREATED = 7
SUB_ORCHESTRATION_INSTANCE_COMPLETED = 8
SUB_ORCHESTRATION_INSTANCE_FAILED = 9
TIMER_CREATED = 10
TIMER_FIRED = 11
ORCHESTRATOR_STARTED = 12
ORCHESTRATOR_COMPLETED = 13
EVENT_RAISED = 15
CONTINUE_AS_NEW = 16

# ActionType values (azure.durable_functions.models.actions.ActionType).
CALL_ACTIVITY = 0
CALL_ACTIVITY_WITH_RETRY = 1
CALL_SUB_ORCHESTRATOR = 2
CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
CONTINUE_AS_NEW_ACTION = 4
CREATE_TIMER = 5
WAIT_FOR_EXTERNAL_EVENT = 6
CALL_ENTITY = 7
CALL_HTTP = 8
SIGNAL_ENTITY = 9
WHEN_ANY = 11
WHEN_ALL = 12

SCHEDULING_EVENTS = {TASK_SCHEDULED, TIMER_CREATED, SUB_ORCHESTRATION_INSTANCE_CREATED}
EVENT_NAMES = {
    EXECUTION_STARTED: "ExecutionStarted",
    EXECUTION_COMPLETED: "ExecutionCompleted",
    EXECUTION_TERMINATED: "ExecutionTerminated",
    TASK_SCHEDULED: "TaskScheduled",
    TASK_COMPLETED: "TaskCompleted",
    TASK_FAILED: "TaskFailed",
    SUB_ORCHESTRATION_INSTANCE_CREATED: "SubOrchestrationInstanceCreated",
    SUB_ORCHESTRATION_INSTANCE_COMPLETED: "SubOrchestrationInstanceCompleted",
    SUB_ORCHESTRATION_INSTANCE_FAILED: "SubOrchestrationInstanceFailed",
    TIMER_CREATED: "TimerCreated",
    TIMER_FIRED: "TimerFired",
    ORCHESTRATOR_STARTED: "OrchestratorStarted",
    ORCHESTRATOR_COMPLETED: "OrchestratorCompleted",
    EVENT_RAISED: "EventRaised",
    CONTINUE_AS_NEW: "ContinueAsNew",
}


class NonDeterminismError(Exception):
    """The actions no longer match the history (the orchestrator code changed or is not deterministic)."""


class UnsupportedActionError(Exception):
    """An action this host does not implement (entities, durable HTTP)."""


class ReplayFailed(Exception):
    """The extension throws while it replays the actions: the orchestration ends Failed with this text."""


# .NET's Task.WhenAny(IEnumerable<Task>) refuses an empty set (ArgumentException, paramName "tasks").
EMPTY_WHEN_ANY = "System.ArgumentException: The tasks argument contains no tasks. (Parameter 'tasks')"


def format_time(moment: datetime) -> str:
    """The timestamp format of history events: ISO 8601, UTC, microseconds, 'Z'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def history_event(event_type: int, timestamp: datetime, event_id: int = -1, **fields: Any) -> dict[str, Any]:
    """One history event as the extension serializes it for the out-of-proc SDK."""
    event: dict[str, Any] = {
        "EventType": event_type,
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": format_time(timestamp),
    }
    event.update(fields)
    return event


@dataclass
class Schedule:
    """One thing the host must do because of this episode."""

    kind: str  # "activity" | "timer" | "suborchestration"
    event: dict[str, Any]  # the scheduling history event to append (EventId = task id)
    name: str | None = None
    input: Any = None  # JSON text (activities / sub-orchestrations)
    fire_at: datetime | None = None
    instance_id: str | None = None  # sub-orchestrations


@dataclass
class _Node:
    parent: _Node | None = None
    done: bool = False
    succeeded: bool = False

    def finish(self, sim: _Simulation, succeeded: bool) -> None:
        if self.done:
            return
        self.done = True
        self.succeeded = succeeded
        if self.parent is not None:
            self.parent.child_done(sim, self)

    def child_done(self, sim: _Simulation, child: _Node) -> None:  # pragma: no cover - leaves only
        raise NotImplementedError


@dataclass
class _Leaf(_Node):
    task_id: int | None = None


@dataclass
class _Group(_Node):
    any_: bool = False
    children: list[_Node] = field(default_factory=list)

    def child_done(self, sim: _Simulation, child: _Node) -> None:
        # Task.WhenAny completes with the first child; Task.WhenAll only when every child is done, even
        # after a failure (the SDK's task_all raises earlier: orchestrators must drain, see AZURE_FACTS).
        if self.any_:
            self.finish(sim, True)
        elif all(c.done for c in self.children):
            self.finish(sim, all(c.succeeded for c in self.children))


@dataclass
class _Retry(_Node):
    """DTFx RetryInterceptor: fixed interval (BackoffCoefficient 1), one more timer after the last failure."""

    action: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    waiting_on_timer: bool = False

    def start_attempt(self, sim: _Simulation) -> None:
        self.attempts += 1
        self.waiting_on_timer = False
        sim.invoke_leaf(self.action, self, retry_kind=True)

    def child_done(self, sim: _Simulation, child: _Node) -> None:
        if self.waiting_on_timer:
            options = self.action.get("retryOptions") or {}
            if self.attempts >= int(options.get("maxNumberOfAttempts", 1)):
                self.finish(sim, False)
            else:
                self.start_attempt(sim)
            return
        if child.succeeded:
            self.finish(sim, True)
            return
        options = self.action.get("retryOptions") or {}
        interval = timedelta(milliseconds=int(options.get("firstRetryIntervalInMilliseconds", 0)))
        if interval <= timedelta(0):
            self.finish(sim, False)
            return
        self.waiting_on_timer = True
        sim.invoke_timer(sim.last_started + interval, self)


class _Simulation:
    def __init__(
        self, instance_id: str, history: list[dict[str, Any]], actions: list[dict[str, Any]]
    ) -> None:
        self.instance_id = instance_id
        self.history = history
        self.actions = actions
        self.next_id = 0
        self.scheduled: dict[int, dict[str, Any]] = {
            e["EventId"]: e for e in history if e["EventType"] in SCHEDULING_EVENTS
        }
        self.waiting: dict[int, _Leaf] = {}
        self.event_waiters: dict[str, deque[_Leaf]] = {}
        self.buffered_events: dict[str, deque[dict[str, Any]]] = {}
        self.new: list[Schedule] = []
        self.position = 0
        self.current: _Node | None = None
        self.last_started: datetime = datetime.now(UTC)  # replaced by the first OrchestratorStarted

    # -- invoking actions ---------------------------------------------------------------------------
    def allocate(self, expected_type: int, describe: str) -> tuple[int, dict[str, Any] | None]:
        task_id = self.next_id
        self.next_id += 1
        existing = self.scheduled.get(task_id)
        if existing is not None and existing["EventType"] != expected_type:
            raise NonDeterminismError(
                f"Non-Deterministic workflow detected: a previous execution of this orchestration scheduled "
                f"{EVENT_NAMES.get(existing['EventType'])} with sequence number {task_id}, but now {describe}"
            )
        return task_id, existing

    def invoke_leaf(self, action: dict[str, Any], parent: _Node | None, retry_kind: bool = False) -> _Leaf:
        kind = action["actionType"]
        leaf = _Leaf(parent=parent)
        if kind in (CALL_ACTIVITY, CALL_ACTIVITY_WITH_RETRY):
            name = action["functionName"]
            task_id, existing = self.allocate(TASK_SCHEDULED, f"activity '{name}'")
            if existing is not None and existing.get("Name") != name:
                raise NonDeterminismError(
                    f"Non-Deterministic workflow detected: sequence number {task_id} was activity "
                    f"'{existing.get('Name')}' and is now activity '{name}'"
                )
            if existing is None:
                event = history_event(
                    TASK_SCHEDULED,
                    self.last_started,
                    task_id,
                    Name=name,
                    Version="",
                    Input=action.get("input"),
                )
                self.new.append(Schedule("activity", event, name=name, input=action.get("input")))
        elif kind in (CALL_SUB_ORCHESTRATOR, CALL_SUB_ORCHESTRATOR_WITH_RETRY):
            name = action["functionName"]
            task_id, existing = self.allocate(
                SUB_ORCHESTRATION_INSTANCE_CREATED, f"sub-orchestration '{name}'"
            )
            if existing is not None and existing.get("Name") != name:
                raise NonDeterminismError(
                    f"Non-Deterministic workflow detected: sequence number {task_id} was sub-orchestration "
                    f"'{existing.get('Name')}' and is now '{name}'"
                )
            if existing is None:
                child_id = action.get("instanceId") or f"{self.instance_id}:{task_id:04X}"
                event = history_event(
                    SUB_ORCHESTRATION_INSTANCE_CREATED,
                    self.last_started,
                    task_id,
                    Name=name,
                    Version=action.get("version") or "",
                    InstanceId=child_id,
                    Input=action.get("input"),
                )
                self.new.append(
                    Schedule(
                        "suborchestration", event, name=name, input=action.get("input"), instance_id=child_id
                    )
                )
        else:  # pragma: no cover - guarded by invoke()
            raise UnsupportedActionError(f"action type {kind}")
        leaf.task_id = task_id
        self.waiting[task_id] = leaf
        return leaf

    def invoke_timer(self, fire_at: datetime, parent: _Node | None, canceled: bool = False) -> _Leaf:
        leaf = _Leaf(parent=parent)
        task_id, existing = self.allocate(TIMER_CREATED, "a timer")
        if existing is None:
            event = history_event(TIMER_CREATED, self.last_started, task_id, FireAt=format_time(fire_at))
            # A timer canceled as it is made never needs to fire (the SDK no longer waits on it).
            self.new.append(Schedule("timer", event, fire_at=None if canceled else fire_at))
        leaf.task_id = task_id
        self.waiting[task_id] = leaf
        if canceled:
            self.waiting.pop(task_id, None)
            leaf.finish(self, False)
        return leaf

    def invoke(self, action: dict[str, Any], parent: _Node | None) -> _Node:
        kind = action["actionType"]
        if kind in (CALL_ACTIVITY, CALL_SUB_ORCHESTRATOR):
            return self.invoke_leaf(action, parent)
        if kind in (CALL_ACTIVITY_WITH_RETRY, CALL_SUB_ORCHESTRATOR_WITH_RETRY):
            retry = _Retry(parent=parent, action=action)
            retry.start_attempt(self)
            return retry
        if kind == CREATE_TIMER:
            return self.invoke_timer(parse_time(action["fireAt"]), parent, bool(action.get("isCanceled")))
        if kind == WAIT_FOR_EXTERNAL_EVENT:
            name = action["externalEventName"]
            leaf = _Leaf(parent=parent)
            buffered = self.buffered_events.get(name.lower())
            if buffered:
                buffered.popleft()
                leaf.finish(self, True)
            else:
                self.event_waiters.setdefault(name.lower(), deque()).append(leaf)
            return leaf
        if kind in (WHEN_ALL, WHEN_ANY):
            if kind == WHEN_ANY and not action.get("compoundActions"):
                # The shim hands the children to Task.WhenAny, which throws on none; the exception leaves
                # the replay and fails the orchestration. (Task.WhenAll of none completes at once.)
                raise ReplayFailed(EMPTY_WHEN_ANY)
            group = _Group(parent=parent, any_=kind == WHEN_ANY)
            for child_action in action.get("compoundActions") or []:
                group.children.append(self.invoke(child_action, group))
            if not group.children:
                group.finish(self, True)
            else:
                for child in group.children:
                    if child.done and not group.done:
                        group.child_done(self, child)
            return group
        if kind == CONTINUE_AS_NEW_ACTION:
            node = _Node(parent=parent)
            node.done = node.succeeded = True
            return node
        raise UnsupportedActionError(
            f"action type {kind} (entities and durable HTTP calls) is not supported by the local host"
        )

    def advance(self) -> None:
        while (self.current is None or self.current.done) and self.position < len(self.actions):
            action = self.actions[self.position]
            self.position += 1
            self.current = self.invoke(action, None)

    # -- history ------------------------------------------------------------------------------------
    def run(self) -> list[Schedule]:
        for event in self.history:
            kind = event["EventType"]
            if kind == ORCHESTRATOR_STARTED:
                self.last_started = parse_time(event["Timestamp"])
            elif kind == EXECUTION_STARTED:
                self.advance()
            elif kind in (
                TASK_COMPLETED,
                TASK_FAILED,
                SUB_ORCHESTRATION_INSTANCE_COMPLETED,
                SUB_ORCHESTRATION_INSTANCE_FAILED,
                TIMER_FIRED,
            ):
                key = event.get("TimerId") if kind == TIMER_FIRED else event.get("TaskScheduledId")
                leaf = self.waiting.pop(key, None) if key is not None else None
                if leaf is not None:
                    leaf.finish(
                        self, kind in (TASK_COMPLETED, SUB_ORCHESTRATION_INSTANCE_COMPLETED, TIMER_FIRED)
                    )
                    self.advance()
            elif kind == EVENT_RAISED:
                name = str(event.get("Name") or "").lower()
                waiters = self.event_waiters.get(name)
                if waiters:
                    waiters.popleft().finish(self, True)
                    self.advance()
                else:
                    self.buffered_events.setdefault(name, deque()).append(event)
        return self.new


@dataclass
class EpisodePlan:
    schedules: list[Schedule]
    # Every action replayed and completed. The extension awaits the actions before it looks at isDone/error,
    # so an orchestrator that returns (or fails) while a task it started is still running stays Running until
    # that task completes.
    settled: bool


def plan_episode(instance_id: str, history: list[dict[str, Any]], state: dict[str, Any]) -> EpisodePlan:
    """The new scheduling decisions of an episode.

    `history` is the full history the orchestrator just saw (old + this episode's new events), `state` its
    OrchestratorState JSON (schema V2/V3: `actions` is one list holding every action since the start).
    """
    action_lists = state.get("actions") or []
    if len(action_lists) > 1:
        raise NonDeterminismError(
            f"With out-of-proc schema V3 the actions array must have one element, got {len(action_lists)}"
        )
    actions = action_lists[0] if action_lists else []
    simulation = _Simulation(instance_id, history, actions)
    schedules = simulation.run()
    settled = simulation.position >= len(actions) and (simulation.current is None or simulation.current.done)
    return EpisodePlan(schedules, settled)


def continue_as_new_input(state: dict[str, Any]) -> tuple[bool, Any]:
    """Whether the episode ended with continue_as_new, and the new input (JSON text)."""
    for action_list in state.get("actions") or []:
        for action in action_list:
            if action.get("actionType") == CONTINUE_AS_NEW_ACTION:
                return True, action.get("input")
    return False, None


def json_text(token: Any) -> str | None:
    """The JSON text the extension keeps for an input token (strings are already JSON text)."""
    if token is None:
        return None
    if isinstance(token, str):
        return token
    return json.dumps(token)
