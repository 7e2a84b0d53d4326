"""ensure_identity and ensure_role_assignment against the simulated MSI and Authorization providers."""

from __future__ import annotations

from typing import Any

from activities import authorization, msi
from provisioning import naming, roles
from tests.activities.helpers import (
    INSTANCE_ID,
    OTHER_RUN_ID,
    RG,
    RUN_ID,
    SUB,
    assert_error,
    assert_ok,
    common,
    stored,
    writes_after,
)

IDENTITY = "Microsoft.ManagedIdentity/userAssignedIdentities"
ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
RG_SCOPE = f"/subscriptions/{SUB}/resourceGroups/{RG}"


def identity_input(run_id: str = RUN_ID, **overrides: Any) -> dict[str, Any]:
    return common(run_id, **{"name": "hopsworks-identity", **overrides})


def role_input(
    principal_id: str, role: roles.BuiltInRole = roles.ACR_PULL, scope: str = RG_SCOPE, run_id: str = RUN_ID
) -> dict[str, Any]:
    return common(
        run_id,
        scope=scope,
        roleDefinitionGuid=role.guid,
        principalId=principal_id,
        principalType="ServicePrincipal",
    )


# ---------------------------------------------------------------- identity


def test_identity_created_with_run_tags(azure: Any) -> None:
    result = assert_ok(msi.ensure_identity(identity_input()))

    outputs = result["outputs"]
    assert set(outputs) == {"id", "principalId", "clientId"}
    assert outputs["principalId"] and outputs["clientId"]
    assert result["resources"] == [{"id": outputs["id"], "type": IDENTITY, "action": "created"}]
    (body,) = stored(azure, IDENTITY)
    assert body["tags"] == {
        "owner": "platform",
        "hopsworks-setup": INSTANCE_ID,
        "hopsworks-setup-run": RUN_ID,
    }
    assert body["location"] == "northeurope"


def test_identity_rerun_no_write_created_only_for_own_run(azure: Any) -> None:
    first = assert_ok(msi.ensure_identity(identity_input()))
    before = len(azure.requests)

    same_run = assert_ok(msi.ensure_identity(identity_input()))
    other_run = assert_ok(msi.ensure_identity(identity_input(run_id=OTHER_RUN_ID)))

    assert same_run["outputs"] == first["outputs"] == other_run["outputs"]
    assert same_run["resources"][0]["action"] == "created"
    assert other_run["resources"][0]["action"] == "existing"
    assert writes_after(azure, before) == []


def test_identity_in_another_location_is_refused(azure: Any) -> None:
    assert_ok(msi.ensure_identity(identity_input(location="westeurope")))
    before = len(azure.requests)
    error = assert_error(msi.ensure_identity(identity_input()), "IncompatibleExistingResource")
    assert "hopsworks-identity" in error["message"] and "westeurope" in error["message"]
    assert writes_after(azure, before) == []


def test_identity_missing_resource_group_is_permanent(azure: Any) -> None:
    error = assert_error(
        msi.ensure_identity(identity_input(resourceGroup="no-such-rg")), "ResourceGroupNotFound"
    )
    assert error["status"] == 404


def test_identity_denied_write_is_permanent(azure: Any) -> None:
    azure.deny_permission(SUB, RG, "Microsoft.ManagedIdentity/userAssignedIdentities/write")
    error = assert_error(msi.ensure_identity(identity_input()), "AuthorizationFailed")
    assert error["status"] == 403


def test_identity_dropped_connection_retried_by_the_sdk(azure: Any) -> None:
    azure.add_fault(method="PUT", path="/userAssignedIdentities/", kind="drop", count=1)
    result = assert_ok(msi.ensure_identity(identity_input()))
    assert result["resources"][0]["action"] == "created"
    assert len(stored(azure, IDENTITY)) == 1


# ---------------------------------------------------------------- role assignments


def new_principal(azure: Any) -> str:
    return assert_ok(msi.ensure_identity(identity_input()))["outputs"]["principalId"]


def test_role_assignment_created_under_deterministic_name(azure: Any) -> None:
    principal = new_principal(azure)
    result = assert_ok(authorization.ensure_role_assignment(role_input(principal)))

    name = naming.role_assignment_name(RG_SCOPE, roles.ACR_PULL.guid, principal)
    assert result["outputs"]["id"].endswith(f"/providers/Microsoft.Authorization/roleAssignments/{name}")
    assert result["resources"] == [
        {"id": result["outputs"]["id"], "type": ROLE_ASSIGNMENT, "action": "created"}
    ]
    (body,) = stored(azure, ROLE_ASSIGNMENT)
    properties = body["properties"]
    assert (
        properties["roleDefinitionId"].casefold()
        == naming.role_definition_id(SUB, roles.ACR_PULL.guid).casefold()
    )
    assert properties["principalType"] == "ServicePrincipal"
    assert properties["description"] == f"hopsworks-setup-run={RUN_ID}"


