"""Container registries in the simulator, through the real azure-mgmt-containerregistry client.

The official REST examples (../shared/arm-examples/containerregistry) first, then the name rules and global
uniqueness, retention only on Premium, PATCH merging policies, a write while an operation runs.
"""

import json
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.containerregistry import ContainerRegistryManagementClient

from simulator.testing import SUBSCRIPTION_ID, sdk_client

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "arm-examples" / "containerregistry"
EX_SUB = "00000000-0000-0000-0000-000000000000"
EX_RG = "myResourceGroup"
OTHER_SUB = SUBSCRIPTION_ID


def example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def statuses(simulator, method: str) -> list:
    return [r["status"] for r in simulator.requests if r["method"] == method and "/registries" in r["path"]]


@pytest.fixture
def acr(simulator):
    simulator.add_resource_group(EX_SUB, EX_RG, "westus")
    simulator.add_resource_group(OTHER_SUB, "rg", "westeurope")
    return sdk_client(ContainerRegistryManagementClient, simulator, EX_SUB)


@pytest.fixture
def other(simulator, acr):
    return sdk_client(ContainerRegistryManagementClient, simulator, OTHER_SUB)


def create(client, rg, name, sku="Premium", location="westeurope", **props):
    body = {"location": location, "sku": {"name": sku}, "properties": props}
    return client.registries.begin_create(rg, name, body).result()


# ----- official examples -------------------------------------------------------------------------------
def test_example_check_name_available_and_not(acr):
    ex = example("RegistryCheckNameAvailable.json")
    req = ex["parameters"]["registryNameCheckRequest"]
    answer = acr.registries.check_name_availability(req)
    assert answer.name_available is True
    assert answer.reason is None

    create(acr, EX_RG, "myRegistry", sku="Standard", location="westus")
    ex = example("RegistryCheckNameNotAvailable.json")
    answer = acr.registries.check_name_availability(ex["parameters"]["registryNameCheckRequest"])
    expected = ex["responses"]["200"]["body"]
    assert answer.name_available is False
    assert answer.reason == expected["reason"]  # AlreadyExists
    assert answer.message == expected["message"]


def test_example_create_get_update_delete(acr, simulator):
    ex = example("RegistryCreate.json")
    p = ex["parameters"]
    created = acr.registries.begin_create(p["resourceGroupName"], p["registryName"], p["registry"]).result()
    assert statuses(simulator, "PUT") == [201]
    expected = ex["responses"]["200"]["body"]
    assert created.id == expected["id"]
    assert created.name == expected["name"]
    assert created.type == expected["type"]
    assert created.location == "westus"
    assert created.tags == {"key": "value"}
    assert created.sku.name == "Standard" and created.sku.tier == "Standard"
    props = created.properties
    assert props.login_server.lower() == expected["properties"]["loginServer"].lower()
    assert props.login_server == "myregistry.azurecr.io"  # ACR lower-cases the DNS name
    assert props.provisioning_state == "Succeeded"
    assert props.admin_user_enabled is True
    assert props.role_assignment_mode == "LegacyRegistryPermissions"
    assert props.policies.retention_policy.status == "disabled"
    assert props.policies.retention_policy.days == 7
    assert props.policies.export_policy.status == "enabled"

    ex = example("RegistryGet.json")
    g = ex["parameters"]
    got = acr.registries.get(g["resourceGroupName"], g["registryName"])
    assert got.id == ex["responses"]["200"]["body"]["id"]
    assert got.properties.login_server == "myregistry.azurecr.io"

    ex = example("RegistryUpdate.json")
    u = ex["parameters"]
    seen = []
    updated = acr.registries.begin_update(
        u["resourceGroupName"],
        u["registryName"],
        u["registryUpdateParameters"],
        raw_response_hook=lambda r: seen.append((r.http_request.method, r.http_response)),
    ).result()
    method, first = seen[0]
    assert method == "PATCH" and first.status_code == 201
    assert first.headers["Azure-AsyncOperation"].startswith(simulator.endpoint + f"/subscriptions/{EX_SUB}/")
    assert updated.properties.role_assignment_mode == "AbacRepositoryPermissions"  # as the example sets
    assert updated.properties.admin_user_enabled is True
    assert updated.properties.provisioning_state == "Succeeded"
    assert updated.tags == {"key": "value"}

    ex = example("RegistryDelete.json")
    d = ex["parameters"]
    acr.registries.begin_delete(d["resourceGroupName"], d["registryName"]).result()
    assert statuses(simulator, "DELETE")[0] == 202
    with pytest.raises(ResourceNotFoundError):
        acr.registries.get(d["resourceGroupName"], d["registryName"])
    assert acr.registries.check_name_availability(
        {"name": "myRegistry", "type": "Microsoft.ContainerRegistry/registries"}
    ).name_available


# ----- names -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["abcd", "a" * 51, "my-registry", "my_registry", "regístry1"])
def test_invalid_names(acr, name):
    answer = acr.registries.check_name_availability(
        {"name": name, "type": "Microsoft.ContainerRegistry/registries"}
    )
    assert answer.name_available is False
    assert answer.reason == "Invalid"
    if name.isascii():
        with pytest.raises(HttpResponseError) as err:
            create(acr, EX_RG, name)
        assert err.value.status_code == 400
        assert err.value.error.code == "InvalidResourceName"


