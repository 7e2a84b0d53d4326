"""The simulator's core through real clients: auth, tokens, transport, long-running operations, faults.

Long-running operations are driven through a small provider defined here (``Microsoft.Test/widgets``, written
the way docs in simulator/arm.py describe) and the generic-resource operations of azure-mgmt-resource, whose
poller is the same ARMPolling every azure-mgmt client uses.
"""

import http.client
import json
import ssl
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceResponseError,
)
from azure.identity import DefaultAzureCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.resource.resources import ResourceManagementClient

from simulator import Simulator
from simulator.arm import Arm, ArmError, Request, Response
from simulator.testing import SUBSCRIPTION_ID, credential_for, sdk_client

WIDGET = "Microsoft.Test/widgets"
WIDGET_ID = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/" + WIDGET + "/{name}"
)
API = "2024-01-01"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"


def put_widget(arm: Arm, req: Request) -> Response:
    arm.ensure_idle(req.resource_id, "OperationNotAllowed")
    body = req.json_object()
    existing = arm.store.get(req.resource_id)
    resource = {
        "id": req.resource_id,
        "name": req.params["name"],
        "type": WIDGET,
        "location": body.get("location", "westeurope"),
        "properties": {"provisioningState": "Updating" if existing else "Creating"},
    }
    arm.store.put(req.resource_id, WIDGET, resource)
    return arm.start_lro(
        req,
        req.resource_id,
        "update" if existing else "create",
        status=200 if existing else 201,
        body=resource,
    )


def get_widget(arm: Arm, req: Request) -> Response:
    res = arm.store.get(req.resource_id)
    if res is None:
        raise arm.not_found(req.resource_id)
    return Response(200, res.body)


def delete_widget(arm: Arm, req: Request) -> Response:
    res = arm.store.get(req.resource_id)
    if res is None:
        return Response(204)
    arm.ensure_idle(req.resource_id, "OperationNotAllowed")
    res.body["properties"]["provisioningState"] = "Deleting"
    return arm.start_lro(
        req, req.resource_id, "delete", status=202, headers=("Azure-AsyncOperation", "Location")
    )


def add_widget_provider(arm: Arm) -> None:
    arm.route("PUT", WIDGET_ID, put_widget, resource_type=WIDGET, api_versions={API})
    arm.route("GET", WIDGET_ID, get_widget, resource_type=WIDGET, api_versions={API})
    arm.route("DELETE", WIDGET_ID, delete_widget, resource_type=WIDGET, api_versions={API})


@pytest.fixture(scope="module")
def widget_server():
    sim = Simulator(latency_scale=0.01, polls_to_complete=1)
    add_widget_provider(sim.arm)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def wsim(widget_server):
    widget_server.reset()
    widget_server.latency_scale = 0.01
    widget_server.polls_to_complete = 1
    widget_server.add_resource_group(SUBSCRIPTION_ID, "rg", "westeurope")
    return widget_server


@pytest.fixture
def rm(wsim):
    return sdk_client(ResourceManagementClient, wsim)


def widget_id(name: str = "w1") -> str:
    return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg/providers/{WIDGET}/{name}"


def raw(sim: Simulator, method: str, path: str, token: str | None = "auto", **kwargs):
    headers = kwargs.pop("headers", {})
    if token == "auto":
        token = credential_for(sim).get_token(sim.env()["ARM_SCOPE"]).token
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(
        method, sim.endpoint + path, headers=headers, verify=sim.ca_file, timeout=10, **kwargs
    )


# ----- identity and auth ----------
def test_default_azure_credential_through_identity_endpoint(simulator, arm_env):
    assert set(arm_env) == {
        "ARM_ENDPOINT",
        "ARM_CA_BUNDLE",
        "ARM_SCOPE",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "ARM_POLLING_INTERVAL",
    }
    # Deterministic mode: operations finish after N polls, so clients poll almost at once.
    assert float(arm_env["ARM_POLLING_INTERVAL"]) == 0.01
    assert arm_env["ARM_ENDPOINT"].startswith("https://127.0.0.1:")
    assert arm_env["IDENTITY_ENDPOINT"].startswith("http://127.0.0.1:")
    credential = DefaultAzureCredential()  # exactly what production builds, from the environment only
    token = credential.get_token(arm_env["ARM_SCOPE"])
    assert token.token and token.expires_on > time.time() + 3600
    assert token.token in simulator.arm.tokens
    client = ResourceManagementClient(
        credential,
        SUBSCRIPTION_ID,
        base_url=arm_env["ARM_ENDPOINT"],
        credential_scopes=[arm_env["ARM_SCOPE"]],
        connection_verify=arm_env["ARM_CA_BUNDLE"],
    )
    assert client.resource_groups.create_or_update("rg", {"location": "westeurope"}).name == "rg"


