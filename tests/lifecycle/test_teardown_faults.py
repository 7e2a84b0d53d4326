"""Faults during a teardown, as in the fault matrix: a transient fault on every delete is retried away; a
permanent one leaves the teardown Failed naming what is left, and a second teardown finishes the job; a host
killed in the middle of a teardown resumes it."""

from __future__ import annotations

import time

from tests.lifecycle.helpers import hold_registry, ids, scoped_fault, start_teardown, teardown
from tests.reliability.harness import Lab, Target

DELETED_TYPES = (
    "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
    "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
    "Microsoft.Authorization/roleAssignments",
    "Microsoft.ContainerService/managedClusters",
    "Microsoft.ContainerRegistry/registries",
    "Microsoft.Network/virtualNetworks",
    "Microsoft.ManagedIdentity/userAssignedIdentities",
)
BUSY = {
    "Microsoft.ContainerService/managedClusters": "OperationNotAllowed",
    "Microsoft.ContainerRegistry/registries": "OperationNotAllowed",
}


def set_up(lab: Lab, label: str) -> tuple[Target, object, set[str]]:
    target = Target(label)
    lab.prepare(target)
    before = lab.state(target)
    setup = lab.run(target)
    assert setup.runtime_status == "Completed", setup.output
    return target, before, ids([r for r in setup.output["resources"] if r["action"] == "created"])


def test_transient_faults_on_every_delete_are_retried(lab: Lab) -> None:
    target, before, created = set_up(lab, "lifecycle|transient")
    faults = []
    for resource_type in DELETED_TYPES:
        # 503 (the SDK retries it), then a 409 busy answer (the SDK does not: the orchestrator does).
        faults.append(
            scoped_fault(
                lab, target, method="DELETE", resource_type=resource_type, kind="status", status=503, count=1
            )
        )
        faults.append(
            scoped_fault(
                lab,
                target,
                method="DELETE",
                resource_type=resource_type,
                kind="status",
                status=409,
                code=BUSY.get(resource_type, "AnotherOperationInProgress"),
                count=1,
            )
        )
    removed = teardown(lab, target)
    assert removed.runtime_status == "Completed", removed.output
    assert ids(removed.output["deleted"]) == created
    assert [f for f in faults if f.fired != 1] == []
    assert lab.state(target) == before


def test_a_permanent_delete_fault_fails_the_teardown_and_a_second_one_finishes(lab: Lab) -> None:
    target, before, created = set_up(lab, "lifecycle|permanent")
    registry_id = target.rid(f"Microsoft.ContainerRegistry/registries/{target.acr_name}")
    fault = scoped_fault(
        lab,
        target,
        method="DELETE",
        resource_type="Microsoft.ContainerRegistry/registries",
        kind="status",
        status=403,
        code="AuthorizationFailed",
        count=-1,
    )
    failed = teardown(lab, target)
    assert failed.http_status == 500 and failed.runtime_status == "Failed"
    message = failed.output
    assert f"Teardown failed deleting {registry_id}: AuthorizationFailed" in message
    left = message.split(" Left ", 1)[1]
    assert registry_id in left and "virtualNetworks/hopsaks-vnet" in left and "hopsworks-identity" in left
    assert failed.custom_status["error"] == {"step": "registry", "code": "AuthorizationFailed"}
    assert failed.custom_status["steps"]["cluster"] == "succeeded"
    assert lab.sim.resource(registry_id) is not None
    assert lab.sim.resource(target.rid("Microsoft.ContainerService/managedClusters/hopsaks-cluster")) is None

    fault.count = 0  # the permission is back
    second = teardown(lab, target)
    assert second.runtime_status == "Completed", second.output
    deleted = ids(second.output["deleted"])
    assert registry_id.casefold() in deleted and deleted < created
    assert lab.state(target) == before


def test_a_teardown_survives_the_host_being_killed(lab: Lab) -> None:
    target, before, created = set_up(lab, "lifecycle|crash")
    # The registry delete waits 1 s (429 + Retry-After): the host is killed while it is going.
    hold_registry(lab, target, "DELETE")
    accepted = start_teardown(lab, target)
    time.sleep(0.5)
    running = lab.http.get(accepted["statusQueryGetUri"], timeout=10).json()
    assert running["runtimeStatus"] == "Running"  # killed in the middle, not after the end
    lab.host.kill()
    lab.host.start()
    status, payload = lab.wait(accepted["statusQueryGetUri"])
    assert status == 200 and payload["runtimeStatus"] == "Completed", payload.get("output")
    assert ids(payload["output"]["deleted"]) == created
    assert lab.state(target) == before


def test_a_read_that_fails_for_good_deletes_nothing(lab: Lab) -> None:
    target, _, _ = set_up(lab, "lifecycle|unreadable")
    after_setup = lab.state(target)
    fault = scoped_fault(
        lab,
        target,
        method="GET",
        resource_type="Microsoft.ContainerService/managedClusters",
        kind="status",
        status=403,
        code="AuthorizationFailed",
        count=-1,
    )
    failed = teardown(lab, target)
    fault.count = 0
    assert failed.http_status == 500 and failed.runtime_status == "Failed"
    assert "Teardown failed reading the target (cluster): AuthorizationFailed" in failed.output
    assert failed.custom_status["error"] == {"step": "inventory", "code": "AuthorizationFailed"}
    assert lab.state(target) == after_setup
