"""The azure-mgmt clients the activities use, built from settings only (docs/DESIGN.md, "Settings").

- `base_url` is always passed: the authorization client hard-codes the public cloud otherwise, and it is how
  sovereign clouds and the simulated Azure are reached.
- One `DefaultAzureCredential` per process, made on first use (in Azure it reaches the Function app's managed
  identity through IDENTITY_ENDPOINT / IDENTITY_HEADER).
- Clients are cached per (client type, subscription, settings) and reused by every activity invocation in
  the worker process: the SDK pipelines keep their HTTP connection pools.

The SDK packages are imported here, inside the functions, never at module import: importing function_app must
stay light (cold start).
"""

from __future__ import annotations

import importlib
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient
    from azure.mgmt.containerservice import ContainerServiceClient
    from azure.mgmt.msi import ManagedServiceIdentityClient
    from azure.mgmt.network import NetworkManagementClient
    from azure.mgmt.privatedns import PrivateDnsManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    from provisioning.settings import ArmSettings

# client kind -> (module, class)
_CLIENT_CLASSES: dict[str, tuple[str, str]] = {
    "resource": ("azure.mgmt.resource.resources", "ResourceManagementClient"),
    "msi": ("azure.mgmt.msi", "ManagedServiceIdentityClient"),
    "authorization": ("azure.mgmt.authorization", "AuthorizationManagementClient"),
    "network": ("azure.mgmt.network", "NetworkManagementClient"),
    "containerservice": ("azure.mgmt.containerservice", "ContainerServiceClient"),
    "containerregistry": ("azure.mgmt.containerregistry", "ContainerRegistryManagementClient"),
    "privatedns": ("azure.mgmt.privatedns", "PrivateDnsManagementClient"),
}

# Everything the activities import from the Azure SDKs, in an order that loads dependencies first.
_SDK_MODULES = (
    "azure.core.exceptions",
    "azure.core.pipeline",
    "azure.identity",
    "azure.mgmt.core.tools",
    *(module for module, _ in _CLIENT_CLASSES.values()),
    *(f"{module}.models" for module, _ in _CLIENT_CLASSES.values()),
)

_lock = threading.Lock()
_import_lock = threading.Lock()
_sdks_imported = False
_credential: TokenCredential | None = None
_clients: dict[tuple[str, str, ArmSettings], Any] = {}


def import_sdks() -> None:
    """Import the Azure SDKs once per process, one thread at a time, before the first activity runs.

    Activities run on a thread pool (the Python worker's, or the local host's), and the SDKs are imported
    lazily to keep start-up light. Left alone, the first activities after a start import azure.core and
    the mgmt packages from several threads at once; their modules import each other, and Python's
    per-module import locks then raise `_DeadlockError` or hand a thread a half-initialised module
    ("cannot import name 'Pipeline'"). Seen when the local host was killed and restarted mid-run. The
    first activity (preflight) touches every client anyway, so this costs nothing extra.
    """
    global _sdks_imported
    if _sdks_imported:
        return
    with _import_lock:
        if not _sdks_imported:
            for module in _SDK_MODULES:
                importlib.import_module(module)
            _sdks_imported = True


def settings() -> ArmSettings:
    """ARM_ENDPOINT, ARM_SCOPE, ARM_CA_BUNDLE, ARM_POLLING_INTERVAL from the environment (app settings)."""
    from provisioning.settings import Settings  # when an activity first runs, not at indexing (cold start)

    return Settings.from_env(os.environ).arm_settings


def _transport_options(current: ArmSettings) -> dict[str, Any]:
    return {"connection_verify": current.ca_bundle} if current.ca_bundle else {}


def credential() -> TokenCredential:
    """The process-wide DefaultAzureCredential, created on first use."""
    global _credential
    with _lock:
        if _credential is None:
            from azure.identity import DefaultAzureCredential

            # The CA bundle also covers an https identity endpoint (the simulated Azure serves one).
            _credential = DefaultAzureCredential(**_transport_options(settings()))
        return _credential


def client_options(current: ArmSettings) -> dict[str, Any]:
    """Keyword arguments every management client gets, from settings only."""
    options: dict[str, Any] = {
        "base_url": current.endpoint,
        "credential_scopes": [current.scope],
        **_transport_options(current),
    }
    if current.polling_interval is not None:
        options["polling_interval"] = current.polling_interval
    return options


def client(kind: str, subscription_id: str) -> Any:
    """The cached management client of `kind` (see _CLIENT_CLASSES) for `subscription_id`."""
    current = settings()
    key = (kind, subscription_id.lower(), current)
    with _lock:
        cached = _clients.get(key)
    if cached is not None:
        return cached
    module_name, class_name = _CLIENT_CLASSES[kind]
    client_class = getattr(importlib.import_module(module_name), class_name)
    made = client_class(credential(), subscription_id, **client_options(current))
    with _lock:
        return _clients.setdefault(key, made)


def reset() -> None:
    """Forget the credential and every cached client (a test that changes settings between runs)."""
    global _credential
    with _lock:
        _credential = None
        _clients.clear()


def resources(subscription_id: str) -> ResourceManagementClient:
    return client("resource", subscription_id)


def msi(subscription_id: str) -> ManagedServiceIdentityClient:
    return client("msi", subscription_id)


def authorization(subscription_id: str) -> AuthorizationManagementClient:
    return client("authorization", subscription_id)


def network(subscription_id: str) -> NetworkManagementClient:
    return client("network", subscription_id)


def containerservice(subscription_id: str) -> ContainerServiceClient:
    return client("containerservice", subscription_id)


def containerregistry(subscription_id: str) -> ContainerRegistryManagementClient:
    return client("containerregistry", subscription_id)


def privatedns(subscription_id: str) -> PrivateDnsManagementClient:
    return client("privatedns", subscription_id)


def parse_id(resource_id: str) -> dict[str, str]:
    """The parts of an ARM resource id (`resource_group`, `name`, `child_name_1`, `subscription`...)."""
    from azure.mgmt.core.tools import parse_resource_id

    return parse_resource_id(resource_id)


def get_or_none(operation: Any, *args: Any, **kwargs: Any) -> Any:
    """`operation(*args)` (an SDK GET), or None when ARM answers 404."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return operation(*args, **kwargs)
    except ResourceNotFoundError:
        return None
