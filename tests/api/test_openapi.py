"""The API description (`GET /api/openapi.json`): both variants validate, it says what the code does, and the
real app's answers over HTTP on the local host (simulated Azure) never break it, under schemathesis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec

from api.openapi import OPTIONAL_OPERATION_MODULES, _served
from devhost.testing import REPO_ROOT, DevHost
from provisioning import naming, openapi, plan_diff, status
from provisioning.request import SetupRequest, validate_setup_request
from provisioning.result import hopsworks_values
from simulator import Simulator

EXAMPLES = REPO_ROOT / "examples"
SCHEMATHESIS_CONFIG = Path(__file__).with_name("schemathesis.toml")
FAST_TIMING = {
    "SETUP_POLL_INTERVAL_SECONDS": "0.05",
    "SETUP_RETRY_FIRST_SECONDS": "0.05",
    "SETUP_RETRY_MAX_SECONDS": "0.2",
}
# Checks that the answers keep to the document (the others judge the API's design, not the document).
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
])


def example_requests() -> dict[str, dict[str, Any]]:
    return openapi.load_example_requests(EXAMPLES.glob("*.json"))


def full_document(fmt: str = "openapi3", server: str | None = "https://app.example.net") -> dict[str, Any]:
    return openapi.build_document(fmt, server, openapi.build_examples(example_requests()))


def schema_errors(document: dict[str, Any], schema: dict[str, Any], instance: Any) -> list[str]:
    """Where `instance` breaks `schema` (which may $ref the document's components), read as OpenAPI 3.0."""
    validator = OAS30Validator({**schema, "components": document["components"]})
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(instance)]


def component(name: str) -> dict[str, Any]:
    return {"$ref": openapi.COMPONENTS + name}


# ---------------------------------------------------------------- the document itself


@pytest.mark.parametrize("fmt", openapi.FORMATS)
@pytest.mark.parametrize("server", ["https://app.example.net", None])
def test_both_variants_validate(fmt: str, server: str | None) -> None:
    validate_spec(full_document(fmt, server))
    validate_spec(openapi.build_document(fmt, server))  # without examples too


def test_request_schema_is_the_models_own() -> None:
    document = full_document()
    schemas = document["components"]["schemas"]
    model = SetupRequest.model_json_schema(by_alias=True, mode="validation")
    assert set(schemas["SetupRequest"]["properties"]) == set(model["properties"])
    assert schemas["SetupRequest"]["required"] == model["required"]
    for name, block in model["$defs"].items():
        assert set(schemas[name]["properties"]) == set(block["properties"]), name
        assert schemas[name]["additionalProperties"] is False  # unknown fields are refused, as the model does
    for (name, prop), rule in openapi.REQUEST_FIELD_RULES.items():
        described = schemas[name]["properties"][prop]
        if isinstance(rule, naming.NameRule):
            assert described["description"] == rule.rule
            assert described["maxLength"] == rule.max_length
    assert schemas["AksSpec"]["properties"]["nodeCount"]["maximum"] == 1000
    assert schemas["AksSpec"]["properties"]["vnetName"]["nullable"] is True


def test_the_example_requests_are_valid_and_fit_the_schema() -> None:
    document = full_document()
    body = document["paths"]["/api/setups"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["examples"]) == {path.stem for path in EXAMPLES.glob("*.json")} == {"peering", "subnet"}
    for name, example in body["examples"].items():
        assert isinstance(validate_setup_request(example["value"]), SetupRequest), name
        assert not schema_errors(document, body["schema"], example["value"]), name


def test_every_answer_example_fits_its_schema() -> None:
    document = full_document()
    checked = 0
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for code, answer in operation["responses"].items():
                media = (answer.get("content") or {}).get("application/json") or {}
                if "example" in media:
                    where = (path, method, code)
                    assert not schema_errors(document, media["schema"], media["example"]), where
                    checked += 1
    assert checked >= 6


def test_the_400_example_is_what_the_validator_answers() -> None:
    examples = openapi.build_examples(example_requests())
    fields = {error["field"] for error in examples["errorList"]["errors"]}
    assert {"acr", "aks.nodeCount", "aks.serviceCidr"} <= fields


def test_answer_shapes_follow_the_code() -> None:
    schemas = full_document()["components"]["schemas"]
    normalized = SetupRequest.model_validate(example_requests()["subnet"]).to_orchestration_dict()
    values = hopsworks_values(normalized, "northeurope")
    described = schemas["HopsworksValues"]
    assert set(described["properties"]) == set(values) == set(described["required"])
    assert schemas["Progress"]["properties"]["steps"]["additionalProperties"]["enum"] == list(status.STATES)
    assert schemas["PlanChange"]["properties"]["action"]["enum"] == list(plan_diff.ACTIONS)


