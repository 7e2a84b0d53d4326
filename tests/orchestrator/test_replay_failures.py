"""The orchestrator through the real replay engine: transient faults, permanent failures and rollback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from provisioning import errors, roles
from tests.orchestrator.conftest import orchestration_input
from tests.orchestrator.driver import START, Run, drive
from tests.orchestrator.world import (
    CLUSTER,
    IDENTITY,
    PEERING,
    REGISTRY,
    ROLE_ASSIGNMENT,
    SUBNET,
    VNET,
    FakeAzure,
)

INSTANCE = "setup-failure-tests"


def backoff(attempt: int, step: str) -> float:
    return errors.backoff_seconds(attempt, 5, 120, f"{INSTANCE}|{step}")


def run_id_of(world: FakeAzure) -> str:
    return world.calls[0].input["runId"]


def assert_rolled_back_exactly_what_the_run_created(world: FakeAzure) -> None:
    run_id = run_id_of(world)
    created = [rid for rid in world.created_log if world.known[rid.casefold()].run_id == run_id]
    assert sorted(world.deleted) == sorted(created)
    assert not world.created_by(run_id), "something this run created is still there"
    # A resource goes before everything it depends on (vnet after its subnets, peerings, cluster ...).
    position = {rid.casefold(): index for index, rid in enumerate(world.deleted)}
    for rid in world.deleted:
        for dependency in world.known[rid.casefold()].depends_on:
            if dependency.casefold() in position:
                assert position[rid.casefold()] < position[dependency.casefold()], (rid, dependency)


def assert_no_new_work_after(world: FakeAzure, failed_at) -> None:
    later = {call.activity for call in world.calls if call.time > failed_at}
    assert later <= {"delete_resource"}, later


@dataclass
class Scenario:
    label: str
    topology: str
    step: str
    code: str
    activity: str | None = None
    when: object = None
    skip: int = 0
    cluster_fails: bool = False


def _guid_is(role: roles.BuiltInRole):
    return lambda payload: payload["roleDefinitionGuid"] == role.guid


def _kubelet_acr_pull(payload: dict) -> bool:
    """AcrPull on the registry (the identity's own AcrPull is at resource group scope)."""
    return payload["roleDefinitionGuid"] == roles.ACR_PULL.guid and "/registries/" in payload["scope"]


SCENARIOS = [
    Scenario("preflight", "peering", "preflight", "PreflightFailed", "preflight"),
    Scenario("identity", "peering", "identity", "AuthorizationFailed", "ensure_identity"),
    Scenario("identity_roles", "peering", "identity_roles", "RoleAssignmentLimitExceeded",
             "ensure_role_assignment", when=_guid_is(roles.ACR_DELETE)),
    Scenario("aks_network", "peering", "aks_network", "InvalidAddressPrefix", "ensure_aks_network"),
    Scenario("aks_cluster begin", "peering", "aks_cluster", "QuotaExceeded", "begin_aks_cluster"),
    Scenario("aks_cluster failed", "peering", "aks_cluster", "VMExtensionProvisioningError",
             cluster_fails=True),
    Scenario("aks_network_role", "peering", "aks_network_role", "AuthorizationFailed",
             "ensure_role_assignment", when=_guid_is(roles.NETWORK_CONTRIBUTOR)),
    Scenario("acr", "peering", "acr", "AlreadyInUse", "ensure_registry"),
    Scenario("acr_retention", "peering", "acr_retention", "InvalidPolicy", "ensure_retention_policy"),
    Scenario("acr_pull", "peering", "acr_pull", "AuthorizationFailed", "ensure_role_assignment",
             when=_kubelet_acr_pull),
    Scenario("hopsworks_network", "peering", "hopsworks_network", "InUseSubnetCannotBeDeleted",
             "ensure_hopsworks_network"),
    Scenario("peering first side", "peering", "peering", "VnetAddressSpacesOverlap", "ensure_peering"),
    Scenario("peering second side", "peering", "peering", "VnetAddressSpacesOverlap", "ensure_peering",
             skip=1),
    Scenario("dns_link", "peering", "dns_link", "LinkedAuthorizationFailed", "ensure_dns_zone_link"),
    Scenario("subnet: aks_network", "subnet", "aks_network", "NetcfgSubnetRangeOutsideVnet",
             "ensure_aks_network"),
    Scenario("subnet: aks_cluster failed", "subnet", "aks_cluster", "VMExtensionProvisioningError",
             cluster_fails=True),
    Scenario("subnet: acr_pull", "subnet", "acr_pull", "AuthorizationFailed", "ensure_role_assignment",
             when=_kubelet_acr_pull),
]


def run_scenario(handle, scenario: Scenario, world: FakeAzure | None = None) -> tuple[Run, FakeAzure]:
    world = world or FakeAzure(cluster_fails=scenario.cluster_fails)
    if scenario.activity:
        world.fault(scenario.activity, scenario.code, when=scenario.when, skip=scenario.skip,
                    message=f"{scenario.code} from the scripted world")
    run = drive(handle, world, orchestration_input(scenario.topology), instance_id=INSTANCE)
    return run, world


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.label for s in SCENARIOS])
def test_a_permanent_failure_at_each_step_rolls_back_exactly_what_the_run_created(handle, scenario):
    run, world = run_scenario(handle, scenario)

    assert run.failed
    assert f"step {scenario.step}: {scenario.code}" in run.error
    assert_rolled_back_exactly_what_the_run_created(world)
    for rid in world.deleted:
        assert rid in run.error
    assert "Left behind: nothing" in run.error
    if not world.deleted:
        assert "Rolled back: nothing" in run.error
    # The failing call was made once (permanent: no retry), and nothing new started after its answer.
    failing = [c for c in world.calls if c.activity == (scenario.activity or "get_aks_cluster")]
    failed_at = failing[-1].time + timedelta(seconds=world.activity_seconds)
    assert_no_new_work_after(world, failed_at)

    status = run.custom_status
    assert status["error"] == {"step": scenario.step, "code": scenario.code}
    assert status["steps"][scenario.step] == "failed"
    others = {state for name, state in status["steps"].items() if name != scenario.step}
    assert others <= {"pending", "rolled_back"}
    started = {c.activity for c in world.calls}
    assert ("rolled_back" in others) == (started - {"preflight", "delete_resource"} != set())


