"""User-assigned managed identity for the Hopsworks cluster (guide: "User assigned managed identity")."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities import _results, adoption, arm, c, deletion, ownership
from provisioning import function_names

bp = df.Blueprint()

IDENTITY_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"


@_results.registered(bp, function_names.ENSURE_IDENTITY)
def ensure_identity(wanted: c.IdentityInput) -> dict[str, Any]:
    """GET the identity; create it when absent; adopt it when it is in the requested location."""
    resource_group, name, run_id = wanted.resource_group, wanted.name, wanted.run_id
    identities = arm.msi(wanted.subscription_id).user_assigned_identities

    identity = arm.get_or_none(identities.get, resource_group, name)
    if identity is None:
        from azure.mgmt.msi.models import Identity

        tags = ownership.run_tags(wanted.tags, wanted.instance_id, run_id)
        body = Identity(location=wanted.location, tags=tags)
        identity = identities.create_or_update(resource_group, name, body)
        action = ownership.CREATED
    else:
        problems = adoption.identity_problems(identity.location, wanted.location)
        if problems:
            return _results.incompatible("managed identity", name, problems)
        action = ownership.action_from_tags(identity.tags, run_id)

    return _results.ok(
        [_results.resource(identity.id, IDENTITY_TYPE, action)],
        c.IdentityOutput(id=identity.id, principal_id=identity.principal_id, client_id=identity.client_id),
    )


def delete(subscription_id: str, resource_id: str, resource_type: str) -> c.DeleteOutput:
    """Delete the identity (rollback): immediate."""
    parts = arm.parse_id(resource_id)
    arm.msi(subscription_id).user_assigned_identities.delete(parts["resource_group"], parts["name"])
    return deletion.outcome(True)


def find_identity(subscription_id: str, resource_group: str, name: str) -> Any:
    """The identity under `name`, or None (preflight's read)."""
    return arm.get_or_none(arm.msi(subscription_id).user_assigned_identities.get, resource_group, name)


# ---------------------------------------------------------------- read-only inspection (plan, teardown)


@bp.activity_trigger(input_name="payload")
@_results.arm_activity
def inspect_identity(payload: dict[str, Any]) -> dict[str, Any]:
    """Read the identity (no write): whether it exists, its location, tags and principal."""
    identity = find_identity(payload["subscriptionId"], payload["resourceGroup"], payload["name"])
    return _results.inspected(identity, IDENTITY_TYPE, lambda found: {"principalId": found.principal_id})
