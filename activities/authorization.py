"""Role assignments: the identity's four guide roles, Network Contributor for the cluster on its vnet, AcrPull
for the kubelet identity on the registry."""

from __future__ import annotations

import base64
import json
from typing import Any

import azure.durable_functions as df

from activities import _results, arm, c, deletion, errors, naming, ownership, permissions
from provisioning import function_names

bp = df.Blueprint()

ROLE_ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments"


@_results.registered(bp, function_names.ENSURE_ROLE_ASSIGNMENT)
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
        return _assigned(found.id, ownership.action_from_description(found.description, run_id))

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
        return _assigned(_find_existing(assignments, scope, role_guid, principal_id), ownership.EXISTING)
    return _assigned(created.id, ownership.CREATED)


def _assigned(assignment_id: str | None, action: str) -> dict[str, Any]:
    resources = [_results.resource(assignment_id, ROLE_ASSIGNMENT_TYPE, action)] if assignment_id else []
    return _results.ok(resources, c.RoleAssignmentOutput(id=assignment_id))


def _find_existing(assignments: Any, scope: str, role_guid: str, principal_id: str) -> str | None:
    """The id of the assignment of `role_guid` to `principal_id` at exactly `scope` (under another name)."""
    for assignment in assignments.list_for_scope(scope, filter=f"principalId eq '{principal_id}'"):
        role = (assignment.role_definition_id or "").rsplit("/", 1)[-1]
        if role.casefold() == role_guid.casefold() and naming.same_resource_id(assignment.scope, scope):
            return assignment.id
    return None


def delete(subscription_id: str, resource_id: str, resource_type: str) -> c.DeleteOutput:
    """Delete the role assignment (rollback) by its id: immediate."""
    arm.authorization(subscription_id).role_assignments.delete_by_id(resource_id)
    return deletion.outcome(True)


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


# ---------------------------------------------------------------- the caller's own grants (preflight)


def own_principal_id() -> str | None:
    """The app identity's principal (object) id: the `oid` claim of its ARM access token. Read without
    verifying the signature: the token comes from our own credential and is only read for this one claim."""
    token = arm.credential().get_token(arm.settings().scope).token
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None  # not a JWT: its assignments cannot be listed, only the group's answer counts
    oid = claims.get("oid") if isinstance(claims, dict) else None
    return oid if isinstance(oid, str) and oid else None


def read_grants(subscription_id: str, resource_group: str) -> permissions.Grants:
    """What the app's identity may do, as preflight needs it (provisioning.permissions.Grants):

    - on the group: GET .../resourceGroups/{rg}/providers/Microsoft.Authorization/permissions, which merges
      every grant that applies there (inherited ones too);
    - above it (the subscription itself, and the node resource group AKS has not created yet, which the
      permissions API cannot answer for): the caller's role assignments that apply at the group
      (`assignedTo('<oid>')`, group memberships included), those assigned at subscription scope or above,
      with the permissions of their role definitions.
    """
    client = arm.authorization(subscription_id)
    group = _permissions(client.permissions.list_for_resource_group(resource_group))
    principal_id = own_principal_id()
    group_scope = naming.resource_group_scope(subscription_id, resource_group)
    assignments = _assignments_above(client, group_scope, principal_id) if principal_id else None
    return permissions.Grants.from_reads(group_scope, group, assignments, principal_id)


def _assignments_above(
    client: Any, group_scope: str, principal_id: str
) -> list[tuple[str, list[dict[str, list[str]]]]] | None:
    """(scope, permissions of its role) of each of the caller's assignments above the group; None when they
    cannot be read (403: the group's answer then shows roleAssignments/read missing; any other refusal, e.g.
    a role definition that cannot be read): preflight then notes what it could not check, and the writes
    themselves decide."""
    from azure.core.exceptions import HttpResponseError

    try:
        mine = f"assignedTo('{principal_id}')"
        listed = list(client.role_assignments.list_for_scope(group_scope, filter=mine))
        definitions: dict[str, list[dict[str, list[str]]]] = {}
        found = []
        for assignment in listed:
            scope, role_id = assignment.scope or "", assignment.role_definition_id or ""
            if permissions.scope_contains(group_scope, scope) or not role_id:
                continue  # at the group or below it: the permissions API's answer has it already
            if role_id.casefold() not in definitions:
                definition = client.role_definitions.get_by_id(role_id)
                definitions[role_id.casefold()] = _permissions(definition.permissions or [])
            found.append((scope, definitions[role_id.casefold()]))
    except HttpResponseError:
        return None
    return found


def _permissions(entries: Any) -> list[dict[str, list[str]]]:
    """Permission entries (of the permissions API or a role definition) as plain actions/notActions."""
    return [{"actions": list(p.actions or []), "notActions": list(p.not_actions or [])} for p in entries]
