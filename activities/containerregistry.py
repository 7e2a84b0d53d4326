"""The Premium container registry (guide: AKS "Integrations" tab) and its retention policy."""

from __future__ import annotations

import copy
from typing import Any

import azure.durable_functions as df

from activities import _results, adoption, arm, c, deletion, ownership
from provisioning import function_names

bp = df.Blueprint()

REGISTRY_TYPE = "Microsoft.ContainerRegistry/registries"
# The API version azure-mgmt-containerregistry 15.0.0 speaks (2025-11-01) has no `softDeletePolicy` in its
# Policies; ACR's preview versions have it. Soft delete is read through this one (see soft_delete_policies).
SOFT_DELETE_API_VERSION = "2023-11-01-preview"


@_results.registered(bp, function_names.ENSURE_REGISTRY)
def ensure_registry(wanted: c.RegistryInput) -> dict[str, Any]:
    """Adopt a compatible registry of that name in the RG; otherwise check the (global) name and create it
    Premium, legacy role-assignment mode (ABAC mode would ignore AcrPull/AcrPush/AcrDelete), admin off."""
    resource_group, name, run_id = wanted.resource_group, wanted.name, wanted.run_id
    registries = arm.containerregistry(wanted.subscription_id).registries

    registry = arm.get_or_none(registries.get, resource_group, name)
    if registry is not None:
        action = ownership.action_from_tags(registry.tags, run_id)
        state = _results.state(registry)
        problems = adoption.registry_problems(*registry_facts(registry))
        if action != ownership.CREATED:
            problems += adoption.failed_state_problems(state)
        if problems:
            return _results.incompatible("container registry", name, problems)
        if adoption.is_failed(state):  # this run's, left Failed by its own create: PUT again
            registry = _results.put_right(
                lambda: registries.begin_create(resource_group, name, _registry_body(wanted)).result(),
                kind="container registry",
                owned=_results.resource(registry.id, REGISTRY_TYPE, action),
            )
        return _registry_result(registry, action)

    taken = name_taken(registries, name)
    if taken is not None:
        return taken

    body = _registry_body(wanted)
    registry = _results.create(
        lambda: registries.begin_create(resource_group, name, body).result(),
        lookup=lambda: arm.get_or_none(registries.get, resource_group, name),
        resource_type=REGISTRY_TYPE,
    )
    return _registry_result(registry, ownership.CREATED)


def _registry_body(wanted: c.RegistryInput) -> Any:
    from azure.mgmt.containerregistry import models

    return models.Registry(
        location=wanted.location,
        tags=ownership.run_tags(wanted.tags, wanted.instance_id, wanted.run_id),
        sku=models.Sku(name="Premium"),
        properties=models.RegistryProperties(
            admin_user_enabled=False,
            role_assignment_mode=adoption.LEGACY_ROLE_ASSIGNMENT_MODE,
        ),
    )


def soft_delete_policies(subscription_id: str, registry_id: str) -> dict[str, Any] | None:
    """The registry's policies as an API version that knows soft delete answers them (the SDK's does not), or
    None when that version is refused (400: then ACR's own answer to the retention PATCH decides)."""
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest

    request = HttpRequest("GET", f"{registry_id}?api-version={SOFT_DELETE_API_VERSION}")
    response = arm.containerregistry(subscription_id).send_request(request)
    try:
        response.raise_for_status()
    except HttpResponseError:
        if response.status_code == 400:
            return None
        raise
    properties = response.json().get("properties") or {}
    return dict(properties.get("policies") or {})


def registry_facts(registry: Any) -> tuple[str | None, str | None]:
    """(SKU name, role assignment mode) of an SDK Registry (shared with preflight)."""
    sku = _results.plain(registry.sku.name) if registry.sku else None
    return sku, _results.prop(registry, "role_assignment_mode")


def name_taken(registries: Any, name: str) -> dict[str, Any] | None:
    """POST checkNameAvailability: the AlreadyInUse error when the global name belongs to someone else."""
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.containerregistry import models

    request = models.RegistryNameCheckRequest(name=name, type=REGISTRY_TYPE)
    try:
        status = registries.check_name_availability(request)
    except HttpResponseError as exc:
        if exc.status_code != 403:
            raise
        # A subscription-level action a group-scoped identity may lack: not knowing is not a problem, the
        # create's own AlreadyInUse decides (preflight notes it from the caller's grants).
        return None
    if status.name_available:
        return None
    reason = f" ({status.reason})" if status.reason else ""
    # ARM's message is a sentence ("The registry x is already in use."): one full stop, not two.
    detail = (status.message or "").strip().rstrip(".") or "choose another name"
    return _results.error(
        _results.ALREADY_IN_USE,
        f"container registry name '{name}' is not available{reason}: "
        f"{detail}. Registry names are global; only a compatible registry "
        "of that name in this resource group is adopted",
        status=409,
    )


