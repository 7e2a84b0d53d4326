"""`devhost.replay.plan_episode` on hand-written histories: what the shim does with compound actions
that have no children (Task.WhenAll of none completes at once; Task.WhenAny of none throws)."""

from datetime import UTC, datetime

import pytest

from devhost import replay as r

NOW = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)


def _call(name: str) -> dict:
    return {"actionType": r.CALL_ACTIVITY, "functionName": name, "input": "null"}


def _history_with_first_call_done() -> list[dict]:
    return [
        r.history_event(r.ORCHESTRATOR_STARTED, NOW),
        r.history_event(r.EXECUTION_STARTED, NOW, Name="orchestrator", Version="", Input="null"),
        r.history_event(r.TASK_SCHEDULED, NOW, 0, Name="first", Version="", Input="null"),
        r.history_event(r.ORCHESTRATOR_COMPLETED, NOW),
        r.history_event(r.ORCHESTRATOR_STARTED, NOW),
        r.history_event(r.TASK_COMPLETED, NOW, TaskScheduledId=0, Result='"ok"'),
    ]


def test_an_empty_when_all_completes_at_once_and_the_next_action_is_scheduled():
    actions = [_call("first"), {"actionType": r.WHEN_ALL, "compoundActions": []}, _call("second")]
    plan = r.plan_episode("i", _history_with_first_call_done(), {"actions": [actions]})

    assert [(s.kind, s.name, s.event["EventId"]) for s in plan.schedules] == [("activity", "second", 1)]
    assert not plan.settled


def test_an_empty_when_any_throws_when_the_shim_reaches_it():
    actions = [_call("first"), {"actionType": r.WHEN_ANY, "compoundActions": []}, _call("second")]
    with pytest.raises(r.ReplayFailed, match="The tasks argument contains no tasks"):
        r.plan_episode("i", _history_with_first_call_done(), {"actions": [actions]})
    # Not before: while `first` runs, the shim is still awaiting it and has not invoked the WhenAny.
    plan = r.plan_episode("i", _history_with_first_call_done()[:4], {"actions": [actions]})
    assert plan.schedules == [] and not plan.settled


def test_a_when_any_with_children_is_unaffected():
    actions = [_call("first"), {"actionType": r.WHEN_ANY, "compoundActions": [_call("second")]}]
    plan = r.plan_episode("i", _history_with_first_call_done(), {"actions": [actions]})
    assert [(s.name, s.event["EventId"]) for s in plan.schedules] == [("second", 1)]
