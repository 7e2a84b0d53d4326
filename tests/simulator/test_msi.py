"""User-assigned identities through the real azure-mgmt-msi client, against the official examples."""

import base64
import json
import re
import time
import uuid

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.identity import ManagedIdentityCredential
from azure.mgmt.msi import ManagedServiceIdentityClient

from simulator.arm import TENANT_ID
from simulator.testing import SUBSCRIPTION_ID, credential_for, sdk_client
from tests.simulator.helpers import example, with_status

GUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


@pytest.fixture
def msi(simulator):
    return sdk_client(ManagedServiceIdentityClient, simulator)


def _create_from_example(simulator, msi):
    ex = example("msi/IdentityCreate.json")
    p = ex["parameters"]
    simulator.add_resource_group(SUBSCRIPTION_ID, p["resourceGroupName"], "eastus")
    return ex, msi.user_assigned_identities.create_or_update(
        p["resourceGroupName"], p["resourceName"], p["parameters"], cls=with_status
    )


def test_create_matches_example(simulator, msi):
    ex, (status, identity) = _create_from_example(simulator, msi)
    expected = ex["responses"]["201"]["body"]
    assert status == 201
    p = ex["parameters"]
    assert (
        identity.id.lower()
        == (
            f"/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/{p['resourceGroupName']}/providers/"
            f"Microsoft.ManagedIdentity/userAssignedIdentities/{p['resourceName']}"
        ).lower()
    )
    assert identity.type == expected["type"]
    assert identity.location == expected["location"]
    assert identity.tags == expected["tags"]
    assert identity.isolation_scope == expected["properties"]["isolationScope"]
    for value in (identity.principal_id, identity.client_id, identity.tenant_id):
        assert value and re.match(GUID, value)
    assert identity.principal_id != identity.client_id


def test_second_put_answers_200_and_keeps_ids(simulator, msi):
    ex, (_, first) = _create_from_example(simulator, msi)
    p = ex["parameters"]
    status, again = msi.user_assigned_identities.create_or_update(
        p["resourceGroupName"],
        p["resourceName"].upper(),
        {"location": "eastus", "tags": {"x": "y"}},
        cls=with_status,
    )
    assert status == 200
    assert (again.principal_id, again.client_id) == (first.principal_id, first.client_id)
    assert again.tags == {"x": "y"}


def test_get_matches_example(simulator, msi):
    _, (_, created) = _create_from_example(simulator, msi)
    ex = example("msi/IdentityGet.json")
    p = ex["parameters"]
    status, got = msi.user_assigned_identities.get(p["resourceGroupName"], p["resourceName"], cls=with_status)
    assert status == 200
    assert got.type == ex["responses"]["200"]["body"]["type"]
    assert (got.id, got.principal_id, got.client_id, got.tenant_id) == (
        created.id,
        created.principal_id,
        created.client_id,
        created.tenant_id,
    )


def test_delete_matches_example_and_is_idempotent(simulator, msi):
    _create_from_example(simulator, msi)
    ex = example("msi/IdentityDelete.json")
    p = ex["parameters"]
    msi.user_assigned_identities.delete(p["resourceGroupName"], p["resourceName"])
    assert simulator.requests[-1]["status"] == 200
    msi.user_assigned_identities.delete(p["resourceGroupName"], p["resourceName"])
    assert simulator.requests[-1]["status"] == 204
    assert set(ex["responses"]) == {"200", "204"}
    with pytest.raises(ResourceNotFoundError) as err:
        msi.user_assigned_identities.get(p["resourceGroupName"], p["resourceName"])
    assert err.value.error.code == "ResourceNotFound"


def test_identity_registers_and_unregisters_its_principal(simulator, msi):
    _, (_, identity) = _create_from_example(simulator, msi)
    assert identity.principal_id.lower() in simulator.state()["principals"]
    msi.user_assigned_identities.delete("rgName", "resourceName")
    assert identity.principal_id.lower() not in simulator.state()["principals"]