def test_names_are_global_across_subscriptions(acr, other, simulator):
    create(acr, EX_RG, "hopsacr01")
    answer = other.registries.check_name_availability(
        {"name": "HOPSACR01", "type": "Microsoft.ContainerRegistry/registries"}
    )
    assert (answer.name_available, answer.reason) == (False, "AlreadyExists")
    with pytest.raises(ResourceExistsError) as err:
        create(other, "rg", "HopsAcr01")
    assert err.value.status_code == 409
    assert err.value.error.code == "AlreadyInUse"
    assert "hopsacr01.azurecr.io is already in use" in err.value.error.message
    # The holder itself may PUT again (an update, 200).
    create(acr, EX_RG, "hopsacr01")
    assert statuses(simulator, "PUT")[-1] == 200


def test_role_assignment_mode_kept_as_sent(acr):
    assert create(
        acr, EX_RG, "abacreg01", roleAssignmentMode="AbacRepositoryPermissions"
    ).properties.role_assignment_mode == ("AbacRepositoryPermissions")
    assert create(acr, EX_RG, "legacyreg01").properties.role_assignment_mode == "LegacyRegistryPermissions"


# ----- policies ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("sku", ["Basic", "Standard"])
def test_retention_only_on_premium(acr, sku):
    create(acr, EX_RG, "smallreg01", sku=sku)
    with pytest.raises(HttpResponseError) as err:
        acr.registries.begin_update(
            EX_RG,
            "smallreg01",
            {"properties": {"policies": {"retentionPolicy": {"days": 7, "status": "enabled"}}}},
        ).result()
    assert err.value.status_code == 400
    assert err.value.error.code == "RetentionPolicyNotSupported"
    assert acr.registries.get(EX_RG, "smallreg01").properties.policies.retention_policy.status == "disabled"
    # At creation too.
    with pytest.raises(HttpResponseError) as err:
        create(
            acr, EX_RG, "smallreg02", sku=sku, policies={"retentionPolicy": {"days": 7, "status": "enabled"}}
        )
    assert err.value.error.code == "RetentionPolicyNotSupported"


def test_patch_merges_policies(acr):
    create(acr, EX_RG, "premreg01")
    acr.registries.begin_update(
        EX_RG,
        "premreg01",
        {
            "properties": {
                "policies": {
                    "exportPolicy": {"status": "disabled"},
                    "quarantinePolicy": {"status": "enabled"},
                }
            }
        },
    ).result()
    after = acr.registries.begin_update(
        EX_RG,
        "premreg01",
        {"properties": {"policies": {"retentionPolicy": {"days": 30, "status": "enabled"}}}},
    ).result()
    policies = after.properties.policies
    assert (policies.retention_policy.days, policies.retention_policy.status) == (30, "enabled")
    assert policies.export_policy.status == "disabled"  # not clobbered
    assert policies.quarantine_policy.status == "enabled"
    assert policies.trust_policy.status == "disabled"
    # Only the field sent changes inside a policy.
    again = acr.registries.begin_update(
        EX_RG, "premreg01", {"properties": {"policies": {"retentionPolicy": {"days": 7}}}}
    ).result()
    assert (
        again.properties.policies.retention_policy.days,
        again.properties.policies.retention_policy.status,
    ) == (
        7,
        "enabled",
    )
    # Tags or admin user changes leave policies alone.
    tagged = acr.registries.begin_update(EX_RG, "premreg01", {"tags": {"a": "b"}}).result()
    assert tagged.properties.policies.retention_policy.status == "enabled"
    assert tagged.tags == {"a": "b"}


def test_retention_cannot_be_combined_with_soft_delete(acr):
    create(acr, EX_RG, "premreg02")
    acr.registries.begin_update(
        EX_RG,
        "premreg02",
        {"properties": {"policies": {"softDeletePolicy": {"retentionDays": 7, "status": "enabled"}}}},
    ).result()
    with pytest.raises(HttpResponseError) as err:
        acr.registries.begin_update(
            EX_RG,
            "premreg02",
            {"properties": {"policies": {"retentionPolicy": {"days": 7, "status": "enabled"}}}},
        ).result()
    assert err.value.status_code == 400
    assert err.value.error.code == "RetentionPolicyConflictsWithSoftDelete"


def test_downgrade_with_retention_enabled_is_refused(acr):
    create(acr, EX_RG, "premreg03", policies={"retentionPolicy": {"days": 7, "status": "enabled"}})
    with pytest.raises(HttpResponseError) as err:
        acr.registries.begin_update(EX_RG, "premreg03", {"sku": {"name": "Standard"}}).result()
    assert err.value.error.code == "RetentionPolicyNotSupported"


def test_write_while_an_operation_runs(acr, simulator):
    simulator.polls_to_complete = 3
    acr.registries.begin_create(
        EX_RG, "busyreg01", {"location": "westus", "sku": {"name": "Premium"}}, polling=False
    )
    assert acr.registries.get(EX_RG, "busyreg01").properties.provisioning_state == "Creating"
    with pytest.raises(ResourceExistsError) as err:
        acr.registries.begin_update(EX_RG, "busyreg01", {"tags": {"a": "b"}}, polling=False)
    assert err.value.status_code == 409
    assert err.value.error.code == "OperationNotAllowed"
    for _ in range(3):
        acr.registries.get(EX_RG, "busyreg01")
    assert acr.registries.get(EX_RG, "busyreg01").properties.provisioning_state == "Succeeded"


def test_missing_registry_and_sku_rules(acr):
    with pytest.raises(ResourceNotFoundError):
        acr.registries.get(EX_RG, "absentreg1")
    with pytest.raises(ResourceNotFoundError):
        acr.registries.begin_update(EX_RG, "absentreg1", {"tags": {}}).result()
    with pytest.raises(HttpResponseError) as err:
        create(acr, EX_RG, "skureg001", sku="Gold")
    assert err.value.error.code == "InvalidSku"
