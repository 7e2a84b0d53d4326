"""The orchestrator under the extension's await semantics (OutOfProcOrchestrationShim, replay schema V3).

The shim awaits the action of each `yield` before it issues the next one, and `Task.WhenAny` of no tasks
throws. The driver models both (`driver.shim_reach`); these tests check that the orchestrator never sends a
WhenAny, never an empty compound other than WhenAll, and that nothing it asks for waits on the extension
(`Run.gated`), over whole runs: both topologies, a failure with rollback, transient retries, a crash drain.
The last two tests show the driver catches both problems in a small orchestrator that has them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import azure.durable_functions as df
import pytest

from provisioning import roles
from tests.orchestrator.conftest import orchestration_input
from tests.orchestrator.driver import START, Run, drive
from tests.orchestrator.history import CALL_ACTIVITY, CALL_SUB_ORCHESTRATOR, CREATE_TIMER, WHEN_ALL, WHEN_ANY
from tests.orchestrator.world import CLUSTER, REGISTRY, FakeAzure

INSTANCE = "setup-shim-tests"


def _peering(world: FakeAzure) -> str:
    return "peering"


def _subnet(world: FakeAzure) -> str:
    return "subnet"


def _failure_and_rollback(world: FakeAzure) -> str:
    world.cluster_delete_polls = 3
    world.fault("ensure_dns_zone_link", "LinkedAuthorizationFailed")
    world.fault("delete_resource", "TooManyRequests", transient=True, times=2,
                when=lambda payload: payload["type"] == REGISTRY)
    return "peering"


def _transient_retries(world: FakeAzure) -> str:
    world.fault("ensure_registry", "TooManyRequests", transient=True, times=3)
    world.fault("get_aks_cluster", "InternalServerError", transient=True, times=2)
    world.fault("ensure_role_assignment", "PrincipalNotFound", transient=True, times=3,
                when=lambda payload: payload["roleDefinitionGuid"] == roles.ACR_PUSH.guid)
    world.peering_lag = 2
    return "peering"


def _crash_while_others_run(world: FakeAzure) -> str:
    world.durations.update({"ensure_aks_network": 20, "ensure_registry": 15})
    world.fault("ensure_hopsworks_network", "KeyError", crash=True)
    return "peering"


RUNS = {
    "peering": _peering,
    "subnet": _subnet,
    "failure and rollback": _failure_and_rollback,
    "transient retries": _transient_retries,
    "activity crash drained": _crash_while_others_run,
}


def _actions(action_list: list[dict]) -> Iterator[dict]:
    for action in action_list:
        yield action
        yield from _actions(action.get("compoundActions") or [])


@pytest.mark.parametrize("label", list(RUNS))
def test_no_when_any_no_empty_compound_and_nothing_waits_on_the_extension(handle, label):
    world = FakeAzure()
    topology = RUNS[label](world)
    run = drive(handle, world, orchestration_input(topology), instance_id=INSTANCE)

    assert run.failed == (label in ("failure and rollback", "activity crash drained")), run.error
    assert "contains no tasks" not in str(run.error)
    assert len(run.action_lists) == len(run.episodes) >= 5
    for instance in run.every_run():  # the setup and its sub-orchestrations
        for action_list in instance.action_lists:
            for action in _actions(action_list):
                assert action["actionType"] != WHEN_ANY, action
                if action["actionType"] == WHEN_ALL:
                    assert action["compoundActions"], action  # never an empty compound
                    continue
                assert action["actionType"] in (CALL_ACTIVITY, CALL_SUB_ORCHESTRATOR, CREATE_TIMER), action
                assert "compoundActions" not in action or action["compoundActions"], action
    assert run.all_gated == []
    if label == "failure and rollback":
        assert [c for c in world.calls_to("delete_resource") if c.input["type"] == CLUSTER]
    if label == "activity crash drained":
        # The round's other calls were waited for (20 s) before the first delete, and rolled back.
        (network,) = world.calls_to("ensure_aks_network")
        assert world.calls_to("delete_resource")[0].time >= network.time + timedelta(seconds=20)
        assert any("/virtualNetworks/hopsaks-vnet" in rid for rid in world.deleted)


def test_each_stage_is_one_when_all_of_only_new_tasks_and_rollback_one_task_at_a_time(handle):
    """A stage's WhenAll carries every task of the stage, each made for it, so the extension's await of it
    ends exactly when the orchestrator resumes; polls and the rollback yield one task at a time."""
    world = FakeAzure()
    world.fault("ensure_dns_zone_link", "LinkedAuthorizationFailed")
    run = drive(handle, world, orchestration_input("peering"), instance_id=INSTANCE)
    assert run.failed

    top_level = run.action_lists[-1]
    stages = [a for a in top_level if a["actionType"] == WHEN_ALL]
    assert stages and all(a["compoundActions"] for a in stages)
    assert [a["functionName"] for a in stages[0]["compoundActions"]] == ["preflight"]
    # Each task belongs to exactly one yield: the flattened actions never repeat a sequence number, so no
    # compound re-lists an older task.
    flat = run.final.actions
    leaves = [len(a["compoundActions"]) if a["actionType"] == WHEN_ALL else 1 for a in top_level]
    assert len(flat) == sum(leaves)
    # From the first delete on, only single tasks: the rollback's deletes and their timers.
    first_delete = next(i for i, a in enumerate(top_level) if a.get("functionName") == "delete_resource")
    rollback = top_level[first_delete:]
    assert all(a["actionType"] in (CALL_ACTIVITY, CREATE_TIMER) for a in rollback)
    called = {a.get("functionName") for a in rollback if a["actionType"] == CALL_ACTIVITY}
    assert called == {"delete_resource"}
    deletes = world.calls_to("delete_resource")
    assert len([a for a in rollback if a.get("functionName") == "delete_resource"]) == len(deletes)


# ---------------------------------------------------------------- the driver sees gating and empty WhenAny


def _gated(context: df.DurableOrchestrationContext):
    slow = context.call_activity("preflight", {}, expected_type=dict)  # 10 s in the world below
    yield context.task_any([slow, context.create_timer(context.current_utc_datetime + timedelta(seconds=1))])
    long_timer = context.create_timer(context.current_utc_datetime + timedelta(seconds=60))
    yield context.task_any([slow, long_timer])  # wins with `slow` at 10 s; its action lists only the timer
    # Asked for at 10 s; the shim still awaits the second WhenAny (the 60 s timer) and issues it at 61 s.
    yield context.call_activity("preflight", {}, expected_type=dict)
    return "done"


def _empty_any(context: df.DurableOrchestrationContext):
    yield context.call_activity("preflight", {}, expected_type=dict)
    waiting = context.task_any([context.create_timer(context.current_utc_datetime + timedelta(seconds=1))])
    waiting.action_repr.compound_tasks.clear()  # SDK 1.7.0 would send no action; force the empty WhenAny
    yield waiting
    return "unreachable"


def test_the_driver_issues_an_action_only_when_the_extension_reaches_it():
    world = FakeAzure(durations={"preflight": 10})
    run: Run = drive(df.Orchestrator.create(_gated), world, {})

    assert not run.failed and run.output == "done"
    first, second = world.calls_to("preflight")
    assert (second.time - START).total_seconds() == 61  # 1 s timer, then the 60 s timer the shim awaits
    assert [(sequence, asked) for sequence, asked, _ in run.gated] == [(3, 2)]


def test_the_driver_fails_the_orchestration_on_an_empty_when_any():
    world = FakeAzure()
    run = drive(df.Orchestrator.create(_empty_any), world, {})

    assert run.failed
    assert "The tasks argument contains no tasks" in run.error
