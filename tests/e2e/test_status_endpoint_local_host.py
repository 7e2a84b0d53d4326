"""The app's own status endpoint through the local host, over real HTTP, against the simulated Azure.

A Logic App calls the function URL with its key as `code` and then follows `Location` without re-sending any
header: that Location is `GET /api/setups/{instanceId}?code=<the same key>`, whose `Retry-After` follows the
run, answering 200 with the Hopsworks values, or 500 with the explanation once the run has failed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devhost.testing import REPO_ROOT, DevHost
from provisioning.status_polling import LONG_OPERATION_SECONDS, SOON_SECONDS
from simulator import Simulator

EXAMPLES = REPO_ROOT / "examples"
FAST_TIMING = {
    "SETUP_POLL_INTERVAL_SECONDS": "0.05",
    "SETUP_RETRY_FIRST_SECONDS": "0.05",
    "SETUP_RETRY_MAX_SECONDS": "0.2",
}
RETRY_AFTER_SCALE = 0.02  # a 1 s hint -> 20 ms: the rule is checked, the suite stays fast


def load_example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


@pytest.fixture
def seeded(simulator: Simulator) -> Simulator:
    request = load_example("peering.json")
    simulator.add_resource_group(request["subscriptionId"], request["resourceGroup"], request["location"])
    return simulator


@pytest.fixture
def host(seeded: Simulator, tmp_path: Path):
    with DevHost(REPO_ROOT, tmp_path / "state.db", env={**seeded.env(), **FAST_TIMING}) as running:
        yield running


def post_with_key_in_url(host: DevHost, body: dict) -> requests.Response:
    url = f"{host.base_url}/api/setups"
    return requests.post(url, params={"code": host.function_key}, json=body, timeout=30)


def follow_without_headers(location: str, timeout: float = 60.0) -> tuple[requests.Response, list[int]]:
    """Poll as Logic Apps does: no headers, each 202's `Location`, its `Retry-After` (scaled) in between."""
    deadline = time.monotonic() + timeout
    hints: list[int] = []
    with requests.Session() as session:
        while True:
            answer = session.get(location, timeout=10)
            if answer.status_code != 202:
                return answer, hints
            assert answer.headers["Location"] == location  # the same URL, its key still in it
            hints.append(int(answer.headers["Retry-After"]))
            assert time.monotonic() < deadline, "the run did not finish in time"
            time.sleep(hints[-1] * RETRY_AFTER_SCALE)


def test_location_is_the_app_status_endpoint_and_answers_the_values(host: DevHost) -> None:
    request = load_example("peering.json")
    accepted = post_with_key_in_url(host, request)
    assert accepted.status_code == 202, accepted.text
    payload = accepted.json()
    location = accepted.headers["Location"]
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}" == host.base_url
    assert parts.path == f"/api/setups/{payload['id']}"
    assert parse_qs(parts.query) == {"code": [host.function_key]}
    assert accepted.headers["Retry-After"] == "1"
    # The check-status payload is the extension's, as before.
    assert "/runtime/webhooks/durabletask/instances/" in payload["statusQueryGetUri"]
    assert "returnInternalServerErrorOnFailure=true" in payload["statusQueryGetUri"]

    done, hints = follow_without_headers(location)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["runtimeStatus"] == "Completed" and "input" not in body
    assert body["output"]["hopsworks"]["virtualNetworkName"] == "hopsworks-vnet"
    assert all(hint in (SOON_SECONDS, LONG_OPERATION_SECONDS) for hint in hints), hints
    # The extension's URL tells the same story.
    assert requests.get(payload["statusQueryGetUri"], timeout=10).json()["output"] == body["output"]
    # A header-keyed poller may use the endpoint without a key in the URL; without any key it is refused.
    bare = f"{host.base_url}{parts.path}"
    assert requests.get(bare, headers=host.auth_headers, timeout=10).json()["output"] == body["output"]
    assert requests.get(bare, timeout=10).status_code == 401
    assert requests.get(bare, params={"code": "wrong"}, timeout=10).status_code == 401


def test_a_failed_run_answers_500_with_its_explanation_at_location(host: DevHost, seeded: Simulator) -> None:
    before = seeded.state()["resources"]
    seeded.add_fault(method="PUT", path="/registries/", kind="lro_failed", code="RegistryQuotaExceeded")
    accepted = post_with_key_in_url(host, load_example("peering.json"))
    assert accepted.status_code == 202
    failed, _ = follow_without_headers(accepted.headers["Location"])
    assert failed.status_code == 500
    body = failed.json()
    assert body["runtimeStatus"] == "Failed"
    assert "RegistryQuotaExceeded" in body["output"] and "Rolled back" in body["output"]
    assert body["customStatus"]["error"] == {"step": "acr", "code": "RegistryQuotaExceeded"}
    assert seeded.state()["resources"] == before


def test_unknown_and_malformed_ids(host: DevHost) -> None:
    unknown = requests.get(f"{host.base_url}/api/setups/setup-00000000-0000-0000-0000-000000000000",
                           headers=host.auth_headers, timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "NotFound"
    malformed = requests.get(f"{host.base_url}/api/setups/nope", headers=host.auth_headers, timeout=10)
    assert malformed.status_code == 400 and malformed.json()["errors"][0]["field"] == "instanceId"
    # POST /api/setups is still the starter (the two routes do not shadow each other).
    assert requests.post(f"{host.base_url}/api/setups", json={}, headers=host.auth_headers,
                         timeout=10).status_code == 400