def test_rollback_order_after_a_late_failure_is_reverse_dependency_then_reverse_creation(handle):
    run, world = run_scenario(handle, SCENARIOS[[s.label for s in SCENARIOS].index("dns_link")])

    assert [world.known[rid.casefold()].type for rid in world.deleted] == [
        PEERING, PEERING,                  # peering: AKS side (made second), then Hopsworks side
        SUBNET, VNET,                      # hopsworks_network
        ROLE_ASSIGNMENT,                   # acr_pull
        REGISTRY,                          # acr
        ROLE_ASSIGNMENT,                   # aks_network_role
        CLUSTER,                           # aks_cluster
        SUBNET, VNET,                      # aks_network
        ROLE_ASSIGNMENT, ROLE_ASSIGNMENT, ROLE_ASSIGNMENT, ROLE_ASSIGNMENT,  # identity_roles, reversed
        IDENTITY,
    ]
    assert world.deleted[0].endswith("/hopsaks-vnet/virtualNetworkPeerings/hopsaks-vnet-to-hopsworks-vnet")
    created_identity_roles = [rid for rid in world.created_log if "/roleAssignments/" in rid][:4]
    assert world.deleted[10:14] == list(reversed(created_identity_roles))
    assert run.custom_status["steps"] == {
        "preflight": "rolled_back", "identity": "rolled_back", "identity_roles": "rolled_back",
        "aks_network": "rolled_back", "aks_cluster": "rolled_back", "aks_network_role": "rolled_back",
        "acr": "rolled_back", "acr_retention": "rolled_back", "acr_pull": "rolled_back",
        "hopsworks_network": "rolled_back", "peering": "rolled_back", "dns_link": "failed"}
    assert run.custom_status["done"] == 0


