"""ensure_registry and ensure_retention_policy against the simulated Container Registry provider."""

from __future__ import annotations

from typing import Any

from activities import containerregistry, resources
from tests.activities.helpers import (
    INSTANCE_ID,
    LOCATION,
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

REGISTRY = "Microsoft.ContainerRegistry/registries"


def registry_input(run_id: str = RUN_ID, **overrides: Any) -> dict[str, Any]:
    return common(run_id, **{"name": "hopsworksaks", **overrides})


def retention_input(days: int = 7, **overrides: Any) -> dict[str, Any]:
    return common(**{"name": "hopsworksaks", "days": days, **overrides})


def registries_client(azure: Any) -> Any:
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    from simulator.testing import sdk_client

    return sdk_client(ContainerRegistryManagementClient, azure, SUB).registries


def put_registry_by_hand(azure: Any, body: dict[str, Any], resource_group: str = RG) -> None:
    registries_client(azure).begin_create(
        resource_group, "hopsworksaks", {"location": LOCATION, **body}
    ).result()


def test_registry_created_premium_legacy_mode_admin_off(azure: Any) -> None:
    before = len(azure.requests)
    result = assert_ok(containerregistry.ensure_registry(registry_input()))

    outputs = result["outputs"]
    assert outputs["loginServer"] == "hopsworksaks.azurecr.io"
    assert result["resources"] == [{"id": outputs["id"], "type": REGISTRY, "action": "created"}]
    methods = [
        (r["method"], r["path"].rsplit("/", 1)[-1]) for r in azure.requests[before:] if r["method"] != "GET"
    ]
    assert methods[0] == ("POST", "checkNameAvailability")
    assert ("PUT", "hopsworksaks") in methods
    (body,) = stored(azure, REGISTRY)
    assert body["sku"]["name"] == "Premium"
    assert body["properties"]["roleAssignmentMode"] == "LegacyRegistryPermissions"
    assert body["properties"]["adminUserEnabled"] is False
    assert body["tags"] == {
        "owner": "platform",
        "hopsworks-setup": INSTANCE_ID,
        "hopsworks-setup-run": RUN_ID,
    }


def test_registry_rerun_no_write(azure: Any) -> None:
    first = assert_ok(containerregistry.ensure_registry(registry_input()))
    before = len(azure.requests)

    same = assert_ok(containerregistry.ensure_registry(registry_input()))
    other = assert_ok(containerregistry.ensure_registry(registry_input(run_id=OTHER_RUN_ID)))

    assert same["outputs"] == other["outputs"] == first["outputs"]
    assert same["resources"][0]["action"] == "created" and other["resources"][0]["action"] == "existing"
    assert [r["method"] for r in azure.requests[before:]] == ["GET", "GET"]


def test_name_taken_elsewhere_is_already_in_use(azure: Any) -> None:
    azure.add_resource_group(SUB, "someone-else", LOCATION)
    put_registry_by_hand(azure, {"sku": {"name": "Premium"}}, resource_group="someone-else")
    before = len(azure.requests)

    error = assert_error(containerregistry.ensure_registry(registry_input()), "AlreadyInUse")

    assert "hopsworksaks" in error["message"]
    assert "already in use. Registry names are global" in error["message"]  # ARM's sentence, one full stop
    assert ".." not in error["message"]
    assert [method for method, _ in writes_after(azure, before)] == ["POST"]  # checkNameAvailability only
    assert len(stored(azure, REGISTRY)) == 1


def test_existing_standard_or_abac_registry_is_refused(azure: Any) -> None:
    put_registry_by_hand(
        azure,
        {"sku": {"name": "Standard"}, "properties": {"roleAssignmentMode": "AbacRepositoryPermissions"}},
    )
    before = len(azure.requests)

    error = assert_error(containerregistry.ensure_registry(registry_input()), "IncompatibleExistingResource")

    assert "Premium" in error["message"] and "AbacRepositoryPermissions" in error["message"]
    assert writes_after(azure, before) == []


def test_create_throttled_is_retried_by_the_sdk(azure: Any) -> None:
    azure.add_fault(method="PUT", path="/registries/", status=429, retry_after=1, count=1)
    result = assert_ok(containerregistry.ensure_registry(registry_input()))
    assert result["resources"][0]["action"] == "created"
    assert len(stored(azure, REGISTRY)) == 1


def test_create_failed_operation_is_permanent(azure: Any) -> None:
    azure.add_fault(method="PUT", path="/registries/", kind="lro_failed", code="InternalServerError")
    result = containerregistry.ensure_registry(registry_input())
    assert result["ok"] is False and result["error"]["status"] == 200
    # Azure keeps a registry whose create failed (state Failed): it is this run's, so rollback must see it.
    (left,) = stored(azure, REGISTRY)
    assert result["resources"] == [{"id": left["id"], "type": REGISTRY, "action": "created"}]


def test_create_refused_outright_names_no_resource(azure: Any) -> None:
    azure.add_fault(method="PUT", path="/registries/", kind="status", status=400, code="InvalidParameter")
    result = containerregistry.ensure_registry(registry_input())
    assert_error(result, "InvalidParameter")
    assert "resources" not in result and stored(azure, REGISTRY) == []


# ---------------------------------------------------------------- retention


def test_retention_enabled_for_days_keeping_other_policies(azure: Any) -> None:
    assert_ok(containerregistry.ensure_registry(registry_input()))
    registries_client(azure).begin_update(
        RG, "hopsworksaks", {"properties": {"policies": {"quarantinePolicy": {"status": "enabled"}}}}
    ).result()
    before = len(azure.requests)

    result = assert_ok(containerregistry.ensure_retention_policy(retention_input(7)))

    assert result == {"ok": True, "resources": [], "outputs": {"days": 7, "status": "enabled"}}
    assert writes_after(azure, before) == [("PATCH", REGISTRY)]
    (body,) = stored(azure, REGISTRY)
    policies = body["properties"]["policies"]
    assert policies["retentionPolicy"]["days"] == 7 and policies["retentionPolicy"]["status"] == "enabled"
    assert policies["quarantinePolicy"]["status"] == "enabled"  # not clobbered


def test_retention_rerun_no_write_and_disabled_by_hand_put_back(azure: Any) -> None:
    assert_ok(containerregistry.ensure_registry(registry_input()))
    assert_ok(containerregistry.ensure_retention_policy(retention_input(7)))
    before = len(azure.requests)
    assert_ok(containerregistry.ensure_retention_policy(retention_input(7)))
    assert writes_after(azure, before) == []

    registries_client(azure).begin_update(
        RG,
        "hopsworksaks",
        {"properties": {"policies": {"retentionPolicy": {"days": 7, "status": "disabled"}}}},
    ).result()
    before = len(azure.requests)
    assert_ok(containerregistry.ensure_retention_policy(retention_input(7)))
    assert writes_after(azure, before) == [("PATCH", REGISTRY)]
    assert stored(azure, REGISTRY)[0]["properties"]["policies"]["retentionPolicy"]["status"] == "enabled"

    before = len(azure.requests)
    changed = assert_ok(containerregistry.ensure_retention_policy(retention_input(30)))
    assert changed["outputs"] == {"days": 30, "status": "enabled"}
    assert writes_after(azure, before) == [("PATCH", REGISTRY)]


def test_retention_with_soft_delete_is_a_permanent_conflict(azure: Any) -> None:
    put_registry_by_hand(
        azure,
        {
            "sku": {"name": "Premium"},
            "properties": {"policies": {"softDeletePolicy": {"status": "enabled", "retentionDays": 7}}},
        },
    )
    before = len(azure.requests)

    error = assert_error(
        containerregistry.ensure_retention_policy(retention_input(7)), "RetentionSoftDeleteConflict"
    )

    assert "soft delete" in error["message"]
    assert writes_after(azure, before) == []


def test_registry_delete_idempotent(azure: Any) -> None:
    registry_id = assert_ok(containerregistry.ensure_registry(registry_input()))["outputs"]["id"]
    payload = common(id=registry_id, type=REGISTRY)
    assert assert_ok(resources.delete_resource(payload))["outputs"] == {"done": True}
    assert assert_ok(resources.delete_resource(payload))["outputs"] == {"done": True}
    assert stored(azure, REGISTRY) == []


def test_soft_delete_is_read_at_an_api_version_that_defines_it(azure: Any) -> None:
    """The pinned SDK speaks an API version whose Policies have no softDeletePolicy (Azure never returns it
    there), so the guard reads the registry's policies at ACR's preview version that defines it."""
    from azure.mgmt.containerregistry import models

    assert not hasattr(models.Policies, "soft_delete_policy")
    put_registry_by_hand(
        azure,
        {
            "sku": {"name": "Premium"},
            "properties": {"policies": {"softDeletePolicy": {"status": "enabled", "retentionDays": 7}}},
        },
    )
    before = len(azure.requests)

    assert_error(containerregistry.ensure_retention_policy(retention_input(7)), "RetentionSoftDeleteConflict")

    reads = [(r["method"], r["apiVersion"]) for r in azure.requests[before:]]
    assert ("GET", containerregistry.SOFT_DELETE_API_VERSION) in reads
    assert containerregistry.SOFT_DELETE_API_VERSION.endswith("-preview")
    assert all(version != containerregistry.SOFT_DELETE_API_VERSION for method, version in reads[:1])


def test_preflight_reports_soft_delete_on_an_existing_registry(azure: Any) -> None:
    from tests.activities.test_preflight import preflight_input

    put_registry_by_hand(
        azure,
        {
            "sku": {"name": "Premium"},
            "properties": {"policies": {"softDeletePolicy": {"status": "enabled", "retentionDays": 7}}},
        },
    )
    error = assert_error(resources.preflight(preflight_input()), "PreflightFailed")
    (problem,) = error["problems"]
    assert problem["code"] == "IncompatibleExistingResource" and "soft delete" in problem["message"]