def test_token_endpoint_in_app_service_form(simulator):
    env = simulator.env()
    url = env["IDENTITY_ENDPOINT"]
    ok = requests.get(
        url,
        params={"api-version": "2019-08-01", "resource": "https://management.azure.com"},
        headers={"X-IDENTITY-HEADER": env["IDENTITY_HEADER"]},
        timeout=5,
    )
    assert ok.status_code == 200
    body = ok.json()
    assert set(body) >= {"access_token", "expires_on", "resource", "token_type"}
    assert body["token_type"] == "Bearer" and int(body["expires_on"]) > time.time()
    wrong = requests.get(
        url, params={"api-version": "2019-08-01", "resource": "x"}, headers={"X-IDENTITY-HEADER": "no"}
    )
    assert wrong.status_code == 401
    missing = requests.get(
        url, params={"api-version": "2019-08-01"}, headers={"X-IDENTITY-HEADER": env["IDENTITY_HEADER"]}
    )
    assert missing.status_code == 400


def test_requests_without_a_valid_token_get_401(simulator):
    path = f"/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/rg?api-version=2025-04-01"
    none = raw(simulator, "GET", path, token=None)
    assert none.status_code == 401 and none.json()["error"]["code"] == "AuthenticationFailed"
    bogus = raw(simulator, "GET", path, token="not-a-token")
    assert bogus.status_code == 401 and bogus.json()["error"]["code"] == "InvalidAuthenticationToken"
    vault = simulator.arm.issue_token("https://vault.azure.net")["access_token"]
    wrong = raw(simulator, "GET", path, token=vault)
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    good = raw(simulator, "GET", path)
    assert good.status_code == 404 and good.json()["error"]["code"] == "ResourceGroupNotFound"


def test_arm_request_rules(simulator):
    no_version = raw(simulator, "GET", f"/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/rg")
    assert (no_version.status_code, no_version.json()["error"]["code"]) == (400, "MissingApiVersionParameter")
    bad_sub = raw(simulator, "GET", "/subscriptions/subid/resourcegroups/rg?api-version=2025-04-01")
    assert (bad_sub.status_code, bad_sub.json()["error"]["code"]) == (400, "InvalidSubscriptionId")
    simulator.add_resource_group(SUBSCRIPTION_ID, "rg", "westeurope")
    old = raw(
        simulator,
        "GET",
        f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/"
        "userAssignedIdentities/x?api-version=2015-08-31-preview",
    )
    assert (old.status_code, old.json()["error"]["code"]) == (400, "InvalidApiVersionParameter")


def test_any_guid_is_a_subscription_and_names_are_case_insensitive(simulator):
    other = str(uuid.uuid4())
    rm = sdk_client(ResourceManagementClient, simulator, other)
    rm.resource_groups.create_or_update("MixedCase", {"location": "westeurope"})
    assert rm.resource_groups.get("mixedcase").id == f"/subscriptions/{other}/resourceGroups/MixedCase"
    path = f"/SUBSCRIPTIONS/{other.upper()}/RESOURCEGROUPS/MIXEDCASE?api-version=2025-04-01"
    assert raw(simulator, "GET", path).json()["name"] == "MixedCase"


