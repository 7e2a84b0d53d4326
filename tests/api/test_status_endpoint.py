"""The app's own status endpoint (`GET /api/setups/{instanceId}`), unit level: a real
DurableOrchestrationClient against the test double of the extension's client API
(tests/api/test_setups_starter.py), real HttpRequests. Through the local host: tests/e2e."""

from __future__ import annotations

import json
import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import pytest

from api import status
from provisioning.status import build_status
from provisioning.status_polling import LONG_OPERATION_SECONDS, SOON_SECONDS, retry_after_seconds
from tests.api.test_setups_starter import FUNCTION_KEY, SYSTEM_KEY, FakeDurableExtension, run

INSTANCE = "setup-60684ef6-4eff-558e-989c-f59aee35aa7e"
# The custom status's steps of a peering setup, in plan order.
STEPS = ["preflight", "identity", "identity_roles", "aks_network", "aks_cluster", "aks_network_role", "acr",
         "acr_retention", "acr_pull", "hopsworks_network", "peering", "dns_link"]


def get(instance_id: str, key_in_url: bool = True) -> func.HttpRequest:
    query = f"?code={FUNCTION_KEY}" if key_in_url else ""
    return func.HttpRequest(method="GET", url=f"https://setup.example.net/api/setups/{instance_id}{query}",
                            body=b"", headers={} if key_in_url else {"x-functions-key": FUNCTION_KEY},
                            route_params={"instanceId": instance_id})


def extension_with(runtime_status: str, **fields: Any) -> FakeDurableExtension:
    extension = FakeDurableExtension()
    extension.set_status(INSTANCE, runtime_status)
    extension.instances[INSTANCE].update({"input": {"request": "not echoed"}, **fields})
    return extension


def answer(extension: FakeDurableExtension, request: func.HttpRequest, kind: str = "setup") -> Any:
    instance_id = request.route_params["instanceId"]
    return run(status.status_response(extension.client(), request, instance_id, kind))


@pytest.mark.parametrize("runtime_status", ["Pending", "Running", "ContinuedAsNew", "Suspended"])
def test_a_running_run_is_202_with_this_url_as_location_and_a_retry_after(runtime_status: str) -> None:
    custom = build_status("peering", STEPS, {"preflight": "succeeded", "aks_cluster": "running"})
    request = get(INSTANCE)
    response = answer(extension_with(runtime_status, customStatus=custom), request)
    assert response.status_code == 202
    assert response.headers["Location"] == request.url
    assert response.headers["Retry-After"] == str(LONG_OPERATION_SECONDS)
    body = json.loads(response.get_body())
    assert body["runtimeStatus"] == runtime_status and body["customStatus"] == custom
    assert body["instanceId"] == INSTANCE and "input" not in body


def test_the_retry_after_shortens_once_the_cluster_is_done() -> None:
    states = {step: "succeeded" for step in STEPS[:10]} | {"dns_link": "running"}
    custom = build_status("peering", STEPS, states)
    assert custom["steps"]["aks_cluster"] == "succeeded"
    response = answer(extension_with("Running", customStatus=custom), get(INSTANCE, key_in_url=False))
    assert response.headers["Retry-After"] == str(SOON_SECONDS)
    assert response.headers["Location"] == f"https://setup.example.net/api/setups/{INSTANCE}"  # no key added


def test_completed_is_200_with_the_output() -> None:
    output = {"hopsworks": {"aksClusterName": "c"}, "resources": []}
    response = answer(extension_with("Completed", output=output), get(INSTANCE))
    assert response.status_code == 200 and "Location" not in response.headers
    assert "Retry-After" not in response.headers
    assert json.loads(response.get_body())["output"] == output


@pytest.mark.parametrize("runtime_status", ["Failed", "Terminated", "Canceled"])
def test_failed_terminated_and_canceled_are_500_with_the_output(runtime_status: str) -> None:
    message = "Step acr failed: RegistryQuotaExceeded"
    response = answer(extension_with(runtime_status, output=message), get(INSTANCE))
    assert response.status_code == 500
    body = json.loads(response.get_body())
    assert body["runtimeStatus"] == runtime_status and body["output"] == message