def _registry_result(registry: Any, action: str) -> dict[str, Any]:
    output = c.RegistryOutput(id=registry.id, login_server=_results.prop(registry, "login_server"))
    return _results.ok([_results.resource(registry.id, REGISTRY_TYPE, action)], output)


@_results.registered(bp, function_names.ENSURE_RETENTION_POLICY)
def ensure_retention_policy(wanted: c.RetentionInput) -> dict[str, Any]:
    """Retention of untagged manifests: `days`, enabled. PATCHes only when different, and sends the registry's
    other policies back as they were (only retentionPolicy changes)."""
    resource_group, name, days = wanted.resource_group, wanted.name, wanted.days
    registries = arm.containerregistry(wanted.subscription_id).registries

    registry = registries.get(resource_group, name)
    sku, _ = registry_facts(registry)
    if (sku or "").casefold() != "premium":
        return _results.incompatible("container registry", name, ["retention policies need the Premium SKU"])
    policies = _results.prop(registry, "policies")
    current = copy.deepcopy(dict(policies)) if policies is not None else {}
    if adoption.soft_delete_enabled(soft_delete_policies(wanted.subscription_id, registry.id)):
        return _results.error(
            _results.SOFT_DELETE_CONFLICT,
            f"container registry '{name}' has soft delete enabled; ACR cannot combine a retention policy "
            "with soft delete. Disable soft delete on the registry, then run the setup again",
        )
    if adoption.retention_in_state(current.get("retentionPolicy"), days):
        return _results.ok([], c.RetentionOutput(days=days, status="enabled"))

    from azure.mgmt.containerregistry import models

    current["retentionPolicy"] = {"days": days, "status": "enabled"}
    update = models.RegistryUpdateParameters(
        properties=models.RegistryPropertiesUpdateParameters(policies=models.Policies(current))
    )
    updated = registries.begin_update(resource_group, name, update).result()
    retention = updated.properties.policies.retention_policy if updated.properties.policies else None
    if not retention:
        return _results.ok([], c.RetentionOutput(days=days, status="enabled"))
    return _results.ok([], c.RetentionOutput(days=retention.days, status=_results.plain(retention.status)))


def delete(subscription_id: str, resource_id: str, resource_type: str) -> c.DeleteOutput:
    """Delete the registry (rollback), waiting for the operation."""
    parts = arm.parse_id(resource_id)
    registries = arm.containerregistry(subscription_id).registries
    registries.begin_delete(parts["resource_group"], parts["name"]).result()
    return deletion.outcome(True)


def find_registry(subscription_id: str, resource_group: str, name: str) -> tuple[Any, dict[str, Any] | None]:
    """Preflight's read: (the registry under `name` or None, and when there, its policies read at the API
    version that shows soft delete; when absent, the AlreadyInUse error if the global name is taken)."""
    registries = arm.containerregistry(subscription_id).registries
    registry = arm.get_or_none(registries.get, resource_group, name)
    if registry is None:
        return None, name_taken(registries, name)
    return registry, soft_delete_policies(subscription_id, registry.id)


# ---------------------------------------------------------------- read-only inspection (plan, teardown)


@bp.activity_trigger(input_name="payload")
@_results.arm_activity
def inspect_registry(payload: dict[str, Any]) -> dict[str, Any]:
    """Read the registry (no write): whether it exists, its tags, SKU, role-assignment mode and policies.
    When it is absent and `checkName` is set, whether the global name is free (the POST only reads)."""
    registries = arm.containerregistry(payload["subscriptionId"]).registries
    registry = arm.get_or_none(registries.get, payload["resourceGroup"], payload["name"])
    if registry is None:
        taken = name_taken(registries, payload["name"]) if payload.get("checkName") else None
        return _results.ok([], {"exists": False, "nameTaken": taken["error"] if taken else None})
    return _results.inspected(registry, REGISTRY_TYPE, _inspected_facts)


def _inspected_facts(registry: Any) -> dict[str, Any]:
    sku, mode = registry_facts(registry)
    policies = _results.prop(registry, "policies")
    return {
        "sku": sku,
        "roleAssignmentMode": mode,
        "policies": policies.as_dict() if policies is not None else {},
        "provisioningState": _results.state(registry),
    }