# ----- transport ----------
def test_keep_alive_serves_several_requests_on_one_connection(simulator):
    token = credential_for(simulator).get_token(simulator.env()["ARM_SCOPE"]).token
    port = int(simulator.endpoint.rsplit(":", 1)[1])
    conn = http.client.HTTPSConnection(
        "127.0.0.1", port, context=ssl.create_default_context(cafile=simulator.ca_file)
    )
    try:
        for i in range(3):
            conn.request(
                "PUT",
                f"/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/rg{i}?api-version=2025-04-01",
                body=json.dumps({"location": "westeurope"}),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            resp = conn.getresponse()
            assert resp.status == 201
            assert json.loads(resp.read())["name"] == f"rg{i}"
            assert resp.getheader("Connection", "").lower() != "close"
        assert conn.sock is not None  # still the first connection
    finally:
        conn.close()


def test_concurrent_requests(simulator):
    rm = sdk_client(ResourceManagementClient, simulator)

    def make(i):
        return rm.resource_groups.create_or_update(f"rg{i}", {"location": "westeurope"}).name

    with ThreadPoolExecutor(8) as pool:
        names = list(pool.map(make, range(24)))
    assert sorted(names) == sorted(f"rg{i}" for i in range(24))
    assert len(simulator.state()["resources"]) == 24


def test_server_certificate_is_made_at_start_and_verified(simulator):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(simulator.endpoint + "/_simulator/state", timeout=5)  # system CAs do not know it
    assert requests.get(simulator.endpoint + "/_simulator/state", verify=simulator.ca_file, timeout=5).ok


# ----- long-running operations ----------
def test_put_lro_with_absolute_async_operation_url(wsim, rm):
    wsim.polls_to_complete = 2
    first = raw(wsim, "PUT", widget_id() + f"?api-version={API}", json={"location": "westeurope"})
    assert first.status_code == 201
    assert first.json()["properties"]["provisioningState"] == "Creating"
    status_url = first.headers["Azure-AsyncOperation"]
    assert status_url.startswith(
        wsim.endpoint + f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Test/"
    )
    assert "Retry-After" not in first.headers  # deterministic mode: no waiting hint
    assert requests.get(status_url, verify=wsim.ca_file).status_code == 401  # polls need the token too
    poll = raw(wsim, "GET", status_url[len(wsim.endpoint) :])
    assert poll.json()["status"] == "InProgress"
    poll = raw(wsim, "GET", status_url[len(wsim.endpoint) :])
    assert poll.json()["status"] == "Succeeded" and "endTime" in poll.json()
    # and through the SDK's poller: a PUT ends with a GET of the resource
    result = rm.resources.begin_create_or_update_by_id(
        widget_id("w2"), {"location": "westeurope"}, api_version=API
    ).result()
    assert result.properties["provisioningState"] == "Succeeded"
    kinds = [(r["method"], r["status"], r["resourceType"]) for r in wsim.requests[-4:]]
    assert kinds == [("PUT", 201, WIDGET), ("GET", 200, WIDGET), ("GET", 200, WIDGET), ("GET", 200, WIDGET)]


def test_state_advances_on_every_read_of_the_resource(wsim, rm):
    wsim.polls_to_complete = 2
    rm.resources.begin_create_or_update_by_id(
        widget_id(), {"location": "westeurope"}, api_version=API, polling=False
    )
    assert rm.resources.get_by_id(widget_id(), api_version=API).properties["provisioningState"] == "Creating"
    assert rm.resources.get_by_id(widget_id(), api_version=API).properties["provisioningState"] == "Succeeded"


def test_time_based_latency_and_integer_retry_after(wsim, rm):
    wsim.polls_to_complete = None
    wsim.latency_scale = 0.06  # widgets: 5 s -> 0.3 s; Retry-After hint 10 s -> 0.6 s: not sent
    first = raw(wsim, "PUT", widget_id() + f"?api-version={API}", json={"location": "westeurope"})
    assert "Retry-After" not in first.headers
    assert rm.resources.get_by_id(widget_id(), api_version=API).properties["provisioningState"] == "Creating"
    time.sleep(0.35)
    assert rm.resources.get_by_id(widget_id(), api_version=API).properties["provisioningState"] == "Succeeded"
    wsim.latency_scale = 0.15  # hint 1.5 s -> "1"
    second = raw(wsim, "PUT", widget_id("w2") + f"?api-version={API}", json={"location": "westeurope"})
    assert second.headers["Retry-After"] == "1"
    poll = raw(wsim, "GET", second.headers["Azure-AsyncOperation"][len(wsim.endpoint) :])
    assert poll.headers["Retry-After"] == "1"


def test_write_while_an_operation_runs_is_refused(wsim, rm):
    wsim.polls_to_complete = 3
    rm.resources.begin_create_or_update_by_id(
        widget_id(), {"location": "westeurope"}, api_version=API, polling=False
    )
    with pytest.raises(ResourceExistsError) as err:
        rm.resources.begin_create_or_update_by_id(
            widget_id(), {"location": "westeurope"}, api_version=API, polling=False
        )
    assert (err.value.status_code, err.value.error.code) == (409, "OperationNotAllowed")
    for _ in range(3):
        rm.resources.get_by_id(widget_id(), api_version=API)
    rm.resources.begin_create_or_update_by_id(
        widget_id(), {"location": "westeurope"}, api_version=API
    ).result()


def test_delete_lro_removes_resource_children_and_scoped_role_assignments(wsim, rm):
    rm.resources.begin_create_or_update_by_id(
        widget_id(), {"location": "westeurope"}, api_version=API
    ).result()
    wsim.add_resource(widget_id() + "/parts/p1", WIDGET + "/parts")
    principal = str(uuid.uuid4())
    wsim.register_principal(principal)
    auth = sdk_client(AuthorizationManagementClient, wsim)
    role = f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}"
    ra_name = str(uuid.uuid4())
    auth.role_assignments.create(
        widget_id(), ra_name, {"properties": {"roleDefinitionId": role, "principalId": principal}}
    )
    wsim.polls_to_complete = 2
    first = raw(wsim, "DELETE", widget_id() + f"?api-version={API}")
    assert first.status_code == 202
    assert first.headers["Location"].startswith(wsim.endpoint + "/")
    assert first.headers["Azure-AsyncOperation"].startswith(wsim.endpoint + "/")
    assert rm.resources.get_by_id(widget_id(), api_version=API).properties["provisioningState"] == "Deleting"
    assert wsim.resource(widget_id()) is not None  # reading the state dump is no observation
    with pytest.raises(ResourceNotFoundError):
        rm.resources.get_by_id(widget_id(), api_version=API)  # the second observation ends the delete
    assert wsim.resource(widget_id()) is None
    assert wsim.resource(widget_id() + "/parts/p1") is None
    with pytest.raises(ResourceNotFoundError):
        auth.role_assignments.get(widget_id(), ra_name)
    rm.resources.begin_create_or_update_by_id(
        widget_id(), {"location": "westeurope"}, api_version=API
    ).result()
    rm.resources.begin_delete_by_id(widget_id(), api_version=API).result()
    with pytest.raises(ResourceNotFoundError):
        rm.resources.get_by_id(widget_id(), api_version=API)


