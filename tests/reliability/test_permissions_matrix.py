"""The app under the grants real subscriptions hand out (issue #9 section 2).

- `test_grants_matrix`: whole runs over real HTTP on the local host, one subscription per (grants, topology)
  cell side by side, the app's identity granted exactly that cell's roles in the simulated Azure; the
  required outcome of each cell (tests/reliability/permissions_matrix.py prints the measured table).
- `test_custom_role_without_one_action_fails_preflight_naming_it`: for each action of the least-privilege
  custom roles `python -m client permissions` prints, the preflight activity (real SDK clients against the
  simulator) with exactly those roles less that one action fails, naming it, before any write.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from activities import resources
from provisioning import permissions
from provisioning.request import SetupRequest, validate_setup_request
from simulator.testing import SUBSCRIPTION_ID
from tests.provisioning.sample_requests import peering_request, subnet_request
from tests.reliability.harness import Lab, Target
from tests.reliability.permissions_matrix import (
    CELLS,
    LINK_WRITE,
    RA_WRITE,
    check_cell,
    run_permissions_matrix,
)

RG = "hopsworks-rg"
LOCATION = "northeurope"
WRITES = ("PUT", "PATCH", "DELETE")


# ---------------------------------------------------------------- whole runs on the local host


@pytest.fixture(scope="module")
def measured(lab: Lab) -> Iterator[list[Any]]:
    saved = lab.sim.grants()
    try:
        yield run_permissions_matrix(lab)
    finally:
        lab.sim.set_grants(saved)  # the other tests' targets: the app's identity Owner everywhere again


def test_grants_matrix(measured: list[Any]) -> None:
    assert len(measured) == len(CELLS)
    problems = [problem for result in measured for problem in check_cell(result)]
    assert problems == [], "\n".join(problems)


def test_matrix_names_what_the_issue_asks_for(measured: list[Any]) -> None:
    by_key = {(r.cell.grants, r.cell.topology, r.cell.role_scope): r for r in measured}
    group_owner = by_key[("Owner on the resource group", "peering", "resourceGroup")].output
    assert LINK_WRITE in group_owner and "MC_hopsworks-rg_" in group_owner
    assert "'Private DNS Zone Contributor' on /subscriptions/" in group_owner
    contributor = by_key[("Contributor on the subscription", "subnet", "resourceGroup")].output
    assert RA_WRITE in contributor
    assert "'Role Based Access Control Administrator' on /subscriptions/" in contributor


# ---------------------------------------------------------------- preflight, one action short


def _request(body: dict[str, Any]) -> SetupRequest:
    model = validate_setup_request(body)
    assert isinstance(model, SetupRequest), model
    return model


SHAPES = {
    "peering": _request(peering_request(subscriptionId=SUBSCRIPTION_ID)),
    "subnet": _request(subnet_request(subscriptionId=SUBSCRIPTION_ID)),
    "peering+subscription-roles": _request(
        peering_request(
            subscriptionId=SUBSCRIPTION_ID, identity={"name": "hw-id", "roleScope": "subscription"}
        )
    ),
}
CASES = [
    (shape, role_index, action)
    for shape, model in SHAPES.items()
    for role_index, role in enumerate(permissions.plan(model).custom)
    for action in role.actions
]


@pytest.fixture
def azure(simulator: Any, arm_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ARM_POLLING_INTERVAL", "0")
    simulator.add_resource_group(SUBSCRIPTION_ID, RG, LOCATION)
    return simulator


def _grant_custom_roles(sim: Any, roles: list[permissions.CustomRole]) -> None:
    sim.set_grants([])
    for role in roles:
        sim.add_custom_role(role.name, list(role.actions))
        sim.grant(role.name, role.scope)


def _preflight(model: SetupRequest) -> dict[str, Any]:
    request = model.to_orchestration_dict()
    payload = {
        "subscriptionId": request["subscriptionId"],
        "resourceGroup": request["resourceGroup"],
        "location": request["location"],
        "tags": request["tags"],
        "runId": "11111111-1111-4111-8111-111111111111",
        "instanceId": model.instance_id,
        "request": request,
    }
    return resources.preflight(payload)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_printed_custom_roles_pass_preflight(azure: Any, shape: str) -> None:
    _grant_custom_roles(azure, list(permissions.plan(SHAPES[shape]).custom))
    result = _preflight(SHAPES[shape])
    assert result["ok"], result
    # checkNameAvailability is left out of the least set: preflight says it could not check.
    assert any("registry name" in note for note in result["outputs"]["notes"])


@pytest.mark.parametrize(("shape", "role_index", "action"), CASES, ids=[f"{s}-{a}" for s, _, a in CASES])
def test_custom_role_without_one_action_fails_preflight_naming_it(
    azure: Any, shape: str, role_index: int, action: str
) -> None:
    custom = list(permissions.plan(SHAPES[shape]).custom)
    short = custom[role_index]
    custom[role_index] = permissions.CustomRole(
        short.name, short.scope, tuple(a for a in short.actions if a != action)
    )
    _grant_custom_roles(azure, custom)
    mark = len(azure.requests)

    result = _preflight(SHAPES[shape])

    assert not result["ok"] and result["error"]["code"] == "PreflightFailed", result
    assert f"'{action}'" in result["error"]["message"]
    named = {p["target"] for p in result["error"]["problems"] if p["code"] == permissions.MISSING_PERMISSION}
    assert named <= {action}, named  # nothing else is reported missing
    assert [r for r in azure.requests[mark:] if r["method"] in WRITES] == []


def test_a_taken_registry_name_the_app_may_not_check_is_decided_by_the_create(lab: Lab) -> None:
    """Owner on the group only: checkNameAvailability answers 403, preflight lets the run go on, and the
    registry create's own AlreadyInUse fails it; everything the run made is rolled back."""
    target = Target("permissions|registry name taken, not checkable", "subnet")
    other = Target("permissions|registry name owner", "subnet")
    saved = lab.sim.grants()
    try:
        lab.sim.set_grants([f"Owner@/subscriptions/{other.subscription_id}", f"Owner@{target.rg_id}"])
        lab.prepare(target)
        lab.prepare(other)
        registry = "Microsoft.ContainerRegistry/registries"
        lab.arm_settled(
            "PUT",
            f"{other.rg_id}/providers/{registry}/{target.acr_name}",
            registry,
            {"location": LOCATION, "sku": {"name": "Premium"}},
        )
        before = lab.resources(target)
        mark = lab.log_mark()

        result = lab.run(target)

        log = lab.log(target, since=mark)
        assert [e["status"] for e in log if e["path"].endswith("/checkNameAvailability")][:1] == [403]
        assert result.runtime_status == "Failed", result.payload
        assert result.custom_status["error"] == {"step": "acr", "code": "AlreadyInUse"}
        assert lab.resources(target) == before
    finally:
        lab.sim.set_grants(saved)
