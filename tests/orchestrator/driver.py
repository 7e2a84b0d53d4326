"""Drive an orchestrator through the real replay engine against a scripted world, episode by episode.

Each episode: OrchestratorStarted, the completions due now (TaskCompleted / TaskFailed / TimerFired), a
replay of the whole history, then the new actions recorded as TaskScheduled / TimerCreated and
OrchestratorCompleted, like DTFx does. Activities are answered by the world when scheduled and complete
`activity_seconds` later; timers fire at their `fireAt`. Completions due at the same instant land in one
episode. Before appending, every replay's actions are checked against the ones already in the history
(the non-determinism check DTFx makes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.orchestrator.history import CALL_ACTIVITY, CREATE_TIMER, HistoryBuilder, Replay, replay
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
    recorded: list[dict] = []
    pending: list[tuple[datetime, int, str, Any]] = []  # (due, sequence, kind, payload)
    woke_by: list[str] = ["start"]
    for _ in range(max_episodes):
        answer = replay(handle, history)
        actions = answer.actions
        if actions[: len(recorded)] != recorded:
            raise NonDeterminism(f"replay changed earlier actions at episode {len(run.episodes)}")
        scheduled = []
        for sequence in range(len(recorded), len(actions)):
            action = actions[sequence]
            if action["actionType"] == CALL_ACTIVITY:
                name, input_json = action["functionName"], action["input"]
                history.task_scheduled(now, sequence, name, input_json)
                payload = json.loads(input_json)
                result, seconds = world.answer(now, name, payload)
                pending.append((now + timedelta(seconds=seconds), sequence, name, result))
                scheduled.append((name, payload))
            elif action["actionType"] == CREATE_TIMER:
                fire_at = action["fireAt"]
                history.timer_created(now, sequence, fire_at)
                pending.append((parse_fire_at(fire_at), sequence, "timer", fire_at))
                scheduled.append(("timer", parse_fire_at(fire_at)))
            else:
                raise AssertionError(f"unexpected action {action}")
        recorded = actions
        run.episodes.append(Episode(now, woke_by, scheduled, answer.custom_status))
        history.orchestrator_completed(now)
        if answer.done:
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
            if kind == "timer":
                history.timer_fired(now, sequence, payload)
            elif isinstance(payload, Crash):
                history.task_failed(now, sequence, payload.reason, payload.details)
            else:
                history.task_completed(now, sequence, payload)
    raise AssertionError("the orchestration did not finish")