def test_the_failure_message_names_step_code_message_and_what_was_rolled_back(handle):
    run, world = run_scenario(handle, SCENARIOS[[s.label for s in SCENARIOS].index("acr_pull")])

    assert run.error.startswith(
        "Setup failed at step acr_pull: AuthorizationFailed: AuthorizationFailed from the scripted world.")
    assert f"Rolled back {len(world.deleted)} resource(s) this run created: " in run.error
    assert ", ".join(world.deleted) in run.error
    assert run.error.endswith("Left behind: nothing.")


def test_preflight_failure_creates_nothing_and_calls_nothing_else(handle):
    run, world = run_scenario(handle, SCENARIOS[0])

    assert [c.activity for c in world.calls] == ["preflight"]
    assert not world.created_log and not world.deleted
    assert run.custom_status["steps"]["preflight"] == "failed"
    assert set(run.custom_status["steps"].values()) == {"failed", "pending"}
    assert "Rolled back: nothing" in run.error


def test_work_in_flight_at_the_failure_is_drained_and_its_resources_rolled_back(handle):
    world = FakeAzure(durations={"ensure_aks_network": 20, "ensure_hopsworks_network": 25})
    world.fault("ensure_identity", "AuthorizationFailed")
    run = drive(handle, world, orchestration_input("peering"), instance_id=INSTANCE)

    assert run.failed and "step identity: AuthorizationFailed" in run.error
    identity_failed_at = world.calls_to("ensure_identity")[0].time + timedelta(seconds=1)
    network_done_at = world.calls_to("ensure_hopsworks_network")[0].time + timedelta(seconds=25)
    deletes = world.calls_to("delete_resource")
    assert deletes and deletes[0].time >= network_done_at > identity_failed_at  # waited for the drain
    # The vnets finished after the failure: they are rolled back, and nothing that needs them started.
    assert {world.known[rid.casefold()].type for rid in world.deleted} >= {VNET, SUBNET}
    assert not world.calls_to("begin_aks_cluster") and not world.calls_to("ensure_peering")
    assert_rolled_back_exactly_what_the_run_created(world)


def test_resources_that_existed_before_the_run_are_never_deleted(handle):
    world = FakeAzure()
    base = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/hopsworks-rg/providers"
    existing = [
        (f"{base}/Microsoft.Network/virtualNetworks/hopsworks-vnet", VNET),
        (f"{base}/Microsoft.Network/virtualNetworks/hopsworks-vnet/subnets/default", SUBNET),
        (f"{base}/Microsoft.ContainerRegistry/registries/hopsworksaks", REGISTRY),
        (f"{base}/Microsoft.ManagedIdentity/userAssignedIdentities/hopsworks-identity", IDENTITY),
    ]
    for rid, rtype in existing:
        world.add_existing(rid, rtype)
    world.fault("ensure_dns_zone_link", "LinkedAuthorizationFailed")
    run = drive(handle, world, orchestration_input("peering"), instance_id=INSTANCE)

    assert run.failed
    for rid, _ in existing:
        assert rid.casefold() in world.resources
        assert rid not in world.deleted
        assert not [c for c in world.calls_to("delete_resource") if c.input["id"] == rid]
    assert_rolled_back_exactly_what_the_run_created(world)
    assert world.deleted  # the roles, cluster, AKS vnet and peerings it did create are gone


def test_a_rerun_that_fails_over_finished_work_deletes_nothing(handle):
    world = FakeAzure()
    first = drive(handle, world, orchestration_input("peering"), instance_id=INSTANCE)
    assert not first.failed
    everything = set(world.resources)

    world.fault("ensure_role_assignment", "AuthorizationFailed", when=_kubelet_acr_pull)
    second = drive(handle, world, orchestration_input("peering"), instance_id=INSTANCE,
                   start=START.replace(hour=16))

    assert second.failed and "step acr_pull: AuthorizationFailed" in second.error
    assert not world.calls_to("delete_resource") and not world.deleted
    assert set(world.resources) == everything
    assert "Rolled back: nothing" in second.error


