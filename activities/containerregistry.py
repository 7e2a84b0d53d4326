"""The Premium container registry (guide: AKS "Integrations" tab) and its retention policy."""

from __future__ import annotations

import copy
from typing import Any

import azure.durable_functions as df

from activities import _compat, _results, arm

bp = df.Blueprint()

REGISTRY_TYPE = "Microsoft.ContainerRegistry/registries"


@bp.activity_trigger(input_name="payload")
@_results.arm_activity
def ensure_registry(payload: dict[str, Any]) -> dict[str, Any]:
    """Adopt a compatible registry of that name in the RG; otherwise check the (global) name and create it
    Premium, legacy role-assignment mode (ABAC mode would ignore AcrPull/AcrPush/AcrDelete), admin off."""
    resource_group, name, run_id = payload["resourceGroup"], payload["name"], payload["runId"]
    registries = arm.containerregistry(payload["subscriptionId"]).registries

    registry = arm.get_or_none(registries.get, resource_group, name)
    if registry is not None:
        problems = _compat.registry_problems(*registry_facts(registry))
        if problems:
            return _results.incompatible("container registry", name, problems)
        return _registry_result(registry, _results.action_from_tags(registry.tags, run_id))

    taken = name_taken(registries, name)
    if taken is not None:
        return taken

    from azure.mgmt.containerregistry import models

    body = models.Registry(
        location=payload["location"],
        tags=_results.run_tags(payload.get("tags"), payload["instanceId"], run_id),
        sku=models.Sku(name="Premium"),
        properties=models.RegistryProperties(
            admin_user_enabled=False,
            role_assignment_mode=_compat.LEGACY_ROLE_ASSIGNMENT_MODE,
        ),
    )
    registry = _results.create(
        lambda: registries.begin_create(resource_group, name, body).result(),
        lookup=lambda: arm.get_or_none(registries.get, resource_group, name),
        resource_type=REGISTRY_TYPE,
    )
    return _registry_result(registry, _results.CREATED)


def registry_facts(registry: Any) -> tuple[str | None, str | None]:
    """(SKU name, role assignment mode) of an SDK Registry (shared with preflight)."""
    sku = _results.plain(registry.sku.name) if registry.sku else None
    mode = _results.plain(registry.properties.role_assignment_mode) if registry.properties else None
    return sku, mode


def name_taken(registries: Any, name: str) -> dict[str, Any] | None:
    """POST checkNameAvailability: the AlreadyInUse error when the global name belongs to someone else."""
    from azure.mgmt.containerregistry import models

    status = registries.check_name_availability(
        models.RegistryNameCheckRequest(name=name, type=REGISTRY_TYPE)
    )
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
    login_server = registry.properties.login_server if registry.properties else None
    return _results.ok(
        [_results.resource(registry.id, REGISTRY_TYPE, action)],
        {"id": registry.id, "loginServer": login_server},
    )


@bp.activity_trigger(input_name="payload")
@_results.arm_activity
def ensure_retention_policy(payload: dict[str, Any]) -> dict[str, Any]:
    """Retention of untagged manifests: `days`, enabled. PATCHes only when different, and sends the registry's
    other policies back as they were (only retentionPolicy changes)."""
    resource_group, name, days = payload["resourceGroup"], payload["name"], int(payload["days"])
    registries = arm.containerregistry(payload["subscriptionId"]).registries

    registry = registries.get(resource_group, name)
    sku, _ = registry_facts(registry)
    if (sku or "").casefold() != "premium":
        return _results.incompatible("container registry", name, ["retention policies need the Premium SKU"])
    policies = registry.properties.policies if registry.properties else None
    current = copy.deepcopy(dict(policies)) if policies is not None else {}
    if _compat.soft_delete_enabled(current):
        return _results.error(
            _results.SOFT_DELETE_CONFLICT,
            f"container registry '{name}' has soft delete enabled; ACR cannot combine a retention policy "
            "with soft delete. Disable soft delete on the registry, then run the setup again",
        )
    if _compat.retention_in_state(current.get("retentionPolicy"), days):
        return _results.ok([], {"days": days, "status": "enabled"})

    from azure.mgmt.containerregistry import models

    current["retentionPolicy"] = {"days": days, "status": "enabled"}
    updated = registries.begin_update(
        resource_group,
        name,
        models.RegistryUpdateParameters(
            properties=models.RegistryPropertiesUpdateParameters(policies=models.Policies(current))
        ),
    ).result()
    retention = updated.properties.policies.retention_policy if updated.properties.policies else None
    return _results.ok(
        [],
        {
            "days": retention.days if retention else days,
            "status": _results.plain(retention.status) if retention else "enabled",
        },
    )
