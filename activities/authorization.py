"""Role assignments: the identity's four guide roles, Network Contributor for the cluster on its vnet, AcrPull
for the kubelet identity on the registry."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities import _results, arm
from provisioning import contracts as c
from provisioning import deletion, errors, naming, ownership

bp = df.Blueprint()

ROLE_ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments"


@bp.function_name(c.ENSURE_ROLE_ASSIGNMENT)
@bp.activity_trigger(input_name="payload")
@_results.activity(c.RoleAssignmentInput)
def ensure_role_assignment(wanted: c.RoleAssignmentInput) -> dict[str, Any]:
    """PUT the assignment under its deterministic name (uuid5 of scope, role, principal), unless it is there.

    The same (scope, role, principal) under another name answers 409 RoleAssignmentExists: done, `existing`.
    A just-created principal may answer PrincipalNotFound for a while: classified transient, the orchestrator
    retries.
    """
    subscription_id, scope, run_id = wanted.subscription_id, wanted.scope, wanted.run_id
    role_guid, principal_id = wanted.role_definition_guid, wanted.principal_id
    name = naming.role_assignment_name(scope, role_guid, principal_id)
    assignments = arm.authorization(subscription_id).role_assignments

    found = arm.get_or_none(assignments.get, scope, name)
    if found is not None:
        action = ownership.action_from_description(found.description, run_id)
        resource = _results.resource(found.id, ROLE_ASSIGNMENT_TYPE, action)
        return _results.ok([resource], c.RoleAssignmentOutput(id=found.id))

    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

    parameters = RoleAssignmentCreateParameters(
        role_definition_id=naming.role_definition_id(subscription_id, role_guid),
        principal_id=principal_id,
        principal_type=wanted.principal_type or "ServicePrincipal",
        description=ownership.role_assignment_description(run_id),
    )
    try:
        created = assignments.create(scope, name, parameters)
    except HttpResponseError as exc:
        if not errors.is_role_assignment_exists(errors.classify(exc)):
            raise
        existing_id = _find_existing(assignments, scope, role_guid, principal_id)
        resources = (
            [_results.resource(existing_id, ROLE_ASSIGNMENT_TYPE, _results.EXISTING)] if existing_id else []
        )
        return _results.ok(resources, c.RoleAssignmentOutput(id=existing_id))
    return _results.ok(
        [_results.resource(created.id, ROLE_ASSIGNMENT_TYPE, _results.CREATED)],
        c.RoleAssignmentOutput(id=created.id),
    )


def _find_existing(assignments: Any, scope: str, role_guid: str, principal_id: str) -> str | None:
    """The id of the assignment of `role_guid` to `principal_id` at exactly `scope` (under another name)."""
    for assignment in assignments.list_for_scope(scope, filter=f"principalId eq '{principal_id}'"):
        same_role = (assignment.role_definition_id or "").rsplit("/", 1)[
            -1
        ].casefold() == role_guid.casefold()
        if same_role and naming.same_resource_id(assignment.scope, scope):
            return assignment.id
    return None


def delete(subscription_id: str, resource_id: str, resource_type: str) -> dict[str, bool]:
    """Delete the role assignment (rollback) by its id: immediate."""
    arm.authorization(subscription_id).role_assignments.delete_by_id(resource_id)
    return deletion.outcome(True)


def resource_group_permissions(subscription_id: str, resource_group: str) -> list[dict[str, list[str]]]:
    """GET Microsoft.Authorization/permissions on the group: what the caller may do there (preflight)."""
    permissions = arm.authorization(subscription_id).permissions
    return [
        {"actions": list(entry.actions or []), "notActions": list(entry.not_actions or [])}
        for entry in permissions.list_for_resource_group(resource_group)
    ]


# ---------------------------------------------------------------- read-only inspection (plan, teardown)


@bp.activity_trigger(input_name="payload")
@_results.arm_activity
def inspect_role_assignments(payload: dict[str, Any]) -> dict[str, Any]:
    """Read each wanted assignment (no write): under its deterministic name, else the same (scope, role,
    principal) under another name (`otherId`: a setup would answer RoleAssignmentExists and adopt it)."""
    assignments = arm.authorization(payload["subscriptionId"]).role_assignments
    found = []
    for wanted in payload["assignments"]:
        scope, role_guid, principal_id = wanted["scope"], wanted["roleDefinitionGuid"], wanted["principalId"]
        name = naming.role_assignment_name(scope, role_guid, principal_id)
        assignment = arm.get_or_none(assignments.get, scope, name)
        answer = {**wanted, "exists": assignment is not None}
        if assignment is not None:
            answer.update(id=assignment.id, description=assignment.description)
        else:
            answer["otherId"] = _find_existing(assignments, scope, role_guid, principal_id)
        found.append(answer)
    return _results.ok([], {"assignments": found})
