"""Azure naming rules, the names a run derives, and ARM resource ids.

The naming rules double as a guard: every user-supplied name ends up in an ARM URL path, so a name that passes
here cannot contain `/`, `?`, `%`, `#` or `..` segments.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass

# Fixed namespace for every uuid5 this app derives (instance ids, role assignment names). Never change it:
# re-runs find their earlier work through these names.
NAMESPACE = uuid.UUID("8f0d5a3c-6b1e-5c8e-9a47-2d3b1f6e4c10")

MAX_DERIVED_NAME = 80
NODE_RESOURCE_GROUP_MAX = 80


@dataclass(frozen=True)
class NameRule:
    """One Azure naming rule: length bounds, allowed pattern, and the rule in words."""

    kind: str
    min_length: int
    max_length: int
    pattern: re.Pattern[str]
    rule: str

    def error(self, value: object) -> str | None:
        """The rule's message when `value` breaks it, else None. Never raises."""
        if not isinstance(value, str):
            return f"must be a string; {self.rule}"
        if not self.min_length <= len(value) <= self.max_length or not self.pattern.fullmatch(value):
            return self.rule
        return None

    def is_valid(self, value: object) -> bool:
        return self.error(value) is None


def _rule(kind: str, min_length: int, max_length: int, pattern: str, rule: str) -> NameRule:
    return NameRule(kind, min_length, max_length, re.compile(pattern), rule)


# Python's \w is Unicode-aware like .NET's, which is what ARM uses for resource group names.
RESOURCE_GROUP = _rule(
    "resource group", 1, 90, r"[-\w.()]*[-\w()]",
    "resource group name must be 1-90 characters of letters, digits, '_', '-', '.', '(' or ')' "
    "and must not end with '.'",
)
IDENTITY = _rule(
    "managed identity", 3, 128, r"[A-Za-z0-9][A-Za-z0-9_-]*",
    "managed identity name must be 3-128 characters of a-z, A-Z, 0-9, '-' or '_', starting with a letter "
    "or digit",
)
AKS_CLUSTER = _rule(
    "AKS cluster", 1, 63, r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?",
    "AKS cluster name must be 1-63 characters of a-z, A-Z, 0-9, '-' or '_', starting and ending with a "
    "letter or digit",
)
CONTAINER_REGISTRY = _rule(
    "container registry", 5, 50, r"[A-Za-z0-9]+",
    "container registry name must be 5-50 alphanumeric characters (a-z, A-Z, 0-9)",
)
# Microsoft.Network names (vnets and their children, private DNS links) share one character rule.
_NETWORK_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?"


def _network_rule(kind: str, label: str, min_length: int, max_length: int) -> NameRule:
    return _rule(
        kind, min_length, max_length, _NETWORK_NAME,
        f"{label} name must be {min_length}-{max_length} characters of a-z, A-Z, 0-9, '-', '.' or '_', "
        "starting with a letter or digit and ending with a letter, digit or '_'",
    )


VIRTUAL_NETWORK = _network_rule("virtual network", "virtual network", 2, 64)
SUBNET = _network_rule("subnet", "subnet", 1, 80)
PEERING = _network_rule("virtual network peering", "peering", 1, 80)
DNS_ZONE_LINK = _network_rule("virtual network link", "virtual network link", 1, 80)
LOCATION = _rule(
    "location", 2, 40, r"[a-z][a-z0-9]*",
    "location must be an Azure region name in lower case without spaces, e.g. northeurope",
)
VM_SIZE = _rule(
    "VM size", 1, 64, r"[A-Za-z][A-Za-z0-9_-]*",
    "VM size must be 1-64 characters of a-z, A-Z, 0-9, '_' or '-', e.g. Standard_D4s_v5",
)
KUBERNETES_VERSION = _rule(
    "Kubernetes version", 1, 20, r"[0-9]{1,3}\.[0-9]{1,3}(?:\.[0-9]{1,3})?",
    "kubernetesVersion must be null (AKS default) or a version like 1.30 or 1.30.4",
)
SUBSCRIPTION_ID = _rule(
    "subscription id", 36, 36,
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
    "subscriptionId must be a GUID like 00000000-0000-0000-0000-000000000000",
)

TAG_KEY_MAX = 512
TAG_VALUE_MAX = 256
TAG_FORBIDDEN_KEY_CHARACTERS = "<>%&\\?/"
MAX_TAGS_PER_RESOURCE = 50
# Tags every resource a run creates carries besides the user's (see DESIGN.md, orchestration input).
RUN_TAG_INSTANCE = "hopsworks-setup"
RUN_TAG_RUN = "hopsworks-setup-run"
RUN_TAGS = (RUN_TAG_INSTANCE, RUN_TAG_RUN)
MAX_USER_TAGS = MAX_TAGS_PER_RESOURCE - len(RUN_TAGS)


