"""SetupResult building for both topologies, and settings parsing."""

from __future__ import annotations

import pytest

from provisioning.request import SetupRequest, validate_setup_request
from provisioning.result import build_setup_result, hopsworks_values, merge_resources, resources_of
from provisioning.settings import DEFAULT_ARM_ENDPOINT, Settings, SettingsError
from tests.provisioning.sample_requests import peering_request, subnet_request

RG_ID = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/hopsworks-rg"
VNET = "Microsoft.Network/virtualNetworks"


def normalized(body: dict) -> dict:
    request = validate_setup_request(body)
    assert isinstance(request, SetupRequest), request
    return request.to_orchestration_dict()


def test_peering_values_point_at_the_hopsworks_vnet() -> None:
    request = normalized(peering_request(location=None))
    assert hopsworks_values(request, "westeurope") == {
        "location": "westeurope",
        "resourceGroup": "hopsworks-rg",
        "managedIdentity": "hopsworks-identity",
        "aksClusterName": "hopsaks-cluster",
        "acrRegistryName": "hopsworksaks",
        "virtualNetworkName": "hopsworks-vnet",
        "subnetName": "default",
        "networkResourceGroup": "hopsworks-rg",
    }


def test_subnet_values_point_at_the_aks_vnet_and_new_subnet() -> None:
    request = normalized(subnet_request(hopsworksSubnet={"name": "hw-subnet", "prefix": "10.240.20.0/24"}))
    values = hopsworks_values(request)
    assert values["location"] == "northeurope"  # from the request
    assert values["virtualNetworkName"] == "hopsaks-cluster-vnet"
    assert values["subnetName"] == "hw-subnet"
    assert values["networkResourceGroup"] == "hopsworks-rg"


def test_location_is_required_from_somewhere() -> None:
    with pytest.raises(ValueError, match="location"):
        hopsworks_values(normalized(peering_request(location=None)))


def test_resources_are_deduplicated_case_insensitively_created_wins() -> None:
    vnet_id = f"{RG_ID}/providers/{VNET}/aks-vnet"
    merged = merge_resources(
        [
            {"id": vnet_id, "type": VNET, "action": "existing"},
            {
                "id": f"{RG_ID}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id",
                "type": "x",
                "action": "created",
            },
            {
                "id": vnet_id.lower().replace("resourcegroups", "resourcegroups") + "/",
                "type": VNET,
                "action": "created",
            },
            {"id": vnet_id, "type": VNET, "action": "existing"},
            {"id": "", "type": VNET, "action": "created"},
            {"type": VNET},
        ]
    )
    assert merged == [
        {"id": vnet_id, "type": VNET, "action": "created"},
        {
            "id": f"{RG_ID}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id",
            "type": "x",
            "action": "created",
        },
    ]


def test_build_setup_result_from_activity_results() -> None:
    request = normalized(peering_request())
    results = [
        {
            "ok": True,
            "resources": [
                {"id": f"{RG_ID}/providers/{VNET}/hopsworks-vnet", "type": VNET, "action": "existing"}
            ],
            "outputs": {},
        },
        {"ok": True, "resources": [], "outputs": {}},
        {"ok": True, "outputs": {}},
    ]
    result = build_setup_result(request, resources_of(results))
    assert set(result) == {"hopsworks", "resources"}
    assert result["resources"] == [
        {"id": f"{RG_ID}/providers/{VNET}/hopsworks-vnet", "type": VNET, "action": "existing"}
    ]
    assert result["hopsworks"]["virtualNetworkName"] == "hopsworks-vnet"


# ---------------------------------------------------------------- settings


def test_settings_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.arm_endpoint == DEFAULT_ARM_ENDPOINT
    assert settings.arm_ca_bundle is None and settings.arm_polling_interval is None
    assert settings.timing == {
        "pollIntervalSeconds": 5,
        "retryFirstSeconds": 5,
        "retryMaxSeconds": 120,
        "retryMaxAttempts": 8,
        "clusterTimeoutSeconds": 3600,
    }


def test_settings_from_values() -> None:
    settings = Settings.from_env(
        {
            "ARM_ENDPOINT": "https://127.0.0.1:8443/",
            "ARM_CA_BUNDLE": "/tmp/ca.pem",
            "ARM_SCOPE": "https://x/.default",
            "ARM_POLLING_INTERVAL": "0",
            "SETUP_POLL_INTERVAL_SECONDS": "0.2",
            "SETUP_RETRY_FIRST_SECONDS": "0.05",
            "SETUP_RETRY_MAX_SECONDS": "1",
            "SETUP_RETRY_MAX_ATTEMPTS": "3",
            "SETUP_CLUSTER_TIMEOUT_SECONDS": "60",
        }
    )
    arm = settings.arm_settings
    assert (arm.endpoint, arm.ca_bundle, arm.scope, arm.polling_interval) == (
        "https://127.0.0.1:8443",
        "/tmp/ca.pem",
        "https://x/.default",
        0.0,
    )
    assert settings.timing == {
        "pollIntervalSeconds": 0.2,
        "retryFirstSeconds": 0.05,
        "retryMaxSeconds": 1,
        "retryMaxAttempts": 3,
        "clusterTimeoutSeconds": 60,
    }


def test_empty_values_mean_default() -> None:
    assert Settings.from_env({"ARM_CA_BUNDLE": "", "SETUP_RETRY_MAX_ATTEMPTS": " "}) == Settings()


def test_every_bad_setting_is_reported_without_its_value() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {
                "ARM_ENDPOINT": "http://user:secret@host",
                "SETUP_POLL_INTERVAL_SECONDS": "fast",
                "SETUP_RETRY_MAX_ATTEMPTS": "2.5",
                "SETUP_RETRY_FIRST_SECONDS": "-1",
                "SETUP_CLUSTER_TIMEOUT_SECONDS": "inf",
                "ARM_POLLING_INTERVAL": "-3",
            }
        )
    problems = caught.value.problems
    assert [p.split()[0] for p in problems] == [
        "ARM_ENDPOINT",
        "ARM_POLLING_INTERVAL",
        "SETUP_POLL_INTERVAL_SECONDS",
        "SETUP_RETRY_FIRST_SECONDS",
        "SETUP_RETRY_MAX_ATTEMPTS",
        "SETUP_CLUSTER_TIMEOUT_SECONDS",
    ]
    assert "secret" not in str(caught.value)


def test_retry_max_must_not_be_below_first() -> None:
    with pytest.raises(SettingsError, match="SETUP_RETRY_MAX_SECONDS must be >= SETUP_RETRY_FIRST_SECONDS"):
        Settings.from_env({"SETUP_RETRY_FIRST_SECONDS": "10", "SETUP_RETRY_MAX_SECONDS": "5"})
