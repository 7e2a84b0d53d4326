"""The HTTP starter, unit level: a real DurableOrchestrationClient talking to a test double of the Durable
extension's client API (the part of the host that answers `get_status` / `start_new`), real
`func.HttpRequest`s. End-to-end tests through the local host live elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import azure.durable_functions as df
import azure.functions as func
import pytest

from api import setups
from provisioning.request import SetupRequest, validate_setup_request
from provisioning.settings import Settings
from tests.provisioning.sample_requests import peering_request, subnet_request

SYSTEM_KEY = "SyStEmKeY0123456789=="
FUNCTION_KEY = "FuNcTiOnKeY987654=="
RPC_BASE = "http://127.0.0.1:17071/durabletask/"
HOST_ORIGIN = "http://localhost:7071"


def binding_json() -> str:
    base = f"{HOST_ORIGIN}/runtime/webhooks/durabletask/instances/INSTANCEID"
    query = f"taskHub=HopsworksSetupHub&connection=Storage&code={SYSTEM_KEY}"
    return json.dumps(
        {
            "taskHubName": "HopsworksSetupHub",
            "creationUrls": {},
            "managementUrls": {
                "id": "INSTANCEID",
                "statusQueryGetUri": f"{base}?{query}",
                "sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?{query}",
                "terminatePostUri": f"{base}/terminate?reason={{text}}&{query}",
                "purgeHistoryDeleteUri": f"{base}?{query}",
                "restartPostUri": f"{base}/restart?{query}",
                "suspendPostUri": f"{base}/suspend?reason={{text}}&{query}",
                "resumePostUri": f"{base}/resume?reason={{text}}&{query}",
            },
            "rpcBaseUrl": RPC_BASE,
        }
    )


class FakeDurableExtension:
    """Test double for the Durable extension's RPC endpoint: instances by id, like the host keeps them.

    A start for an instance that is still Pending/Running is refused (the host's behaviour when existing
    instances may not be overridden), which is how a lost race between two POSTs shows up.
    """

    def __init__(self) -> None:
        self.instances: dict[str, dict[str, Any]] = {}
        self.starts: list[tuple[str, str, Any]] = []
        self.calls: list[str] = []
        self.fail_get = False

    def client(self) -> df.DurableOrchestrationClient:
        client = df.DurableOrchestrationClient(binding_json())
        client._get_async_request = self.get  # the SDK's own hook for its HTTP calls to the extension
        client._post_async_request = self.post
        return client

    def set_status(self, instance_id: str, status: str) -> None:
        self.instances[instance_id] = {
            "name": setups.ORCHESTRATOR_NAME,
            "instanceId": instance_id,
            "runtimeStatus": status,
            "createdTime": "2026-01-01T00:00:00Z",
            "lastUpdatedTime": "2026-01-01T00:00:01Z",
        }

    async def get(self, url: str, function_invocation_id: str | None = None) -> list[Any]:
        self.calls.append("GET " + url)
        await asyncio.sleep(0)
        if self.fail_get:
            raise ConnectionError("extension unreachable")
        instance_id = urlsplit(url).path.rsplit("/", 1)[-1]
        if instance_id in self.instances:
            return [200, dict(self.instances[instance_id])]
        return [404, ""]

    async def post(
        self,
        url: str,
        data: Any = None,
        trace_parent: Any = None,
        trace_state: Any = None,
        function_invocation_id: str | None = None,
    ) -> list[Any]:
        self.calls.append("POST " + url)
        await asyncio.sleep(0)
        path = urlsplit(url).path
        assert path.startswith("/durabletask/orchestrators/")
        name, instance_id = path.removeprefix("/durabletask/orchestrators/").split("/")
        current = self.instances.get(instance_id, {}).get("runtimeStatus")
        if current in {"Pending", "Running"}:
            return [409, {"ExceptionMessage": f"An instance with ID '{instance_id}' already exists."}]
        self.starts.append((name, instance_id, json.loads(data)))
        self.set_status(instance_id, "Pending")
        return [202, {"id": instance_id}]


def post_request(body: Any) -> func.HttpRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return func.HttpRequest(
        method="POST",
        url=f"https://setup.example.net/api/setups?code={FUNCTION_KEY}",
        body=raw,
        headers={"Content-Type": "application/json"},
    )


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def instance_of(body: dict) -> SetupRequest:
    request = validate_setup_request(body)
    assert isinstance(request, SetupRequest)
    return request


ENV = {"SETUP_POLL_INTERVAL_SECONDS": "2", "SETUP_RETRY_FIRST_SECONDS": "1"}


def assert_check_status_response(response: func.HttpResponse, instance_id: str) -> dict:
    """The extension's check-status payload (its status URL answering 500 on failure), and `Location` at the
    app's own status endpoint carrying the key the caller sent as `code` (post_request sends it that way)."""
    assert response.status_code == 202
    payload = json.loads(response.get_body())
    assert payload["id"] == instance_id
    status_url = urlsplit(payload["statusQueryGetUri"])
    assert f"{status_url.scheme}://{status_url.netloc}" == "https://setup.example.net"  # the caller's origin
    assert status_url.path.endswith(f"/instances/{instance_id}")
    query = parse_qs(status_url.query)
    assert query["returnInternalServerErrorOnFailure"] == ["true"]
    assert query["code"] == [SYSTEM_KEY] and query["taskHub"] == ["HopsworksSetupHub"]
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == "https://setup.example.net"
    assert location.path == f"/api/setups/{instance_id}"
    assert parse_qs(location.query) == {"code": [FUNCTION_KEY]}  # the caller's own key, nothing else
    assert response.headers["Retry-After"] == "1"  # a run that has just started may fail within a second
    return payload