def test_transient_failures_are_retried_on_timers_with_exponential_backoff(handle):
    world = FakeAzure()
    world.fault("ensure_registry", "TooManyRequests", transient=True, times=3)
    run = drive(handle, world, orchestration_input("peering"), instance_id=INSTANCE)

    assert not run.failed, run.error
    calls = world.calls_to("ensure_registry")
    assert len(calls) == 4
    timers = [(e.time, at) for e in run.episodes for name, at in e.scheduled if name == "timer"]
    waited = []
    for attempt, (earlier, later) in enumerate(zip(calls, calls[1:], strict=False), start=1):
        answered = earlier.time + timedelta(seconds=world.activity_seconds)
        # Retry number `attempt` waits on a durable timer of exactly the backoff, made once the transient
        # answer is in, and the call goes again only after that timer fired (the round that holds the timer
        # can last longer: lock-step rounds).
        (retry_timer,) = [(made, at) for made, at in timers if answered <= made < later.time
                          and (at - made).total_seconds() == pytest.approx(backoff(attempt, "acr"), abs=1e-3)]
        assert retry_timer[1] <= later.time
        waited.append((retry_timer[1] - retry_timer[0]).total_seconds())
        gap = (later.time - earlier.time).total_seconds()
        assert gap >= world.activity_seconds + backoff(attempt, "acr") - 1e-3
    assert waited[0] < waited[1] < waited[2]  # backoff grows


def test_transient_failures_give_up_after_the_attempt_budget(handle):
    world = FakeAzure()
    world.fault("ensure_retention_policy", "ServiceUnavailable", transient=True, times=100)
    run = drive(handle, world, orchestration_input("subnet", retryMaxAttempts=4), instance_id=INSTANCE)

    assert run.failed and "step acr_retention: ServiceUnavailable" in run.error
    assert len(world.calls_to("ensure_retention_policy")) == 4
    assert_rolled_back_exactly_what_the_run_created(world)


def test_transient_faults_while_watching_the_cluster_and_granting_roles_are_ridden_out(handle):
    world = FakeAzure()
    world.fault("get_aks_cluster", "InternalServerError", transient=True, times=2)
    world.fault("ensure_role_assignment", "PrincipalNotFound", transient=True, times=3,
                when=_guid_is(roles.ACR_PUSH))
    run = drive(handle, world, orchestration_input("peering"), instance_id=INSTANCE)

    assert not run.failed, run.error
    assert not world.deleted
    pushes = [c for c in world.calls_to("ensure_role_assignment") if c.input["roleDefinitionGuid"] ==
              roles.ACR_PUSH.guid]
    assert len(pushes) == 4


def test_an_activity_that_raises_is_a_permanent_activity_crashed_failure(handle):
    world = FakeAzure()
    world.fault("ensure_hopsworks_network", "KeyError", crash=True, times=5)
    run = drive(handle, world, orchestration_input("peering"), instance_id=INSTANCE)

    assert run.failed
    assert "step hopsworks_network: ActivityCrashed" in run.error
    assert "Traceback" not in run.error
    assert len(world.calls_to("ensure_hopsworks_network")) == 1
    assert run.custom_status["error"] == {"step": "hopsworks_network", "code": "ActivityCrashed"}
    assert_rolled_back_exactly_what_the_run_created(world)


def test_a_delete_that_fails_transiently_is_retried(handle):
    world = FakeAzure()
    world.fault("delete_resource", "TooManyRequests", transient=True, times=2,
                when=lambda payload: payload["type"] == REGISTRY)
    run, world = run_scenario(handle, SCENARIOS[[s.label for s in SCENARIOS].index("acr_pull")], world)

    registry_deletes = [c for c in world.calls_to("delete_resource") if c.input["type"] == REGISTRY]
    assert len(registry_deletes) == 3
    assert_rolled_back_exactly_what_the_run_created(world)
    assert "Left behind: nothing" in run.error