@pytest.mark.parametrize(("kind", "status"), [("lro_failed", "Failed"), ("lro_canceled", "Canceled")])
def test_operation_ends_failed_or_canceled(wsim, rm, kind, status):
    wsim.add_fault(method="PUT", path="/widgets/", kind=kind, code="QuotaExceeded")
    with pytest.raises(HttpResponseError) as err:
        rm.resources.begin_create_or_update_by_id(
            widget_id(), {"location": "westeurope"}, api_version=API
        ).result()
    assert err.value.error.code == "QuotaExceeded"
    assert rm.resources.get_by_id(widget_id(), api_version=API).properties["provisioningState"] == status
    # the fault was used up: the next write succeeds
    ok = rm.resources.begin_create_or_update_by_id(
        widget_id(), {"location": "westeurope"}, api_version=API
    ).result()
    assert ok.properties["provisioningState"] == "Succeeded"


def test_lro_failed_on_a_location_polled_delete(simulator):
    rm = sdk_client(ResourceManagementClient, simulator)
    simulator.add_resource_group(SUBSCRIPTION_ID, "rg", "westeurope")
    simulator.add_fault(
        method="DELETE", path="/resourcegroups/rg", kind="lro_failed", code="ResourceGroupDeletionBlocked"
    )
    with pytest.raises(HttpResponseError) as err:
        rm.resource_groups.begin_delete("rg").result()
    assert err.value.error.code == "ResourceGroupDeletionBlocked"
    assert rm.resource_groups.get("rg").properties.provisioning_state == "Failed"