def test_operations_in_the_document() -> None:
    document = full_document()
    operations = {
        (path, method): op for path, methods in document["paths"].items() for method, op in methods.items()
    }
    assert {op["operationId"] for op in operations.values()} == {
        "StartSetup", "PlanSetup", "StartTeardown", "GetSetupStatus", "GetTeardownStatus", "GetRunStatus",
        "GetApiDescription",
    }
    start = operations[("/api/setups", "post")]
    assert set(start["responses"]) == {"202", "400", "401", "409", "500"}
    assert set(start["responses"]["202"]["headers"]) == {"Location", "Retry-After"}
    assert start["security"] == [{"functionKey": []}, {"functionKeyQuery": []}]
    assert set(start["responses"]["202"]["links"]) == {"GetSetupStatus", "GetRunStatus"}
    assert set(operations[("/api/teardowns", "post")]["responses"]["202"]["links"]) == {
        "GetTeardownStatus", "GetRunStatus"}
    plan = operations[("/api/plans", "post")]["responses"]["200"]
    assert plan["content"]["application/json"]["schema"] == component("Plan")
    assert set(operations[("/api/teardowns", "post")]["responses"]) >= {"202", "400", "409"}
    assert operations[("/api/openapi.json", "get")]["security"] == []
    # Easy to extend and to trim: an operation whose module the app does not have is left out.
    trimmed = openapi.build_document("openapi3", None, include=lambda op: op.tag != "lifecycle")
    assert "/api/plans" not in trimmed["paths"] and "/api/setups" in trimmed["paths"]
    assert set(OPTIONAL_OPERATION_MODULES) <= {op["operationId"] for op in operations.values()}
    assert all(_served(op) for op in openapi.operations())  # this app has them all


def test_swagger2_variant_carries_the_connector_hints() -> None:
    swagger = full_document("swagger2")
    assert swagger["swagger"] == "2.0"
    assert swagger["host"] == "app.example.net" and swagger["schemes"] == ["https"]
    assert openapi.STATUS_PATH not in swagger["paths"]  # connectors follow Location themselves
    assert list(swagger["securityDefinitions"]) == ["functionKey"]  # a connector takes one API key
    for path in ("/api/setups", "/api/teardowns"):
        operation = swagger["paths"][path]["post"]
        assert operation["x-ms-long-running-operation"] is True
        assert operation["x-ms-visibility"] == "important"
        assert set(operation["responses"]["202"]["headers"]) == {"Location", "Retry-After"}
        assert operation["responses"]["200"]["schema"] == {"$ref": "#/definitions/CompletedStatus"}
        body = operation["parameters"][0]
        assert body["in"] == "body" and body["schema"] == {"$ref": "#/definitions/SetupRequest"}
    assert "x-ms-long-running-operation" not in swagger["paths"]["/api/plans"]["post"]
    for methods in swagger["paths"].values():
        for operation in methods.values():
            assert all("x-ms-summary" in parameter for parameter in operation.get("parameters", ()))
    request = swagger["definitions"]["SetupRequest"]["properties"]
    assert request["subscriptionId"]["x-ms-visibility"] == "important"  # required
    assert request["tags"]["x-ms-visibility"] == "advanced"  # has a default
    assert request["location"]["x-nullable"] is True and "nullable" not in request["location"]
    assert "#/components/" not in json.dumps(swagger)
    assert swagger["definitions"]["SetupRequest"]["example"] == example_requests()["peering"]


# ---------------------------------------------------------------- over HTTP, on the local host


@pytest.fixture(scope="module")
def api_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHost]:
    sim = Simulator(latency_scale=0.01).start()
    try:
        for request in example_requests().values():
            sim.add_resource_group(request["subscriptionId"], request["resourceGroup"], request["location"])
        state = tmp_path_factory.mktemp("openapi-host") / "state.db"
        with DevHost(REPO_ROOT, state, env={**sim.env(), **FAST_TIMING}) as host:
            yield host
    finally:
        sim.stop()


def test_served_anonymously_in_both_formats(api_host: DevHost) -> None:
    served = requests.get(f"{api_host.base_url}/api/openapi.json", timeout=30)
    assert served.status_code == 200 and served.headers["Content-Type"].startswith("application/json")
    document = served.json()
    assert document["servers"] == [{"url": api_host.base_url}]
    assert document == openapi.build_document(
        "openapi3", api_host.base_url, openapi.build_examples(example_requests()), include=_served
    )
    swagger = requests.get(f"{api_host.base_url}/api/openapi.json", params={"format": "swagger2"}, timeout=30)
    assert swagger.status_code == 200 and swagger.json()["host"] == api_host.base_url.split("://", 1)[1]
    validate_spec(swagger.json())
    unknown = requests.get(f"{api_host.base_url}/api/openapi.json", params={"format": "yaml"}, timeout=30)
    assert unknown.status_code == 400
    assert unknown.json() == {"errors": [{"field": "format", "message": "must be one of openapi3, swagger2"}]}
    for secret in api_host.secrets:
        assert secret not in served.text + swagger.text


