"""Resource groups through the real azure-mgmt-resource client."""

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.resource.resources import ResourceManagementClient

from simulator.testing import SUBSCRIPTION_ID, sdk_client


@pytest.fixture
def rm(simulator):
    return sdk_client(ResourceManagementClient, simulator)


def test_create_get_exists_list(rm, simulator):
    created = rm.resource_groups.create_or_update("Rg-One", {"location": "westeurope", "tags": {"a": "b"}})
    assert created.id == f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/Rg-One"
    assert created.properties.provisioning_state == "Succeeded"
    assert simulator.requests[-1]["status"] == 201
    again = rm.resource_groups.create_or_update("rg-one", {"location": "westeurope"})
    assert simulator.requests[-1]["status"] == 200
    assert again.name == "Rg-One"  # case preserved, looked up case-insensitively
    assert rm.resource_groups.get("RG-ONE").location == "westeurope"
    assert rm.resource_groups.check_existence("rg-one") is True
    assert rm.resource_groups.check_existence("other") is False
    assert [g.name for g in rm.resource_groups.list()] == ["Rg-One"]


def test_missing_group_is_resource_group_not_found(rm):
    with pytest.raises(ResourceNotFoundError) as err:
        rm.resource_groups.get("absent")
    assert err.value.error.code == "ResourceGroupNotFound"


def test_delete_is_long_running_and_removes_contents(rm, simulator):
    simulator.add_resource_group(SUBSCRIPTION_ID, "rg", "westeurope")
    rm.resource_groups.begin_delete("rg", polling=False)
    assert simulator.requests[-1]["status"] == 202
    assert (
        simulator.resource(f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg")["properties"][
            "provisioningState"
        ]
        == "Deleting"
    )
    simulator.polls_to_complete = 3
    rm.resource_groups.begin_delete("rg").result()  # a second DELETE joins the running one
    assert rm.resource_groups.check_existence("rg") is False


def test_writes_into_a_group_being_deleted_are_refused(rm, simulator):
    simulator.polls_to_complete = 3
    simulator.add_resource_group(SUBSCRIPTION_ID, "rg", "westeurope")
    msi = sdk_client(ManagedServiceIdentityClient, simulator)
    msi.user_assigned_identities.create_or_update("rg", "id1", {"location": "westeurope"})
    rm.resource_groups.begin_delete("rg", polling=False)
    with pytest.raises(ResourceExistsError) as err:
        msi.user_assigned_identities.create_or_update("rg", "id2", {"location": "westeurope"})
    assert (err.value.status_code, err.value.error.code) == (409, "ResourceGroupBeingDeleted")
    with pytest.raises(ResourceExistsError) as err:
        rm.resource_groups.create_or_update("rg", {"location": "westeurope"})
    assert err.value.error.code == "ResourceGroupBeingDeleted"
    for _ in range(3):
        rm.resource_groups.check_existence("rg")
    assert simulator.state()["resources"] == []  # the identity went with its group
    assert simulator.state()["principals"] == []


def test_location_is_fixed_and_required(rm):
    rm.resource_groups.create_or_update("rg", {"location": "westeurope"})
    with pytest.raises(HttpResponseError) as err:
        rm.resource_groups.create_or_update("rg", {"location": "eastus"})
    assert (err.value.status_code, err.value.error.code) == (409, "InvalidResourceGroupLocation")
    with pytest.raises(HttpResponseError) as err:
        rm.resource_groups.create_or_update("rg2", {"tags": {}})
    assert err.value.error.code == "LocationRequired"
