"""pytest plugin: the simulated Azure as fixtures, and real SDK clients pointed at it.

Fixtures:

* ``simulator_server`` (session): one :class:`Simulator` started for the whole run, deterministic mode
  (``polls_to_complete=1``) and small latencies (``latency_scale=0.01``).
* ``simulator`` (function): the same server, reset before the test (state, faults, log, settings back to
  the defaults above), so every test starts from an empty Azure.
* ``arm_env`` (function): ``simulator.env()`` monkeypatched into ``os.environ`` (credential variables that
  would let another ``DefaultAzureCredential`` member win are removed); returns the dict.

The session fixture also makes the test process's managed identity the simulator's (``IDENTITY_ENDPOINT`` /
``IDENTITY_HEADER`` set for the session, restored at the end).

Helpers: ``sdk_client(ClientClass, simulator, subscription_id, **kwargs)`` builds a real azure-mgmt client
the way ``activities/arm.py`` does (base_url, credential_scopes, connection_verify) with a real
``DefaultAzureCredential`` that reaches the simulator's managed-identity endpoint (the app's identity,
``simulator.app_principal_id``). ``sdk_client(..., principal_id=P)`` calls as another principal P (a
user-assigned identity, an operator): its tokens come from ``Simulator.token_for(P)``.

Grants: every test starts with the default (the app's identity is Owner of every subscription); change them
with ``simulator.set_grants(["Owner@/subscriptions/<sub>/resourceGroups/<rg>", ...])``,
``simulator.grant(...)`` and ``simulator.revoke_all()`` (the fixture's reset restores the default).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from simulator import Simulator

DEFAULT_LATENCY_SCALE = 0.01
DEFAULT_POLLS_TO_COMPLETE = 1
SUBSCRIPTION_ID = "00000000-0000-0000-0000-0000000000aa"

# Variables that make DefaultAzureCredential pick something other than the managed identity.
_OTHER_CREDENTIAL_VARS = (
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
    "IDENTITY_SERVER_THUMBPRINT",
)

_credentials: dict[tuple[str, str], Any] = {}


def reset_to_test_defaults(sim: Simulator) -> None:
    sim.reset()
    sim.latency_scale = DEFAULT_LATENCY_SCALE
    sim.polls_to_complete = DEFAULT_POLLS_TO_COMPLETE
    sim.latency_overrides = {}


@pytest.fixture(scope="session")
def simulator_server() -> Iterator[Simulator]:
    sim = Simulator(latency_scale=DEFAULT_LATENCY_SCALE, polls_to_complete=DEFAULT_POLLS_TO_COMPLETE)
    sim.start()
    saved = {
        name: os.environ.get(name)
        for name in (*_OTHER_CREDENTIAL_VARS, "IDENTITY_ENDPOINT", "IDENTITY_HEADER")
    }
    use_simulated_identity(sim)
    try:
        yield sim
    finally:
        sim.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def simulator(simulator_server: Simulator) -> Iterator[Simulator]:
    reset_to_test_defaults(simulator_server)
    yield simulator_server
    reset_to_test_defaults(simulator_server)


@pytest.fixture
def arm_env(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in _OTHER_CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    env = simulator.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def use_simulated_identity(sim: Simulator) -> None:
    """Make this process's managed identity the simulator's: set IDENTITY_ENDPOINT/IDENTITY_HEADER and drop
    the variables that would let another DefaultAzureCredential member win. The managed-identity credential
    reads them when it asks for a token, so they must stay set while clients are used."""
    env = sim.env()
    for name in _OTHER_CREDENTIAL_VARS:
        os.environ.pop(name, None)
    os.environ["IDENTITY_ENDPOINT"] = env["IDENTITY_ENDPOINT"]
    os.environ["IDENTITY_HEADER"] = env["IDENTITY_HEADER"]


def credential_for(sim: Simulator) -> Any:
    """A real DefaultAzureCredential reaching the simulator's identity endpoint (one per endpoint)."""
    from azure.identity import DefaultAzureCredential

    use_simulated_identity(sim)
    env = sim.env()
    key = (env["IDENTITY_ENDPOINT"], env["IDENTITY_HEADER"])
    if key not in _credentials:
        _credentials[key] = DefaultAzureCredential(
            exclude_interactive_browser_credential=True, exclude_visual_studio_code_credential=True
        )
    return _credentials[key]


class PrincipalCredential:
    """A token credential for any principal of the simulated directory (tokens minted by the simulator, the
    same JWTs its identity endpoint issues)."""

    def __init__(self, sim: Simulator, principal_id: str) -> None:
        self._sim = sim
        self.principal_id = principal_id

    def get_token(self, *scopes: str, **_: Any) -> Any:
        from azure.core.credentials import AccessToken

        token = self._sim.token_for(self.principal_id, scopes[0] if scopes else "")
        return AccessToken(token, int(time.time()) + 3600)

    def close(self) -> None:
        return None


def sdk_client(
    client_class: type,
    sim: Simulator,
    subscription_id: str = SUBSCRIPTION_ID,
    principal_id: str | None = None,
    **kwargs: Any,
) -> Any:
    """A real azure-mgmt client talking to the simulator over https with the managed-identity credential
    (or, with ``principal_id``, as that principal).

    ``polling_interval`` defaults to 0 here (the simulator sends Retry-After when it wants a wait); pass
    other client kwargs (``retry_total``, ``polling_interval`` ...) through ``kwargs``.
    """
    env = sim.env()
    kwargs.setdefault("polling_interval", 0)
    credential = credential_for(sim) if principal_id is None else PrincipalCredential(sim, principal_id)
    return client_class(
        credential,
        subscription_id,
        base_url=env["ARM_ENDPOINT"],
        credential_scopes=[env["ARM_SCOPE"]],
        connection_verify=env["ARM_CA_BUNDLE"],
        **kwargs,
    )