def test_valid_request_starts_one_run_with_normalized_input_and_timing() -> None:
    extension = FakeDurableExtension()
    body = peering_request()
    response = run(setups.handle_start_setup(post_request(body), extension.client(), ENV))
    request = instance_of(body)
    assert_check_status_response(response, request.instance_id)
    assert extension.starts == [
        (
            "setup_orchestrator",
            request.instance_id,
            {"request": request.to_orchestration_dict(), "timing": Settings.from_env(ENV).timing},
        )
    ]
    assert extension.starts[0][2]["timing"]["pollIntervalSeconds"] == 2


def test_a_caller_that_sent_its_key_in_a_header_gets_the_extension_status_url_as_location() -> None:
    """A poller that follows Location without re-sending headers (Logic Apps) must find a key in the URL:
    not the caller's (it did not put it in a URL), so the extension's URL with its system key, as before."""
    extension = FakeDurableExtension()
    body = peering_request()
    request = func.HttpRequest(method="POST", url="https://setup.example.net/api/setups",
                               body=json.dumps(body).encode(),
                               headers={"Content-Type": "application/json", "x-functions-key": FUNCTION_KEY})
    response = run(setups.handle_start_setup(request, extension.client(), ENV))
    assert response.status_code == 202
    payload = json.loads(response.get_body())
    location = response.headers["Location"]
    assert location == payload["statusQueryGetUri"]
    assert parse_qs(urlsplit(location).query)["returnInternalServerErrorOnFailure"] == ["true"]
    assert FUNCTION_KEY not in location and FUNCTION_KEY not in response.get_body().decode()
    assert response.headers["Retry-After"] == "10"


def test_invalid_request_is_400_with_every_error_and_touches_nothing() -> None:
    extension = FakeDurableExtension()
    body = subnet_request(hopsworksNetwork={}, acr={"name": "x"})
    body["aks"]["serviceCidr"] = "10.240.0.1/16"
    response = run(setups.handle_start_setup(post_request(body), extension.client(), ENV))
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    errors = json.loads(response.get_body())["errors"]
    assert {e["field"] for e in errors} == {"hopsworksNetwork", "acr.name", "aks.serviceCidr"}
    assert all(e["message"] for e in errors)
    assert extension.calls == []  # no status query, no start


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"\xff", json.dumps({"a": 1}).encode()])
def test_malformed_bodies_are_400(raw: bytes) -> None:
    extension = FakeDurableExtension()
    response = run(setups.handle_start_setup(post_request(raw), extension.client(), ENV))
    assert response.status_code == 400
    assert json.loads(response.get_body())["errors"]
    assert extension.calls == []


@pytest.mark.parametrize("status", ["Pending", "Running", "ContinuedAsNew", "Suspended"])
def test_a_target_whose_run_is_going_gets_that_run_back(status: str) -> None:
    extension = FakeDurableExtension()
    body = peering_request()
    instance_id = instance_of(body).instance_id
    extension.set_status(instance_id, status)
    response = run(setups.handle_start_setup(post_request(body), extension.client(), ENV))
    assert_check_status_response(response, instance_id)
    assert extension.starts == []


@pytest.mark.parametrize("status", ["Completed", "Failed", "Terminated", "Canceled"])
def test_a_finished_target_starts_a_new_run_under_the_same_id(status: str) -> None:
    extension = FakeDurableExtension()
    body = peering_request()
    instance_id = instance_of(body).instance_id
    extension.set_status(instance_id, status)
    response = run(setups.handle_start_setup(post_request(body), extension.client(), ENV))
    assert_check_status_response(response, instance_id)
    assert [start[1] for start in extension.starts] == [instance_id]