def test_an_unknown_run_is_404() -> None:
    response = answer(FakeDurableExtension(), get(INSTANCE))
    assert response.status_code == 404
    assert json.loads(response.get_body())["error"]["code"] == "NotFound"


@pytest.mark.parametrize("instance_id",
                         ["x", "setup-NOT-A-UUID", f"teardown-{INSTANCE[6:]}", f"{INSTANCE}/x"])
def test_an_id_that_is_not_a_setup_id_is_400_naming_the_field(instance_id: str) -> None:
    extension = FakeDurableExtension()
    response = answer(extension, get(instance_id))
    assert response.status_code == 400
    (error,) = json.loads(response.get_body())["errors"]
    assert error["field"] == "instanceId" and "setup-" in error["message"]
    assert extension.calls == []


def test_the_teardowns_route_shows_teardown_ids() -> None:
    teardown_id = f"teardown-{INSTANCE[6:]}"
    extension = FakeDurableExtension()
    extension.set_status(teardown_id, "Completed")
    request = func.HttpRequest(method="GET", url=f"https://h/api/teardowns/{teardown_id}", body=b"",
                               route_params={"instanceId": teardown_id})
    assert answer(extension, request, "teardown").status_code == 200


def test_an_unreachable_extension_is_500_without_keys(caplog: pytest.LogCaptureFixture) -> None:
    extension = FakeDurableExtension()
    extension.fail_get = True
    with caplog.at_level(logging.DEBUG, logger="api.status"):
        response = answer(extension, get(INSTANCE))
    assert response.status_code == 500
    text = response.get_body().decode() + " ".join(r.getMessage() for r in caplog.records)
    assert json.loads(response.get_body())["error"]["code"] == "StatusUnavailable"
    assert FUNCTION_KEY not in text and SYSTEM_KEY not in text and "code=" not in text


def test_routes_auth_and_bindings() -> None:
    app = df.DFApp()
    app.register_functions(status.bp)
    routes = {}
    for function in app.get_functions():
        bindings = json.loads(function.get_function_json())["bindings"]
        trigger = next(b for b in bindings if b["type"] == "httpTrigger")
        routes[function.get_function_name()] = (trigger["route"], trigger["methods"], trigger["authLevel"])
        assert {"type": "durableClient", "name": "client", "direction": "IN"} in bindings
    assert routes == {"setup_status": ("setups/{instanceId}", ["GET"], "FUNCTION"),
                      "teardown_status": ("teardowns/{instanceId}", ["GET"], "FUNCTION")}


# -- the rule ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("states", "error", "seconds"),
    [
        (None, None, SOON_SECONDS),  # no custom status yet: preflight may fail at once
        ({"preflight": "running"}, None, SOON_SECONDS),
        ({"preflight": "succeeded", "aks_network": "running"}, None, SOON_SECONDS),
        ({"aks_cluster": "running", "acr": "succeeded"}, None, LONG_OPERATION_SECONDS),
        ({"aks_cluster": "succeeded", "dns_link": "running"}, None, SOON_SECONDS),
        # rolling back: a cluster this run made (even a failed one) is deleted, which takes minutes
        ({"aks_cluster": "succeeded", "dns_link": "failed"}, {"step": "dns_link", "code": "X"},
         LONG_OPERATION_SECONDS),
        ({"aks_cluster": "failed"}, {"step": "aks_cluster", "code": "X"}, LONG_OPERATION_SECONDS),
        ({"aks_cluster": "rolled_back", "acr": "failed"}, {"step": "acr", "code": "X"}, SOON_SECONDS),
        ({"preflight": "failed"}, {"step": "preflight", "code": "PreflightFailed"}, SOON_SECONDS),
    ],
)
def test_retry_after_follows_the_run(states: dict | None, error: dict | None, seconds: int) -> None:
    custom = None if states is None else build_status("peering", STEPS, states, error)
    assert retry_after_seconds(custom) == seconds
    assert SOON_SECONDS < LONG_OPERATION_SECONDS


def test_retry_after_of_an_unexpected_custom_status_is_short() -> None:
    assert retry_after_seconds("text") == retry_after_seconds({"steps": "x"}) == SOON_SECONDS
