"""activities/arm.py: clients from settings only, cached, one credential; the SDKs stay out of cold start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from activities import arm
from provisioning.settings import ArmSettings
from tests.activities.helpers import SUB

ROOT = Path(__file__).resolve().parents[2]


def test_client_options_come_from_settings() -> None:
    options = arm.client_options(
        ArmSettings("https://arm.example", "https://arm.example/.default", "/ca.pem", 2.0)
    )
    assert options == {
        "base_url": "https://arm.example",
        "credential_scopes": ["https://arm.example/.default"],
        "connection_verify": "/ca.pem",
        "polling_interval": 2.0,
    }
    defaults = arm.client_options(
        ArmSettings("https://management.azure.com", "https://management.azure.com/.default", None, None)
    )
    assert defaults == {
        "base_url": "https://management.azure.com",
        "credential_scopes": ["https://management.azure.com/.default"],
    }


def test_clients_are_cached_per_type_and_subscription(arm_env: dict[str, str]) -> None:
    network = arm.network(SUB)
    assert arm.network(SUB) is network
    assert arm.network(SUB.upper()) is network
    assert arm.network("00000000-0000-0000-0000-0000000000bb") is not network
    assert arm.authorization(SUB) is not network
    assert arm.credential() is arm.credential()


def test_authorization_client_uses_the_configured_endpoint(azure: Any) -> None:
    # The authorization client defaults to the public cloud unless base_url is passed.
    assert arm.authorization(SUB)._client._base_url == azure.endpoint  # noqa: SLF001
    list(arm.authorization(SUB).permissions.list_for_resource_group("hopsworks-rg"))
    assert any("/permissions" in r["path"] for r in azure.requests)


def test_settings_change_gives_new_clients(arm_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    first = arm.msi(SUB)
    monkeypatch.setenv("ARM_POLLING_INTERVAL", "7")
    second = arm.msi(SUB)
    assert second is not first
    assert second._config.polling_interval == 7  # noqa: SLF001


def test_importing_the_app_does_not_import_the_management_sdks() -> None:
    code = (
        "import sys, function_app\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('azure.mgmt', 'azure.identity')))\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