def test_a_delete_that_fails_permanently_is_reported_as_left_behind(handle):
    world = FakeAzure()
    world.fault("delete_resource", "ScopeLocked", when=lambda payload: payload["type"] == IDENTITY)
    run, world = run_scenario(handle, SCENARIOS[[s.label for s in SCENARIOS].index("acr_pull")], world)

    identity_id = next(rid for rid in world.created_log if world.known[rid.casefold()].type == IDENTITY)
    assert identity_id.casefold() in world.resources
    assert f"Left behind 1 resource(s) that could not be removed: {identity_id} (ScopeLocked)" in run.error
    assert identity_id not in run.error.split("Left behind")[0]
    assert set(world.deleted) == {rid for rid in world.created_log if rid != identity_id}
    assert run.custom_status["steps"]["identity"] == "succeeded"  # its identity still stands
    assert run.custom_status["steps"]["identity_roles"] == "rolled_back"


def test_a_child_whose_delete_failed_is_not_left_behind_once_its_parent_is_deleted(handle):
    # Deleting a vnet deletes its subnets: a subnet whose own delete failed for good is gone with it.
    world = FakeAzure()
    world.fault("delete_resource", "AuthorizationFailed", times=99,
                when=lambda payload: payload["type"] == SUBNET)
    run, world = run_scenario(handle, SCENARIOS[[s.label for s in SCENARIOS].index("acr_pull")], world)

    subnets = [rid for rid in world.created_log if world.known[rid.casefold()].type == SUBNET]
    assert subnets
    assert not any(rid.casefold() in world.resources for rid in subnets)
    assert "Left behind: nothing" in run.error
    assert all(rid in run.error.split("Left behind")[0] for rid in subnets)
    assert run.custom_status["steps"]["aks_network"] == "rolled_back"


def test_a_cluster_delete_is_called_again_on_timers_until_done(handle):
    world = FakeAzure(cluster_delete_polls=3)
    run, world = run_scenario(handle, SCENARIOS[[s.label for s in SCENARIOS].index("acr_pull")], world)

    cluster_deletes = [c for c in world.calls_to("delete_resource") if c.input["type"] == CLUSTER]
    assert len(cluster_deletes) == 4
    gaps = [(b.time - a.time).total_seconds() for a, b in zip(cluster_deletes, cluster_deletes[1:],
                                                                strict=False)]
    assert all(gap >= 30 for gap in gaps)
    assert_rolled_back_exactly_what_the_run_created(world)


def test_a_cluster_that_never_finishes_times_out_and_is_rolled_back(handle):
    world = FakeAzure(cluster_seconds=7200)
    run = drive(handle, world, orchestration_input("subnet", clusterTimeoutSeconds=300), instance_id=INSTANCE)

    assert run.failed and "step aks_cluster: ClusterTimeout" in run.error
    reads = world.calls_to("get_aks_cluster")
    assert 9 <= len(reads) <= 10  # ~300 s of 30 s intervals
    assert CLUSTER in {world.known[rid.casefold()].type for rid in world.deleted}
    assert_rolled_back_exactly_what_the_run_created(world)


