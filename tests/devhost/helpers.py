"""HTTP helpers for the local host tests."""

import time

import requests


def start(host, name: str, body, instance_id: str | None = None) -> requests.Response:
    params = {"id": instance_id} if instance_id else {}
    return requests.post(
        f"{host.base_url}/api/orchestrators/{name}",
        json=body,
        params=params,
        headers=host.auth_headers,
        timeout=10,
    )


def follow(url: str, timeout: float = 30.0) -> requests.Response:
    """GET the status URL until it answers something other than 202 (fast polling; the client honours
    Retry-After, the tests do not need to)."""
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(url, timeout=10)
        if response.status_code != 202:
            return response
        assert response.headers["Location"] == url
        assert response.headers["Retry-After"] == "5"
        if time.monotonic() > deadline:
            raise AssertionError(f"still running after {timeout}s: {response.json()}")
        time.sleep(0.05)


def run(host, name: str, body, timeout: float = 30.0) -> dict:
    response = start(host, name, body)
    assert response.status_code == 202, response.text
    return follow(response.json()["statusQueryGetUri"], timeout).json()


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")