def test_role_assignment_rerun_no_write(azure: Any) -> None:
    principal = new_principal(azure)
    first = assert_ok(authorization.ensure_role_assignment(role_input(principal)))
    before = len(azure.requests)

    same_run = assert_ok(authorization.ensure_role_assignment(role_input(principal)))
    other_run = assert_ok(authorization.ensure_role_assignment(role_input(principal, run_id=OTHER_RUN_ID)))

    assert same_run["outputs"] == other_run["outputs"] == first["outputs"]
    assert same_run["resources"][0]["action"] == "created"
    assert other_run["resources"][0]["action"] == "existing"
    assert writes_after(azure, before) == []


def test_role_assignment_removed_by_hand_is_put_back(azure: Any) -> None:
    principal = new_principal(azure)
    first = assert_ok(authorization.ensure_role_assignment(role_input(principal)))
    from azure.mgmt.authorization import AuthorizationManagementClient

    from simulator.testing import sdk_client

    sdk_client(AuthorizationManagementClient, azure, SUB).role_assignments.delete_by_id(
        first["outputs"]["id"]
    )
    assert stored(azure, ROLE_ASSIGNMENT) == []

    again = assert_ok(authorization.ensure_role_assignment(role_input(principal, run_id=OTHER_RUN_ID)))
    assert again["outputs"]["id"] == first["outputs"]["id"]
    assert again["resources"][0]["action"] == "created"
    assert len(stored(azure, ROLE_ASSIGNMENT)) == 1


def test_same_assignment_under_another_name_is_existing(azure: Any) -> None:
    principal = new_principal(azure)
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

    from simulator.testing import sdk_client

    client = sdk_client(AuthorizationManagementClient, azure, SUB)
    by_hand = client.role_assignments.create(
        RG_SCOPE,
        "3b3c4ad5-0000-4000-8000-000000000001",
        RoleAssignmentCreateParameters(
            role_definition_id=naming.role_definition_id(SUB, roles.ACR_PULL.guid),
            principal_id=principal,
            principal_type="ServicePrincipal",
        ),
    )
    before = len(azure.requests)

    result = assert_ok(authorization.ensure_role_assignment(role_input(principal)))

    assert result["outputs"]["id"] == by_hand.id
    assert result["resources"] == [{"id": by_hand.id, "type": ROLE_ASSIGNMENT, "action": "existing"}]
    statuses = [r["status"] for r in azure.requests[before:] if r["method"] == "PUT"]
    assert statuses == [409]  # RoleAssignmentExists, nothing written
    assert len(stored(azure, ROLE_ASSIGNMENT)) == 1


def test_principal_not_yet_replicated_is_transient_then_succeeds(azure: Any) -> None:
    principal = new_principal(azure)
    azure.add_fault(method="PUT", path="/roleAssignments/", kind="principal_not_found", count=1)

    error = assert_error(
        authorization.ensure_role_assignment(role_input(principal)), "PrincipalNotFound", transient=True
    )
    assert error["status"] == 400
    assert stored(azure, ROLE_ASSIGNMENT) == []

    retried = assert_ok(
        authorization.ensure_role_assignment(role_input(principal))
    )  # the orchestrator's retry
    assert retried["resources"][0]["action"] == "created"


def test_subscription_scope_and_every_identity_role(azure: Any) -> None:
    principal = new_principal(azure)
    scope = f"/subscriptions/{SUB}"
    ids = {
        assert_ok(authorization.ensure_role_assignment(role_input(principal, role, scope)))["outputs"]["id"]
        for role in roles.IDENTITY_ROLES
    }
    assert len(ids) == 4
    assert all(i.startswith(f"{scope}/providers/Microsoft.Authorization/roleAssignments/") for i in ids)


def test_role_assignment_denied_write_is_permanent(azure: Any) -> None:
    principal = new_principal(azure)
    azure.deny_permission(SUB, RG, "Microsoft.Authorization/roleAssignments/write")
    assert_error(authorization.ensure_role_assignment(role_input(principal)), "AuthorizationFailed")