def test_real_answers_fit_the_document(api_host: DevHost) -> None:
    document = requests.get(f"{api_host.base_url}/api/openapi.json", timeout=30).json()
    post = document["paths"]["/api/setups"]["post"]["responses"]
    body = json.loads((EXAMPLES / "subnet.json").read_text())
    url = f"{api_host.base_url}/api/setups"

    broken = {**body, "aks": {"name": "x", "nodeCount": 0}}
    refused = requests.post(url, json=broken, headers=api_host.auth_headers, timeout=30)
    assert refused.status_code == 400
    assert not schema_errors(document, post["400"]["content"]["application/json"]["schema"], refused.json())
    assert requests.post(url, json=body, timeout=30).status_code == 401

    accepted = requests.post(url, json=body, headers=api_host.auth_headers, timeout=30)
    assert accepted.status_code == 202 and set(post["202"]["headers"]) <= set(accepted.headers)
    assert not schema_errors(document, post["202"]["content"]["application/json"]["schema"], accepted.json())
    location, deadline = accepted.headers["Location"], time.monotonic() + 90
    while (answer := requests.get(location, timeout=30)).status_code == 202:
        assert time.monotonic() < deadline, "the setup did not finish"
        location = answer.headers.get("Location", location)
        time.sleep(0.2)
    # A key sent in the header: Location is the Durable extension's status URL (it carries its own key).
    assert "/runtime/webhooks/durabletask/instances/" in location
    final = document["paths"][openapi.STATUS_PATH]["get"]["responses"][str(answer.status_code)]
    assert answer.status_code == 200, answer.text[:2000]
    assert not schema_errors(document, final["content"]["application/json"]["schema"], answer.json())

    # The key sent as `code`: Location is the app's own status endpoint, answering as GetSetupStatus says.
    again = requests.post(url, json=body, params={"code": api_host.function_key}, timeout=30)
    assert again.status_code == 202
    own_status = document["paths"]["/api/setups/{instanceId}"]["get"]["responses"]
    answers = [requests.get(again.headers["Location"], timeout=30)]
    while answers[-1].status_code == 202:
        assert time.monotonic() < deadline + 60, "the re-run did not finish"
        time.sleep(0.2)
        answers.append(requests.get(answers[-1].headers["Location"], timeout=30))
    assert answers[-1].status_code == 200, answers[-1].text[:2000]
    for answer in answers:
        schema = own_status[str(answer.status_code)]["content"]["application/json"]["schema"]
        assert not schema_errors(document, schema, answer.json())
        assert set(own_status[str(answer.status_code)].get("headers", {})) <= set(answer.headers)

    plan = requests.post(f"{api_host.base_url}/api/plans", json=body, headers=api_host.auth_headers,
                         timeout=60)
    assert plan.status_code == 200, plan.text[:2000]
    assert not schema_errors(document, component("Plan"), plan.json())


def run_schemathesis(host: DevHost, fmt: str, *options: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(SCHEMATHESIS_CONFIG), "run",
        f"{host.base_url}/api/openapi.json?format={fmt}",
        "--header", f"x-functions-key: {host.function_key}",
        "--checks", CHECKS,
        "--seed", "20261202",
        "--generation-database", "none",
        "--workers", "1",
        "--request-timeout", "30",
        "--no-color",
        *options,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(command, capture_output=True, text=True, timeout=240, env=env, cwd=str(REPO_ROOT))


def test_schemathesis_finds_no_server_error_and_no_answer_breaking_the_document(api_host: DevHost) -> None:
    """Every phase (the examples, coverage of each keyword's edges, random fuzzing, and stateful sequences
    that follow the 202's link to the status), at most 10 cases per operation and phase. The status
    endpoints' 500 is the documented answer for a failed run (schemathesis.toml); everywhere else a 5xx fails.
    Valid requests do start setups and teardowns, against the simulated Azure only."""
    done = run_schemathesis(api_host, "openapi3", "--max-examples", "10")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "passed" in done.stdout and "Open API 3.0.3" in done.stdout
    for secret in api_host.secrets:
        assert secret not in done.stdout + done.stderr


def test_swagger2_examples_against_the_app(api_host: DevHost) -> None:
    """The connector variant's examples (the request example, a setup and a plan of it) answered as it says;
    the property-based run above covers the operations they share."""
    done = run_schemathesis(api_host, "swagger2", "--phases", "examples", "--max-examples", "3")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Open API 2.0" in done.stdout and "✅ 3 passed" in done.stdout


def test_nullable_references_accept_null() -> None:
    """A run's first status has customStatus null (set by the orchestrator's first episode)."""
    document = full_document()
    example = openapi.build_examples(example_requests())["runningStatus"]
    running = dict(example, customStatus=None, output=None)
    assert not schema_errors(document, component("RunningStatus"), running)
    assert schema_errors(document, component("RunningStatus"), dict(running, customStatus="text"))
    swagger = full_document("swagger2")
    custom = swagger["definitions"]["RunningStatus"]["properties"]["customStatus"]
    assert custom["allOf"] == [{"$ref": "#/definitions/Progress"}] and custom["x-nullable"] is True