def tag_key_error(key: str) -> str | None:
    if not 1 <= len(key) <= TAG_KEY_MAX:
        return f"tag names must be 1-{TAG_KEY_MAX} characters"
    if any(c in TAG_FORBIDDEN_KEY_CHARACTERS for c in key):
        return "tag names must not contain any of < > % & \\ ? /"
    if key.strip().casefold() in RUN_TAGS:
        return f"tag name '{key.strip()}' is reserved: the setup sets it on everything it creates"
    return None


def tag_value_error(value: str) -> str | None:
    return f"tag values must be at most {TAG_VALUE_MAX} characters" if len(value) > TAG_VALUE_MAX else None


# ---------------------------------------------------------------- derived names


def instance_id(subscription_id: str, resource_group: str, aks_name: str) -> str:
    """Durable instance id for a target: one run at a time per (subscription, resource group, AKS name)."""
    key = f"{subscription_id.lower()}/{resource_group.lower()}/{aks_name.lower()}"
    return f"setup-{uuid.uuid5(NAMESPACE, key)}"


def role_assignment_name(scope: str, role_definition_guid: str, principal_id: str) -> str:
    """Deterministic role assignment name, so a re-run PUTs the same assignment instead of a second one.

    `role_definition_guid` may also be a full role definition id; its last segment is used.
    """
    role_guid = role_definition_guid.rstrip("/").rsplit("/", 1)[-1]
    key = f"{scope.rstrip('/').lower()}|{role_guid.lower()}|{principal_id.lower()}"
    return str(uuid.uuid5(NAMESPACE, key))


def shorten(name: str, limit: int = MAX_DERIVED_NAME) -> str:
    """`name` itself when it fits, else a prefix plus '-' and 8 hex digits of its hash (stays unique)."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{name[: limit - len(digest) - 1]}-{digest}"


def peering_names(hopsworks_vnet: str, aks_vnet: str) -> tuple[str, str]:
    """(peering on the Hopsworks vnet, peering on the AKS vnet), each at most 80 characters."""
    return shorten(f"{hopsworks_vnet}-to-{aks_vnet}"), shorten(f"{aks_vnet}-to-{hopsworks_vnet}")


def dns_link_name(hopsworks_vnet: str) -> str:
    return shorten(f"{hopsworks_vnet}-link")


def node_resource_group(resource_group: str, cluster: str, location: str) -> str:
    """The resource group AKS creates for the cluster's nodes when none is given.

    AKS does not shorten it: a name over 80 characters fails the create (InvalidParameter), see
    `node_resource_group_error`.
    """
    return f"MC_{resource_group}_{cluster}_{location}"


def node_resource_group_error(resource_group: str, cluster: str, location: str) -> str | None:
    name = node_resource_group(resource_group, cluster, location)
    if len(name) > NODE_RESOURCE_GROUP_MAX:
        return (
            f"the node resource group AKS derives, MC_<resourceGroup>_<aks.name>_<location>, must be at most "
            f"{NODE_RESOURCE_GROUP_MAX} characters (would be {len(name)}); use a shorter cluster name"
        )
    return None


# ---------------------------------------------------------------- resource ids


def subscription_scope(subscription_id: str) -> str:
    return f"/subscriptions/{subscription_id}"


def resource_group_scope(subscription_id: str, resource_group: str) -> str:
    return f"{subscription_scope(subscription_id)}/resourceGroups/{resource_group}"


def resource_id(
    subscription_id: str, resource_group: str, provider_type: str, name: str, *children: str
) -> str:
    """ARM id of a resource; `children` alternate child type and name (`"subnets", "aks-nodes"`)."""
    if len(children) % 2:
        raise ValueError("children must alternate child type and child name")
    if provider_type.count("/") != 1:
        raise ValueError("provider_type must be 'Namespace/type', e.g. Microsoft.Network/virtualNetworks")
    rid = f"{resource_group_scope(subscription_id, resource_group)}/providers/{provider_type}/{name}"
    return "/".join((rid, *children))


def role_definition_id(subscription_id: str, role_definition_guid: str) -> str:
    roles = f"{subscription_scope(subscription_id)}/providers/Microsoft.Authorization/roleDefinitions"
    return f"{roles}/{role_definition_guid}"


def identity_role_scope(subscription_id: str, resource_group: str, role_scope: str) -> str:
    """Scope of the managed identity's four guide roles: `resourceGroup` or `subscription`."""
    if role_scope == "subscription":
        return subscription_scope(subscription_id)
    if role_scope == "resourceGroup":
        return resource_group_scope(subscription_id, resource_group)
    raise ValueError("role_scope must be 'resourceGroup' or 'subscription'")


def same_resource_id(a: str | None, b: str | None) -> bool:
    """ARM ids compare case-insensitively (some providers answer `resourcegroups` in lower case)."""
    if a is None or b is None:
        return a is b
    return a.rstrip("/").casefold() == b.rstrip("/").casefold()