def test_custom_status_at_points_of_a_run(handle):
    world = FakeAzure()
    world.fault("ensure_peering", "VnetAddressSpacesOverlap")
    run = drive(handle, world, orchestration_input("peering"), instance_id=INSTANCE)

    first, second = run.episodes[0].custom_status, run.episodes[1].custom_status
    assert first == {"topology": "peering", "done": 0, "total": 12, "steps": {
        "preflight": "running", "identity": "pending", "identity_roles": "pending", "aks_network": "pending",
        "aks_cluster": "pending", "aks_network_role": "pending", "acr": "pending", "acr_retention": "pending",
        "acr_pull": "pending", "hopsworks_network": "pending", "peering": "pending", "dns_link": "pending"}}
    assert second["done"] == 1 and second["steps"]["preflight"] == "succeeded"
    assert {n for n, s in second["steps"].items() if s == "running"} == {
        "identity", "aks_network", "hopsworks_network"}
    # While the cluster watch (a sub-orchestration) reads the cluster, the setup shows it running.
    watching = [e.custom_status for e in run.episodes
                if "setup_cluster_watch" in [name for name, _ in e.scheduled]]
    watch = next(r for r in run.children.values() if r.history.orchestrator_name == "setup_cluster_watch")
    assert any("get_aks_cluster" in [name for name, _ in e.scheduled] for e in watch.episodes)
    assert watching and all(s["steps"]["aks_cluster"] == "running" for s in watching)
    final = run.custom_status
    assert final["error"] == {"step": "peering", "code": "VnetAddressSpacesOverlap"}
    assert final["steps"]["peering"] == "failed"
    for status in [e.custom_status for e in run.episodes]:
        assert status  # never falsy: the host would drop it
        assert set(status) <= {"topology", "steps", "done", "total", "error"}
        text = str(status)
        assert len(text) < 1000
        for secret_marker in ("http", "code=", "sig=", "key", "token", "/subscriptions/"):
            assert secret_marker not in text.lower()


def test_peerings_are_confirmed_connected_by_re_reading_with_backoff(handle):
    world = FakeAzure(peering_lag=2)
    run = drive(handle, world, orchestration_input("peering"), instance_id=INSTANCE)

    assert not run.failed, run.error
    peerings = world.calls_to("ensure_peering")
    assert len(peerings) == 4  # one per side, then the Hopsworks side re-read until Connected
    assert peerings[2].input == peerings[0].input == peerings[3].input
    assert (peerings[3].time - peerings[2].time).total_seconds() > (peerings[2].time - peerings[1].time
                                                                    ).total_seconds() > 1


def test_peerings_that_never_connect_fail_the_step_and_are_rolled_back(handle):
    world = FakeAzure(peering_lag=1000)
    run = drive(handle, world, orchestration_input("peering", retryMaxAttempts=3), instance_id=INSTANCE)

    assert run.failed and "step peering: PeeringNotConnected" in run.error
    assert [world.known[rid.casefold()].type for rid in world.deleted].count(PEERING) == 2
    assert_rolled_back_exactly_what_the_run_created(world)


def test_a_transient_answer_drained_after_the_failure_is_not_retried_nor_reported(handle):
    world = FakeAzure(durations={"ensure_aks_network": 10})
    world.fault("ensure_aks_network", "TooManyRequests", transient=True)
    world.fault("ensure_identity", "AuthorizationFailed")
    run = drive(handle, world, orchestration_input("subnet"), instance_id=INSTANCE)

    assert run.failed and "step identity: AuthorizationFailed" in run.error
    assert "also failed" not in run.error
    assert len(world.calls_to("ensure_aks_network")) == 1
    assert run.custom_status["error"] == {"step": "identity", "code": "AuthorizationFailed"}
    assert_rolled_back_exactly_what_the_run_created(world)


def test_a_cluster_still_being_created_is_waited_for_then_deleted_not_left_behind(handle):
    """Issue #9: deleting a cluster that is still Creating answers 409 OperationNotAllowed. Rollback waits on
    durable timers for it (bounded by the cluster timeout), not on the retry budget, so it is not left."""
    world = FakeAzure(cluster_seconds=600, cluster_busy_until_ready=True)
    world.fault("ensure_registry", "AlreadyInUse")  # fails while the cluster has just started
    run = drive(handle, world, orchestration_input("subnet", retryMaxAttempts=3), instance_id=INSTANCE)

    assert run.failed and "step acr: AlreadyInUse" in run.error
    cluster_deletes = [c for c in world.calls_to("delete_resource") if c.input["type"] == CLUSTER]
    assert len(cluster_deletes) > 3  # more than the retry budget allows
    assert cluster_deletes[-1].time >= world.cluster_ready_at
    gaps = [(b.time - a.time).total_seconds() for a, b in zip(cluster_deletes, cluster_deletes[1:],
                                                                strict=False)]
    assert all(gap >= 30 for gap in gaps)  # the poll interval, not a growing backoff
    assert "Left behind: nothing" in run.error
    assert_rolled_back_exactly_what_the_run_created(world)
    assert not world.calls_to("get_aks_cluster")  # after the failure only deletes


