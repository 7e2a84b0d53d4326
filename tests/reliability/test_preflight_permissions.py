"""Missing permissions are found before anything is made: the run fails in preflight naming each action."""

from __future__ import annotations

from tests.reliability.harness import RESOURCE_GROUP, Lab, Target

MISSING = [
    "Microsoft.Authorization/roleAssignments/write",
    "Microsoft.ContainerService/managedClusters/write",
]


def test_missing_permissions_fail_the_run_in_preflight_before_any_write(lab: Lab) -> None:
    target = Target("preflight|permissions")
    lab.prepare(target)
    lab.seed_vnet(target, "unrelated-vnet", "192.168.0.0/16", {"default": "192.168.1.0/24"})
    for action in MISSING:
        lab.sim.deny_permission(target.subscription_id, RESOURCE_GROUP, action)
    before = lab.resources(target)
    mark = lab.log_mark()

    result = lab.run(target)

    assert result.runtime_status == "Failed" and result.http_status == 500
    assert result.custom_status["error"]["step"] == "preflight"
    message = result.output
    assert "step preflight" in message
    for action in MISSING:
        # each missing action with its scope and what to grant
        assert f"lacks '{action}' on resource group '{target.rg_id}'; grant '" in message
    assert f"grant 'Role Based Access Control Administrator' on {target.rg_id}" in message
    requests = lab.log(target, since=mark)
    assert any("Microsoft.Authorization/permissions" in e["path"] for e in requests)  # it did ask
    assert [e for e in requests if e["method"] in ("PUT", "PATCH", "DELETE")] == []
    assert {e["path"].rsplit("/", 1)[-1] for e in requests if e["method"] == "POST"} <= {
        "checkNameAvailability"
    }
    assert lab.resources(target) == before
    assert set(result.custom_status["steps"].values()) <= {"failed", "pending"}
