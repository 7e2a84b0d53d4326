"""Orchestration histories of the shape the Functions host sends, and one replay of an orchestrator over them.

The host (Durable extension, out-of-proc, replay schema V3) calls the orchestrator with a JSON context:
`history` (DTFx history events, PascalCase fields, `IsPlayed` true for events of earlier episodes), `input`,
`instanceId`, `isReplaying`, `upperSchemaVersion`=1 (V2) with `upperSchemaVersionNew`=2 (V3), and the timer
limits. The orchestrator answers a JSON state: `isDone`, `schemaVersion`, `actions` (every action since the
start, one list; `WhenAny`/`WhenAll` nest theirs in `compoundActions`), `output`, `customStatus`; or raises
with the state appended after `$OutOfProcData$:` when the orchestration failed.

An action's position in the flattened action list is its sequence number: the `EventId` of its
`TaskScheduled`/`TimerCreated` event and the `TaskScheduledId`/`TimerId` of the event that completes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# DTFx HistoryEventType values
EXECUTION_STARTED = 0
EXECUTION_COMPLETED = 1
EXECUTION_FAILED = 2
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

# out-of-proc ActionType values
CALL_ACTIVITY = 0
CALL_SUB_ORCHESTRATOR = 2
CREATE_TIMER = 5
WHEN_ANY = 11
WHEN_ALL = 12

OUT_OF_PROC_MARKER = "$OutOfProcData$:"


def timestamp(moment: datetime) -> str:
    """The host's (Newtonsoft) rendering of a UTC DateTime: 7 fractional digits and `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


@dataclass
class HistoryBuilder:
    """Builds one orchestration instance's history, episode by episode."""

    instance_id: str
    orchestrator_name: str
    input: Any
    version: str = ""
    parent_instance_id: str | None = None
    events: list[dict] = field(default_factory=list)
    _episode_start: int = 0

    def _event(self, event_type: int, moment: datetime, event_id: int = -1, **fields: Any) -> dict:
        event = {"EventType": event_type, "EventId": event_id, "IsPlayed": False,
                 "Timestamp": timestamp(moment), **fields}
        self.events.append(event)
        return event

    def begin_episode(self, moment: datetime) -> None:
        """OrchestratorStarted: what follows up to the orchestrator's decisions is new to it."""
        for event in self.events:
            event["IsPlayed"] = True
        self._episode_start = len(self.events)
        self._event(ORCHESTRATOR_STARTED, moment)

    def execution_started(self, moment: datetime) -> None:
        self._event(
            EXECUTION_STARTED, moment,
            OrchestrationInstance={"InstanceId": self.instance_id, "ExecutionId": "0" * 32},
            ParentInstance=None if self.parent_instance_id is None else {
                "Name": None, "OrchestrationInstance": {"InstanceId": self.parent_instance_id}},
            Name=self.orchestrator_name, Version=self.version,
            Input=json.dumps(self.input), Tags=None,
        )

    def task_scheduled(self, moment: datetime, sequence: int, name: str, input_json: str) -> None:
        self._event(TASK_SCHEDULED, moment, sequence, Name=name, Version="", Input=input_json)

    def task_completed(self, moment: datetime, sequence: int, result: Any) -> None:
        self._event(TASK_COMPLETED, moment, TaskScheduledId=sequence, Result=json.dumps(result))

    def task_failed(self, moment: datetime, sequence: int, reason: str, details: str) -> None:
        self._event(TASK_FAILED, moment, TaskScheduledId=sequence, Reason=reason, Details=details)

    def sub_orchestration_created(
        self, moment: datetime, sequence: int, name: str, instance_id: str, input_json: str
    ) -> None:
        self._event(SUB_ORCHESTRATION_INSTANCE_CREATED, moment, sequence, Name=name, Version="",
                    InstanceId=instance_id, Input=input_json)

    def sub_orchestration_completed(self, moment: datetime, sequence: int, result: Any) -> None:
        self._event(SUB_ORCHESTRATION_INSTANCE_COMPLETED, moment, TaskScheduledId=sequence,
                    Result=json.dumps(result))

    def sub_orchestration_failed(self, moment: datetime, sequence: int, reason: str, details: str) -> None:
        self._event(SUB_ORCHESTRATION_INSTANCE_FAILED, moment, TaskScheduledId=sequence, Reason=reason,
                    Details=details)

    def timer_created(self, moment: datetime, sequence: int, fire_at: str) -> None:
        self._event(TIMER_CREATED, moment, sequence, FireAt=fire_at)

    def timer_fired(self, moment: datetime, sequence: int, fire_at: str) -> None:
        self._event(TIMER_FIRED, moment, TimerId=sequence, FireAt=fire_at)

    def orchestrator_completed(self, moment: datetime) -> None:
        self._event(ORCHESTRATOR_COMPLETED, moment)

    def execution_completed(self, moment: datetime, failed: bool, result: Any) -> None:
        self._event(EXECUTION_COMPLETED, moment, OrchestrationStatus=3 if failed else 1,
                    Result=json.dumps(result))

    def context_json(self) -> str:
        """The trigger payload the host sends (OrchestrationTriggerAttributeBindingProvider)."""
        return json.dumps({
            "history": self.events,
            "input": self.input,
            "instanceId": self.instance_id,
            "isReplaying": self._episode_start > 0,
            "parentInstanceId": self.parent_instance_id,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
            "longRunningTimerIntervalDuration": "3.00:00:00",
            "maximumShortTimerDuration": "6.00:00:00",
            "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
        })


@dataclass
class Replay:
    """What one call of the orchestrator answered."""

    state: dict
    failed: bool
    error: str | None

    @property
    def done(self) -> bool:
        return bool(self.state.get("isDone")) or self.failed

    @property
    def actions(self) -> list[dict]:
        """Every action since the start, flattened in sequence-number order."""
        flat: list[dict] = []

        def walk(action: dict) -> None:
            if action["actionType"] in (WHEN_ANY, WHEN_ALL):
                for child in action["compoundActions"]:
                    walk(child)
            else:
                flat.append(action)

        for group in self.state.get("actions", []):
            for action in group:
                walk(action)
        return flat

    @property
    def custom_status(self) -> Any:
        return self.state.get("customStatus")

    @property
    def output(self) -> Any:
        return self.state.get("output")


def replay(handle: Callable[[str], str], history: HistoryBuilder) -> Replay:
    """Call the orchestrator handle (as the Python worker does) with the history's context JSON."""
    try:
        answer = handle(history.context_json())
    except Exception as failure:  # the SDK raises when the orchestration raised; the state rides along
        text = str(failure)
        if OUT_OF_PROC_MARKER not in text:
            raise
        message, state_json = text.split(OUT_OF_PROC_MARKER, 1)
        state = json.loads(state_json)
        return Replay(state, True, state.get("error") or message.strip())
    return Replay(json.loads(answer), False, None)