def test_validations(simulator, msi):
    with pytest.raises(ResourceNotFoundError) as err:
        msi.user_assigned_identities.create_or_update("missing-rg", "id1", {"location": "eastus"})
    assert err.value.error.code == "ResourceGroupNotFound"
    simulator.add_resource_group(SUBSCRIPTION_ID, "rg", "eastus")
    with pytest.raises(HttpResponseError) as err:
        msi.user_assigned_identities.create_or_update("rg", "-bad", {"location": "eastus"})
    assert (err.value.status_code, err.value.error.code) == (400, "InvalidResourceName")
    with pytest.raises(HttpResponseError) as err:
        msi.user_assigned_identities.create_or_update("rg", "id1", {"tags": {}})
    assert (err.value.status_code, err.value.error.code) == (400, "LocationRequired")
    msi.user_assigned_identities.create_or_update("rg", "id1", {"location": "eastus"})
    with pytest.raises(HttpResponseError) as err:
        msi.user_assigned_identities.create_or_update("rg", "id1", {"location": "westeurope"})
    assert err.value.error.code == "InvalidResourceLocation"
    assert [i.name for i in msi.user_assigned_identities.list_by_resource_group("rg")] == ["id1"]


def test_denied_write_is_authorization_failed(simulator, msi):
    simulator.add_resource_group(SUBSCRIPTION_ID, "rg", "eastus")
    simulator.deny_permission(SUBSCRIPTION_ID, "rg", "Microsoft.ManagedIdentity/userAssignedIdentities/write")
    with pytest.raises(HttpResponseError) as err:
        msi.user_assigned_identities.create_or_update("rg", "id1", {"location": "eastus"})
    assert (err.value.status_code, err.value.error.code) == (403, "AuthorizationFailed")


# ----- the identity endpoint's tokens -----------------------------------------------------------------------
def _claims(token: str) -> dict:
    parts = token.split(".")
    assert len(parts) == 3 and all(parts)  # header.payload.signature
    header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    assert header == {"typ": "JWT", "alg": "HS256"}
    return json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))


def test_token_is_a_managed_identity_jwt_with_the_apps_principal(simulator):
    token = credential_for(simulator).get_token("https://management.azure.com/.default").token
    claims = _claims(token)
    now = time.time()
    assert claims["oid"] == claims["sub"] == simulator.app_principal_id
    assert re.match(GUID, claims["oid"]) and re.match(GUID, claims["appid"])
    assert claims["tid"] == TENANT_ID
    assert claims["aud"] == "https://management.azure.com"
    assert claims["iss"] == f"https://sts.windows.net/{TENANT_ID}/"
    assert claims["nbf"] <= now + 1 and claims["iat"] <= now + 1 and claims["exp"] > now + 3600
    assert (
        claims["xms_mirid"].startswith("/subscriptions/")
        and "/providers/Microsoft.Web/sites/" in claims["xms_mirid"]
    )
    assert token in simulator.issued_tokens()


def test_only_tokens_the_simulator_issued_are_accepted(simulator):
    simulator.add_resource_group(SUBSCRIPTION_ID, "rg", "eastus")
    token = credential_for(simulator).get_token("https://management.azure.com/.default").token
    header, payload, signature = token.split(".")
    claims = _claims(token)
    claims["oid"] = claims["sub"] = "00000000-0000-0000-0000-000000000001"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    url = f"{simulator.endpoint}/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/rg?api-version=2022-09-01"
    kw = {"verify": simulator.ca_file, "timeout": 10}
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}, **kw).status_code == 200
    forged = requests.get(
        url, headers={"Authorization": f"Bearer {header}.{forged_payload}.{signature}"}, **kw
    )
    assert (forged.status_code, forged.json()["error"]["code"]) == (401, "InvalidAuthenticationToken")


def test_user_assigned_identity_token_through_the_endpoint(simulator, msi):
    simulator.add_resource_group(SUBSCRIPTION_ID, "rg", "eastus")
    identity = msi.user_assigned_identities.create_or_update("rg", "ops", {"location": "eastus"})
    credential = ManagedIdentityCredential(client_id=identity.client_id)
    claims = _claims(credential.get_token("https://management.azure.com/.default").token)
    assert (claims["oid"], claims["appid"], claims["xms_mirid"]) == (
        identity.principal_id,
        identity.client_id,
        identity.id,
    )
    # That identity has no grant: ARM refuses it by its own principal id.
    as_identity = sdk_client(ManagedServiceIdentityClient, simulator, principal_id=identity.principal_id)
    with pytest.raises(HttpResponseError) as err:
        as_identity.user_assigned_identities.get("rg", "ops")
    assert err.value.error.code == "AuthorizationFailed"
    assert (
        f"The client '{identity.principal_id}' with object id '{identity.principal_id}'" in err.value.message
    )
    with pytest.raises(ClientAuthenticationError):
        ManagedIdentityCredential(client_id=str(uuid.uuid4())).get_token(
            "https://management.azure.com/.default"
        )