# ----- faults ----------
def test_429_with_retry_after_is_retried_by_the_sdk(simulator):
    rm = sdk_client(ResourceManagementClient, simulator)
    simulator.add_fault(method="PUT", path="/resourcegroups/rg", status=429, retry_after=1)
    started = time.monotonic()
    assert rm.resource_groups.create_or_update("rg", {"location": "westeurope"}).name == "rg"
    assert time.monotonic() - started >= 1.0
    assert [r["status"] for r in simulator.requests] == [429, 201]


def test_500_is_retried_then_surfaces_with_arm_error_body(simulator):
    rm = sdk_client(ResourceManagementClient, simulator)
    simulator.add_fault(method="GET", path="/resourcegroups", status=500)
    assert list(rm.resource_groups.list()) == []
    assert [r["status"] for r in simulator.requests] == [500, 200]
    no_retry = sdk_client(ResourceManagementClient, simulator, retry_total=0)
    simulator.add_fault(method="GET", path="/resourcegroups", status=503, count=2)
    with pytest.raises(HttpResponseError) as err:
        list(no_retry.resource_groups.list())
    assert (err.value.status_code, err.value.error.code) == (503, "ServiceUnavailable")


def test_status_fault_with_a_given_code(simulator):
    msi = sdk_client(ManagedServiceIdentityClient, simulator)
    simulator.add_resource_group(SUBSCRIPTION_ID, "rg", "westeurope")
    simulator.add_fault(
        method="PUT",
        path=r"userAssignedIdentities/id\d$",
        regex=True,
        status=400,
        code="InvalidParameter",
        resource_type="Microsoft.ManagedIdentity/userAssignedIdentities",
    )
    with pytest.raises(HttpResponseError) as err:
        msi.user_assigned_identities.create_or_update("rg", "id1", {"location": "westeurope"})
    assert (err.value.status_code, err.value.error.code) == (400, "InvalidParameter")
    assert (
        msi.user_assigned_identities.create_or_update("rg", "id1", {"location": "westeurope"}).name == "id1"
    )
    simulator.add_fault(
        method="PUT", path="/userAssignedIdentities/", status=403, code="AuthorizationFailed", count=-1
    )
    for _ in range(2):
        with pytest.raises(HttpResponseError) as err:
            msi.user_assigned_identities.create_or_update("rg", "id2", {"location": "westeurope"})
        assert err.value.error.code == "AuthorizationFailed"


def test_dropped_connection_is_retried_or_surfaces(simulator):
    rm = sdk_client(ResourceManagementClient, simulator)
    simulator.add_resource_group(SUBSCRIPTION_ID, "rg", "westeurope")
    simulator.add_fault(method="GET", path="/resourcegroups/rg", kind="drop")
    assert rm.resource_groups.get("rg").name == "rg"
    assert [r["status"] for r in simulator.requests] == [0, 200]
    no_retry = sdk_client(ResourceManagementClient, simulator, retry_total=0)
    simulator.add_fault(method="GET", path="/resourcegroups/rg", kind="drop")
    with pytest.raises(ServiceResponseError):
        no_retry.resource_groups.get("rg")


def test_fault_validation():
    arm = Arm()
    with pytest.raises(ValueError, match="kind"):
        arm.add_fault(kind="explode")
    with pytest.raises(ValueError, match="status"):
        arm.add_fault(kind="status")
    with pytest.raises(ValueError, match="unknown"):
        arm.add_fault(kind="drop", colour="red")
    assert ArmError(409, "X", "y").body() == {"error": {"code": "X", "message": "y"}}


def test_request_log_and_state_dump_and_reset(simulator):
    rm = sdk_client(ResourceManagementClient, simulator)
    rm.resource_groups.create_or_update("rg", {"location": "westeurope"})
    entry = simulator.requests[-1]
    assert entry["method"] == "PUT" and entry["status"] == 201
    assert entry["path"] == f"/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/rg"
    assert entry["apiVersion"] == "2025-04-01"
    assert entry["resourceType"] == "Microsoft.Resources/resourceGroups"
    assert entry["time"].endswith("Z")
    assert [r["id"] for r in simulator.state()["resources"]] == [
        f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg"
    ]
    simulator.reset()
    assert simulator.state()["resources"] == [] and simulator.requests == []
