"""User-assigned managed identity for the Hopsworks cluster (guide: "User assigned managed identity")."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities import _compat, _results, arm

bp = df.Blueprint()

IDENTITY_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"


@bp.activity_trigger(input_name="payload")
@_results.arm_activity
def ensure_identity(payload: dict[str, Any]) -> dict[str, Any]:
    """GET the identity; create it when absent; adopt it when it is in the requested location."""
    resource_group, name, run_id = payload["resourceGroup"], payload["name"], payload["runId"]
    identities = arm.msi(payload["subscriptionId"]).user_assigned_identities

    identity = arm.get_or_none(identities.get, resource_group, name)
    if identity is None:
        from azure.mgmt.msi.models import Identity

        identity = identities.create_or_update(
            resource_group,
            name,
            Identity(
                location=payload["location"],
                tags=_results.run_tags(payload.get("tags"), payload["instanceId"], run_id),
            ),
        )
        action = _results.CREATED
    else:
        problems = _compat.identity_problems(identity.location, payload.get("location"))
        if problems:
            return _results.incompatible("managed identity", name, problems)
        action = _results.action_from_tags(identity.tags, run_id)

    return _results.ok(
        [_results.resource(identity.id, IDENTITY_TYPE, action)],
        {"id": identity.id, "principalId": identity.principal_id, "clientId": identity.client_id},
    )