def test_same_target_spelled_differently_is_the_same_run() -> None:
    extension = FakeDurableExtension()
    first = peering_request()
    second = peering_request(resourceGroup="HOPSWORKS-RG")
    second["aks"]["name"] = "HopsAKS-Cluster"
    run(setups.handle_start_setup(post_request(first), extension.client(), ENV))
    response = run(setups.handle_start_setup(post_request(second), extension.client(), ENV))
    assert_check_status_response(response, instance_of(first).instance_id)
    assert len(extension.starts) == 1


def test_concurrent_posts_for_one_target_start_one_run() -> None:
    extension = FakeDurableExtension()
    body = peering_request()

    async def both() -> list[func.HttpResponse]:
        return await asyncio.gather(
            *[setups.handle_start_setup(post_request(body), extension.client(), ENV) for _ in range(5)]
        )

    responses = run(both())
    instance_id = instance_of(body).instance_id
    for response in responses:
        assert_check_status_response(response, instance_id)
    assert len(extension.starts) == 1


def test_different_targets_start_different_runs() -> None:
    extension = FakeDurableExtension()
    a, b = peering_request(), peering_request()
    b["aks"]["name"] = "other-cluster"
    run(setups.handle_start_setup(post_request(a), extension.client(), ENV))
    run(setups.handle_start_setup(post_request(b), extension.client(), ENV))
    assert len({start[1] for start in extension.starts}) == 2


def test_bad_settings_are_500_naming_the_setting_without_values() -> None:
    extension = FakeDurableExtension()
    env = {"ARM_ENDPOINT": "http://user:hunter2@arm.example", "SETUP_RETRY_MAX_ATTEMPTS": "many"}
    response = run(setups.handle_start_setup(post_request(peering_request()), extension.client(), env))
    assert response.status_code == 500
    text = response.get_body().decode()
    error = json.loads(text)["error"]
    assert error["code"] == "InvalidAppSettings"
    assert "ARM_ENDPOINT" in error["message"] and "SETUP_RETRY_MAX_ATTEMPTS" in error["message"]
    assert "hunter2" not in text and "many" not in text
    assert extension.calls == []


def test_unreachable_extension_is_500_without_urls_or_keys() -> None:
    extension = FakeDurableExtension()
    extension.fail_get = True
    response = run(setups.handle_start_setup(post_request(peering_request()), extension.client(), ENV))
    assert response.status_code == 500
    text = response.get_body().decode()
    assert json.loads(text)["error"]["code"] == "StartFailed"
    assert SYSTEM_KEY not in text and "http" not in text


def test_logs_never_carry_keys_or_urls(caplog: pytest.LogCaptureFixture) -> None:
    extension = FakeDurableExtension()
    with caplog.at_level(logging.DEBUG, logger="api.setups"):
        run(setups.handle_start_setup(post_request(peering_request()), extension.client(), ENV))
        run(setups.handle_start_setup(post_request(peering_request()), extension.client(), ENV))
        run(setups.handle_start_setup(post_request({"x": 1}), extension.client(), ENV))
    messages = [record.getMessage() for record in caplog.records]
    assert messages, "the starter logs what it decided"
    for message in messages:
        assert SYSTEM_KEY not in message and FUNCTION_KEY not in message
        assert "code=" not in message and "http" not in message


@pytest.mark.parametrize(
    ("url", "expected_query"),
    [
        ("https://h/x?code=abc%3D%3D", "code=abc%3D%3D&returnInternalServerErrorOnFailure=true"),
        ("https://h/x", "returnInternalServerErrorOnFailure=true"),
        (
            "https://h/x?returnInternalServerErrorOnFailure=false&code=k",
            "returnInternalServerErrorOnFailure=true&code=k",
        ),
        (
            "https://h/x?a=1&ReturnInternalServerErrorOnFailure=False",
            "a=1&returnInternalServerErrorOnFailure=true",
        ),
    ],
)
def test_with_failure_flag(url: str, expected_query: str) -> None:
    assert urlsplit(setups.with_failure_flag(url)).query == expected_query


def test_function_index_route_auth_and_bindings() -> None:
    app = df.DFApp()
    app.register_functions(setups.bp)
    (function,) = app.get_functions()
    assert function.get_function_name() == "start_setup"
    bindings = json.loads(function.get_function_json())["bindings"]
    trigger = next(b for b in bindings if b["type"] == "httpTrigger")
    assert (trigger["route"], trigger["methods"], trigger["authLevel"]) == ("setups", ["POST"], "FUNCTION")
    assert {"type": "durableClient", "name": "client", "direction": "IN"} in bindings
    assert asyncio.iscoroutinefunction(function.get_user_function())