def test_a_cluster_that_stays_busy_past_the_cluster_timeout_is_reported_left_behind(handle):
    world = FakeAzure(cluster_seconds=7200, cluster_busy_until_ready=True)
    world.fault("ensure_registry", "AlreadyInUse")
    run = drive(handle, world, orchestration_input("subnet", clusterTimeoutSeconds=300), instance_id=INSTANCE)

    assert run.failed
    cluster_id = next(rid for rid in world.created_log if world.known[rid.casefold()].type == CLUSTER)
    assert f"{cluster_id} (DeleteTimeout)" in run.error
    cluster_deletes = [c for c in world.calls_to("delete_resource") if c.input["type"] == CLUSTER]
    assert 300 <= (cluster_deletes[-1].time - cluster_deletes[0].time).total_seconds() <= 300 + 2 * 30


def test_a_peering_chain_failure_reaches_the_setup_with_its_resources(handle):
    """The peering chain (a sub-orchestration) answers its failure and what it made; the setup rolls back
    both sides' resources and reports the chain's step and code."""
    world = FakeAzure(peering_lag=1000)
    run = drive(handle, world, orchestration_input("peering", retryMaxAttempts=3), instance_id=INSTANCE)

    assert run.failed and "step peering: PeeringNotConnected" in run.error
    (chain,) = [r for r in run.children.values() if r.history.orchestrator_name == "setup_peering_chain"]
    assert not chain.failed
    assert {e["EventType"] for e in run.history.events} >= {7, 8}  # SubOrchestrationInstanceCreated/Completed
    assert run.custom_status["steps"]["peering"] == "failed"
    assert_rolled_back_exactly_what_the_run_created(world)


def test_a_peering_chain_whose_activity_raises_is_drained_and_reported(handle):
    world = FakeAzure()
    world.fault("ensure_peering", "KeyError", crash=True, skip=1)  # the second side raises
    run = drive(handle, world, orchestration_input("peering"), instance_id=INSTANCE)

    assert run.failed and "step peering: ActivityCrashed" in run.error
    assert "Traceback" not in run.error
    assert [world.known[rid.casefold()].type for rid in world.deleted].count(PEERING) == 1
    assert_rolled_back_exactly_what_the_run_created(world)


def test_a_cluster_create_that_ended_failed_for_a_passing_cause_is_put_again_and_watched(handle):
    """get_aks_cluster answers a Failed create of this run's cluster as transient (with provisioningState):
    the setup PUTs it again (begin_aks_cluster, AKS's reconcile) instead of re-reading a Failed cluster."""
    world = FakeAzure(cluster_seconds=120, cluster_failed_creates=1)
    run = drive(handle, world, orchestration_input("subnet"), instance_id=INSTANCE)

    assert not run.failed, run.error
    begins = world.calls_to("begin_aks_cluster")
    assert len(begins) == 2
    reads = world.calls_to("get_aks_cluster")
    assert reads[-1].time >= begins[1].time + timedelta(seconds=120)
    assert not world.deleted


def test_a_cluster_create_that_keeps_ending_failed_gives_up_after_the_retry_budget(handle):
    world = FakeAzure(cluster_seconds=60, cluster_failed_creates=100)
    run = drive(handle, world, orchestration_input("subnet", retryMaxAttempts=3), instance_id=INSTANCE)

    assert run.failed and "step aks_cluster: OperationPreempted" in run.error
    assert len(world.calls_to("begin_aks_cluster")) == 3
    assert_rolled_back_exactly_what_the_run_created(world)
