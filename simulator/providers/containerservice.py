"""Microsoft.ContainerService/managedClusters (api-version 2026-08-01, what azure-mgmt-containerservice 41.8.0
sends), as AKS answers.

* PUT: 201 (created) / 200 (updated) with ``provisioningState`` Creating/Updating and an
  ``Azure-AsyncOperation`` URL; minutes long (core ``LATENCY``, scaled). A write while an operation runs ->
  409 ``OperationNotAllowed``. DELETE: 202 with ``Location`` (and ``Azure-AsyncOperation``), allowed while an
  update runs (that one ends ``Canceled``) but 409 ``OperationNotAllowed`` while the create runs ("Operation
  is not allowed because there's an in progress create managed cluster operation ..."); 204 when absent.
* While the create (or a PUT repairing a Failed/Canceled cluster) runs, the node vnet is held
  (``Operation.holds``): the Network RP answers writes into it
  409 ``AnotherOperationInProgress`` (see network.py). A create started while that vnet, a subnet or a peering
  of it has an operation running, or while the vnet or node subnet is Failed/Canceled, ends Failed with
  ``ReferencedResourceNotProvisioned`` (the cluster is left Failed; a PUT once the network is right repairs
  it). When the cluster is gone, so are its
  node resource group (kubelet identity, private DNS zone ...) and its principals, and its node subnet is
  free again.
* What AKS makes by itself, at the PUT: the node resource group ``MC_<rg>_<cluster>_<location>`` (or
  ``nodeResourceGroup``), the system-assigned identity (``identity.principalId``/``tenantId``), the
  kubelet identity (a user-assigned identity ``<cluster>-agentpool`` in the node group,
  ``properties.identityProfile.kubeletidentity.{resourceId,clientId,objectId}``), for a private cluster
  with the ``system`` zone the private DNS zone ``<guid>.privatelink.<location>.azmk8s.io`` in the node
  group linked to the cluster's vnet, with ``privateFQDN`` = ``<dnsPrefix>-<hash>.<zone>``; the node
  subnet is marked in use. Without ``vnetSubnetID`` the cluster gets its own vnet (10.224.0.0/12) in the
  node group. All principals are registered, so role assignments can name them. A failed operation shows
  ``status.provisioningError``.
* Validations: ``identity`` (SystemAssigned/UserAssigned, the user-assigned one must exist) or a
  ``servicePrincipalProfile``; at least one agent pool; ``networkPlugin`` azure/kubenet/none (overlay only
  with azure); the node subnet must exist (``SubnetNotFound``); ``serviceCidr`` a CIDR outside AKS's
  reserved ranges (169.254.0.0/16, 172.30.0.0/16, 172.31.0.0/16, 192.0.2.0/24) -> ``InvalidServiceCidr``,
  overlapping neither the vnet's address space nor its subnets ->
  ``ServiceCidrOverlapExistingSubnetsCidr``; ``serviceCidr`` and ``dnsServiceIP`` given together, the IP
  inside the range and neither its first nor its network address -> ``InvalidDNSServiceIP``; a supported
  ``kubernetesVersion`` -> ``K8sVersionNotSupported``; immutable properties (serviceCidr, dnsServiceIP,
  networkPlugin, node subnet, dnsPrefix, private cluster) -> ``PropertyChangeNotAllowed``.

Codes Azure gives (public issue threads): ``OperationNotAllowed``, ``SubnetNotFound`` (with AKS's text),
``ServiceCidrOverlapExistingSubnetsCidr``, ``K8sVersionNotSupported``, ``PropertyChangeNotAllowed``,
``InvalidParameter``. Chosen here without a recorded answer: ``InvalidServiceCidr`` and
``InvalidDNSServiceIP``.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import re
import uuid
from typing import Any

from simulator.arm import TENANT_ID, Arm, ArmError, Operation, Request, Resource, Response, new_guid
from simulator.providers import network, privatedns

API_VERSIONS = {"2026-08-01", "2026-06-01", "2026-05-01", "2026-01-01", "2025-10-01"}
TYPE = "Microsoft.ContainerService/managedClusters"
IDENTITY_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
RG_PATH = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
CLUSTERS = RG_PATH + "/providers/Microsoft.ContainerService/managedClusters"
CLUSTER = CLUSTERS + "/{resourceName}"

RESERVED_RANGES = [
    ipaddress.ip_network(n) for n in ("169.254.0.0/16", "172.30.0.0/16", "172.31.0.0/16", "192.0.2.0/24")
]
MANAGED_VNET_SPACE = "10.224.0.0/12"
MANAGED_SUBNET = "10.224.0.0/16"
DEFAULT_SERVICE_CIDR = "10.0.0.0/16"
DEFAULT_DNS_SERVICE_IP = "10.0.0.10"
DEFAULT_POD_CIDR = "10.244.0.0/16"
# Minor version -> the patch AKS picks; any patch of these minors is accepted.
KUBERNETES_VERSIONS = {
    "1.30": "1.30.14",
    "1.31": "1.31.11",
    "1.32": "1.32.7",
    "1.33": "1.33.3",
    "1.34": "1.34.1",
}
DEFAULT_KUBERNETES_MINOR = "1.33"
_NAME = re.compile(r"^[a-zA-Z0-9]$|^[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]$")
_POOL_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")


def register(arm: Arm) -> None:
    v = API_VERSIONS
    arm.route("PUT", CLUSTER, put_cluster, resource_type=TYPE, api_versions=v)
    arm.route("GET", CLUSTER, get_cluster, resource_type=TYPE, api_versions=v)
    arm.route("DELETE", CLUSTER, delete_cluster, resource_type=TYPE, api_versions=v)
    arm.route("GET", CLUSTERS, list_clusters, resource_type=TYPE, api_versions=v)
    arm.route(
        "GET",
        "/subscriptions/{subscriptionId}/providers/Microsoft.ContainerService/managedClusters",
        list_all_clusters,
        resource_type=TYPE,
        api_versions=v,
    )


def _invalid(message: str, code: str = "InvalidParameter") -> ArmError:
    return ArmError(400, code, message)


def _norm(location: Any) -> str:
    return str(location or "").replace(" ", "").lower()


# ----- validation (pure apart from store reads) --------------------------------------------------------
def _check_identity(arm: Arm, body: dict[str, Any], props: dict[str, Any]) -> dict[str, Any] | None:
    identity = body.get("identity")
    if identity is None:
        sp = props.get("servicePrincipalProfile") or {}
        if not sp.get("clientId"):
            raise _invalid(
                "Either identity (SystemAssigned or UserAssigned) or servicePrincipalProfile.clientId must "
                "be "
                "specified for a managed cluster."
            )
        return None
    kind = str(identity.get("type") or "")
    if kind not in ("SystemAssigned", "UserAssigned"):
        raise _invalid(
            f"The value '{kind}' of parameter identity.type is invalid: it must be SystemAssigned or "
            "UserAssigned."
        )
    if kind == "UserAssigned":
        given = identity.get("userAssignedIdentities") or {}
        if len(given) != 1:
            raise _invalid("identity.userAssignedIdentities must name exactly one user-assigned identity.")
        (uid,) = given
        if arm.store.get(uid) is None:
            raise _invalid(
                f"The user-assigned identity '{uid}' given in identity.userAssignedIdentities was not found."
            )
    return identity


def _kubernetes_version(requested: Any) -> str:
    text = str(requested or "")
    if not text:
        return KUBERNETES_VERSIONS[DEFAULT_KUBERNETES_MINOR]
    m = re.fullmatch(r"(\d+\.\d+)(\.\d+)?", text)
    if not m or m.group(1) not in KUBERNETES_VERSIONS:
        raise ArmError(
            400,
            "K8sVersionNotSupported",
            f"Version {text} is not supported in this region. Please use [az aks get-versions] command to "
            "get the "
            "supported version list in this region. Supported minor versions: "
            f"{', '.join(KUBERNETES_VERSIONS)}.",
        )
    return text if m.group(2) else KUBERNETES_VERSIONS[m.group(1)]


def _subnet_and_vnet(arm: Arm, subnet_id: str) -> tuple[Resource, Resource]:
    m = re.fullmatch(
        r"/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.Network/virtualNetworks/([^/]+)"
        r"/subnets/([^/]+)",
        subnet_id.rstrip("/"),
        re.IGNORECASE,
    )
    if not m:
        raise _invalid(
            f"The value of parameter agentPoolProfile.vnetSubnetID '{subnet_id}' is not a subnet id."
        )
    sub, rg, vnet_name, subnet_name = m.groups()
    vnet = arm.store.get(subnet_id.rsplit("/subnets/", 1)[0])
    subnet = arm.store.get(subnet_id)
    if vnet is None or subnet is None:
        raise ArmError(
            400,
            "SubnetNotFound",
            f"Could not find subnet {subnet_name} in vnet {vnet_name} from resource group {rg} of "
            f"subscription {sub}.",
        )
    return subnet, vnet


def _cidr(text: Any, field: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        net = ipaddress.ip_network(str(text), strict=True)
    except ValueError as exc:
        raise _invalid(
            f"The value '{text}' of networkProfile.{field} is not a valid CIDR (a network address with no "
            "host "
            "bits set, e.g. 10.0.0.0/16).",
            "InvalidServiceCidr",
        ) from exc
    return net


def check_network(
    arm: Arm, props: dict[str, Any], node_subnet_id: str | None
) -> tuple[dict[str, Any], Resource | None, Resource | None]:
    """Validate networkProfile against the node subnet; return (profile with defaults, subnet, vnet)."""
    profile = copy.deepcopy(props.get("networkProfile") or {})
    plugin = profile.get("networkPlugin") or "kubenet"
    if plugin not in ("azure", "kubenet", "none"):
        raise _invalid(
            f"The value '{plugin}' of networkProfile.networkPlugin is invalid: azure, kubenet or none."
        )
    profile["networkPlugin"] = plugin
    mode = profile.get("networkPluginMode")
    if mode is not None and (mode != "overlay" or plugin != "azure"):
        raise _invalid(
            "networkProfile.networkPluginMode 'overlay' is only allowed with networkPlugin 'azure'."
        )
    subnet = vnet = None
    if node_subnet_id:
        subnet, vnet = _subnet_and_vnet(arm, node_subnet_id)
    cidr_text, dns_text = profile.get("serviceCidr"), profile.get("dnsServiceIP")
    if bool(cidr_text) != bool(dns_text):
        raise _invalid(
            "networkProfile.serviceCidr and networkProfile.dnsServiceIP must be given together (or both "
            "left out).",
            "InvalidDNSServiceIP" if cidr_text else "InvalidServiceCidr",
        )
    cidr = _cidr(cidr_text or DEFAULT_SERVICE_CIDR, "serviceCidr")
    for reserved in RESERVED_RANGES:
        if network.overlaps(cidr, reserved):
            raise _invalid(
                f"The service CIDR {cidr} overlaps the range {reserved} that AKS reserves "
                "(169.254.0.0/16, 172.30.0.0/16, 172.31.0.0/16, 192.0.2.0/24).",
                "InvalidServiceCidr",
            )
    if vnet is not None:
        spaces = [(f"virtual network address space {p}", p) for p in network._vnet_prefixes(vnet)]
        subnets = [
            (f"subnet CIDR {t}", ipaddress.ip_network(t, strict=False))
            for s in network._children(arm, vnet.id, network.SUBNET_TYPE)
            for t in network.subnet_prefix_texts(s.body["properties"])
        ]
        for what, net in subnets + spaces:
            if network.overlaps(cidr, net):
                raise ArmError(
                    400,
                    "ServiceCidrOverlapExistingSubnetsCidr",
                    f"The specified service CIDR {cidr} is conflicted with an existing {what}. Please see "
                    "https://aka.ms/aks/servicecidroverlap for how to fix the error.",
                )
    elif network.overlaps(cidr, ipaddress.ip_network(MANAGED_VNET_SPACE)):
        raise ArmError(
            400,
            "ServiceCidrOverlapExistingSubnetsCidr",
            f"The specified service CIDR {cidr} is conflicted with the cluster's virtual network "
            f"{MANAGED_VNET_SPACE}.",
        )
    try:
        dns_ip = ipaddress.ip_address(str(dns_text or DEFAULT_DNS_SERVICE_IP))
    except ValueError as exc:
        raise _invalid(
            f"networkProfile.dnsServiceIP '{dns_text}' is not an IP address.", "InvalidDNSServiceIP"
        ) from exc
    if dns_ip not in cidr or dns_ip in (cidr.network_address, cidr.network_address + 1):
        raise _invalid(
            f"The DNS service IP {dns_ip} must be inside the service CIDR {cidr} and must not be its network "
            f"address or its first address ({cidr.network_address + 1}, kept for the kubernetes service).",
            "InvalidDNSServiceIP",
        )
    profile["serviceCidr"] = str(cidr)
    profile["serviceCidrs"] = [str(cidr)]
    profile["dnsServiceIP"] = str(dns_ip)
    if plugin == "kubenet" or mode == "overlay":
        profile.setdefault("podCidr", DEFAULT_POD_CIDR)
        profile["podCidrs"] = [profile["podCidr"]]
    profile.setdefault("outboundType", "loadBalancer")
    profile.setdefault("loadBalancerSku", "standard")
    profile.setdefault("ipFamilies", ["IPv4"])
    return profile, subnet, vnet


def _pools(props: dict[str, Any]) -> list[dict[str, Any]]:
    pools = props.get("agentPoolProfiles") or []
    if not pools:
        raise _invalid("A managed cluster needs at least one agent pool in agentPoolProfiles.")
    names: set[str] = set()
    for pool in pools:
        name = str(pool.get("name") or "")
        if not _POOL_NAME.match(name):
            raise _invalid(
                f"Agent pool name '{name}' is invalid: lowercase letters and digits, starting with a letter, "
                "at most 12 characters."
            )
        if name in names:
            raise _invalid(f"Agent pool name '{name}' is used twice.")
        names.add(name)
        count = pool.get("count", 1)
        if not isinstance(count, int) or not 0 <= count <= 1000:
            raise _invalid(f"The value of parameter agentPoolProfile.count ({count}) is invalid: 0 to 1000.")
    if not any(p.get("mode", "System") == "System" for p in pools):
        raise _invalid("A managed cluster needs at least one agent pool with mode System.")
    subnet_ids = {str(p.get("vnetSubnetID") or "") for p in pools}
    if len({s.lower() for s in subnet_ids if s}) > 1 or ("" in subnet_ids and len(subnet_ids) > 1):
        raise _invalid("All agent pools must use a vnetSubnetID in the same virtual network, or none.")
    return pools


_IMMUTABLE = [
    ("networkProfile.networkPlugin", lambda b: b["properties"]["networkProfile"].get("networkPlugin")),
    ("networkProfile.serviceCidr", lambda b: b["properties"]["networkProfile"].get("serviceCidr")),
    ("networkProfile.dnsServiceIP", lambda b: b["properties"]["networkProfile"].get("dnsServiceIP")),
    ("dnsPrefix", lambda b: b["properties"].get("dnsPrefix")),
    (
        "apiServerAccessProfile.enablePrivateCluster",
        lambda b: bool((b["properties"].get("apiServerAccessProfile") or {}).get("enablePrivateCluster")),
    ),
    (
        "agentPoolProfiles.vnetSubnetID",
        lambda b: (b["properties"]["agentPoolProfiles"][0].get("vnetSubnetID") or "").lower(),
    ),
]


# ----- handlers ----------------------------------------------------------------------------------------
def put_cluster(arm: Arm, req: Request) -> Response:
    rid = req.resource_id
    name = req.params["resourceName"]
    if not _NAME.match(name):
        raise _invalid(
            f"Resource name '{name}' is invalid: 1-63 letters, digits, '-' or '_', starting and ending with "
            "a "
            "letter or digit.",
            "InvalidResourceName",
        )
    body = req.json_object()
    location = body.get("location")
    if not location:
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    existing = arm.store.get(rid)
    if existing is not None:
        arm.ensure_idle(rid, "OperationNotAllowed", message=_busy_message(arm, rid))
        if _norm(existing.body["location"]) != _norm(location):
            raise _invalid(
                f"The location of managed cluster '{name}' cannot be changed from "
                f"'{existing.body['location']}' to '{location}'.",
                "PropertyChangeNotAllowed",
            )
    props = copy.deepcopy(body.get("properties") or {})
    identity = _check_identity(arm, body, props)
    pools = _pools(props)
    node_subnet_id = next((p["vnetSubnetID"] for p in pools if p.get("vnetSubnetID")), None)
    profile, subnet, vnet = check_network(arm, props, node_subnet_id)
    version = _kubernetes_version(props.get("kubernetesVersion"))
    dns_prefix = props.get("dnsPrefix")
    if not dns_prefix and not props.get("fqdnSubdomain"):
        dns_prefix = f"{name[:10]}-{req.resource_group[:16]}-{req.subscription_id[:6]}"
    new_body = _build_body(arm, req, existing, body, props, identity, pools, profile, version, dns_prefix)
    if existing is not None:
        for label, read in _IMMUTABLE:
            if read(existing.body) != read(new_body):
                raise _invalid(
                    f"Changing property '{label}' is not allowed (from '{read(existing.body)}' to "
                    f"'{read(new_body)}').",
                    "PropertyChangeNotAllowed",
                )
    # A create, or a PUT that repairs a Failed/Canceled cluster, (re)builds the node pools in the node subnet.
    builds_nodes = existing is None or existing.body["properties"].get("provisioningState") in (
        "Failed",
        "Canceled",
    )
    principals = _make_side_effects(arm, req, existing, new_body, vnet)
    arm.store.put(rid, TYPE, new_body, internal={"principals": principals, "nodeSubnet": node_subnet_id})
    if subnet is not None:
        network.mark_subnet_in_use(arm, subnet.id, _vmss_ip_configuration(new_body))
    not_provisioned = _node_network_not_provisioned(arm, subnet, vnet, new_body) if builds_nodes else None
    response = arm.start_lro(
        req,
        rid,
        "update" if existing is not None else "create",
        status=200 if existing is not None else 201,
        body=render(new_body),
        headers=("Azure-AsyncOperation",),
        on_done=_cluster_written,
    )
    op = arm.active_operation(rid)
    if op is not None and builds_nodes and vnet is not None:
        # While AKS builds the nodes it writes into the node vnet (NICs, VMSS): the Network RP refuses other
        # writes there until that operation ends (see network.py, AnotherOperationInProgress).
        op.holds.append(vnet.id)
    if op is not None and not_provisioned is not None and op.outcome == "Succeeded":
        op.outcome = "Failed"
        op.error = not_provisioned
    return response


def _node_network_not_provisioned(
    arm: Arm, subnet: Resource | None, vnet: Resource | None, cluster: dict[str, Any]
) -> dict[str, str] | None:
    """The error a create ends with when the node network is not Succeeded (busy, Failed or Canceled).

    AKS accepts the PUT (the subnet exists) and then fails creating the node pool's NICs: the Network RP
    refuses a NIC in a subnet that is not provisioned. Failed AKS creates seen in the wild carry the Network
    RP's code and text (``ReferencedResourceNotProvisioned``, "Cannot proceed with operation because resource
    <subnet> used by resource <nic> is not in Succeeded state. Resource is in Updating state and the last
    operation that updated/is updating the resource is PutSubnetOperation."), so the operation ends Failed
    with that code here too; the cluster stays behind Failed, as a failed AKS create does.
    """
    if subnet is None or vnet is None:
        return None
    busy = arm.active_operation(vnet.id, include_children=True) or arm.holding_operation(vnet.id)
    state = None
    last = "PutSubnetOperation"
    if busy is not None:
        state = {"delete": "Deleting"}.get(busy.kind, "Updating")
        last = network.operation_name(busy)
    else:
        for res in (vnet, subnet):
            current = (res.body.get("properties") or {}).get("provisioningState", "Succeeded")
            if current != "Succeeded":
                state = current
                last = "PutVirtualNetworkOperation" if res is vnet else "PutSubnetOperation"
                break
    if state is None:
        return None
    return {
        "code": "ReferencedResourceNotProvisioned",
        "message": f"Cannot proceed with operation because resource {subnet.id} used by resource "
        f"{_vmss_ip_configuration(cluster)} is not in Succeeded state. Resource is in {state} state and the "
        f"last operation that updated/is updating the resource is {last}.",
    }


def _busy_message(arm: Arm, rid: str) -> str:
    """AKS's text for a write while an operation runs (its public wording, with the aka.ms link it gives)."""
    op = arm.active_operation(rid)
    what = {"create": "create", "update": "update", "delete": "delete"}.get(op.kind if op else "", "")
    return (
        f"Operation is not allowed because there's an in progress {what} managed cluster operation "
        f"(ID: {op.id if op else ''}) started at {op.start_time if op else ''}. Please wait for it to finish "
        "before starting a new operation. See https://aka.ms/aks-pending-operation for more details."
    )


def _hash(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).lower().encode()).hexdigest()[:8]


def _build_body(
    arm: Arm,
    req: Request,
    existing: Resource | None,
    body: dict[str, Any],
    props: dict[str, Any],
    identity: dict[str, Any] | None,
    pools: list[dict[str, Any]],
    profile: dict[str, Any],
    version: str,
    dns_prefix: str | None,
) -> dict[str, Any]:
    rid = req.resource_id
    name = req.params["resourceName"]
    location = body["location"]
    loc = _norm(location)
    old = existing.body if existing is not None else None
    old_props = old["properties"] if old else {}
    node_rg = (
        old_props.get("nodeResourceGroup")
        or props.get("nodeResourceGroup")
        or (f"MC_{req.resource_group}_{name}_{loc}")
    )
    state = "Updating" if existing is not None else "Creating"
    out_props = {k: v for k, v in props.items() if k not in ("servicePrincipalProfile", "windowsProfile")}
    if props.get("servicePrincipalProfile"):
        out_props["servicePrincipalProfile"] = {"clientId": props["servicePrincipalProfile"].get("clientId")}
    if props.get("windowsProfile"):
        wp = {k: v for k, v in props["windowsProfile"].items() if k != "adminPassword"}
        out_props["windowsProfile"] = wp
    out_props["provisioningState"] = state
    out_props["powerState"] = {"code": "Running"}
    out_props["kubernetesVersion"] = version
    out_props["currentKubernetesVersion"] = version
    out_props["nodeResourceGroup"] = node_rg
    out_props["networkProfile"] = profile
    out_props["maxAgentPools"] = 100
    out_props.setdefault("enableRBAC", True)
    out_props["agentPoolProfiles"] = [
        {
            **copy.deepcopy(p),
            "count": p.get("count", 1),
            "mode": p.get("mode", "System"),
            "osType": p.get("osType", "Linux"),
            "type": p.get("type", "VirtualMachineScaleSets"),
            "maxPods": p.get(
                "maxPods",
                30 if profile["networkPlugin"] == "azure" and not profile.get("networkPluginMode") else 110,
            ),
            "orchestratorVersion": version,
            "currentOrchestratorVersion": version,
            "provisioningState": state,
            "powerState": {"code": "Running"},
        }
        for p in pools
    ]
    if dns_prefix:
        out_props["dnsPrefix"] = dns_prefix
    fqdn_label = f"{dns_prefix}-{_hash(rid)}" if dns_prefix else None
    access = copy.deepcopy(props.get("apiServerAccessProfile") or {})
    private = bool(access.get("enablePrivateCluster"))
    if private:
        access.setdefault("privateDNSZone", "system")
        zone_setting = str(access["privateDNSZone"])
        if zone_setting.lower() == "system":
            zone_name = _system_zone_name(old_props) or f"{uuid.uuid4()}.privatelink.{loc}.azmk8s.io"
            out_props["privateFQDN"] = f"{fqdn_label}.{zone_name}"
        elif zone_setting.lower() == "none":
            out_props["privateFQDN"] = f"{fqdn_label}.{loc}.azmk8s.io"
        else:
            zone_name = zone_setting.rstrip("/").rsplit("/", 1)[-1]
            label = props.get("fqdnSubdomain") or fqdn_label
            out_props["privateFQDN"] = f"{label}.{zone_name}"
        if access.get("enablePrivateClusterPublicFQDN", True) and fqdn_label:
            out_props["fqdn"] = f"{fqdn_label}.hcp.{loc}.azmk8s.io"
        else:
            out_props.pop("fqdn", None)
        out_props["apiServerAccessProfile"] = access
    elif fqdn_label:
        out_props["fqdn"] = f"{fqdn_label}.hcp.{loc}.azmk8s.io"
    if fqdn_label:
        out_props["azurePortalFQDN"] = f"{fqdn_label}.portal.hcp.{loc}.azmk8s.io"
    cluster: dict[str, Any] = {
        "id": rid,
        "name": name,
        "type": TYPE,
        "location": location,
        "eTag": new_guid(),
        "properties": out_props,
    }
    if "tags" in body or (old and "tags" in old):
        cluster["tags"] = dict(body.get("tags") if "tags" in body else old.get("tags") or {})  # type: ignore[union-attr]
    if body.get("sku"):
        cluster["sku"] = copy.deepcopy(body["sku"])
    if identity is not None:
        cluster["identity"] = _identity_out(arm, identity, old)
    return cluster


def _system_zone_name(old_props: dict[str, Any]) -> str | None:
    fqdn = old_props.get("privateFQDN") or ""
    zone = fqdn.split(".", 1)[1] if "." in fqdn else ""
    return zone if ".privatelink." in zone and zone.split(".", 1)[0].count("-") == 4 else None


def _identity_out(arm: Arm, identity: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    old_identity = (old or {}).get("identity") or {}
    if identity["type"] == "SystemAssigned":
        if old_identity.get("type") == "SystemAssigned":
            return copy.deepcopy(old_identity)
        return {"type": "SystemAssigned", "principalId": new_guid(), "tenantId": TENANT_ID}
    (uid,) = identity["userAssignedIdentities"]
    stored = arm.store.get(uid)
    uprops = (stored.body.get("properties") or {}) if stored else {}
    return {
        "type": "UserAssigned",
        "userAssignedIdentities": {
            uid: {"principalId": uprops.get("principalId"), "clientId": uprops.get("clientId")}
        },
    }


def _make_side_effects(
    arm: Arm, req: Request, existing: Resource | None, cluster: dict[str, Any], vnet: Resource | None
) -> list[str]:
    """Node resource group, kubelet identity, private zone (+ link to the cluster vnet), managed vnet."""
    props = cluster["properties"]
    sub = req.subscription_id
    node_rg = props["nodeResourceGroup"]
    location = cluster["location"]
    principals: list[str] = []
    if arm.resource_group(sub, node_rg) is None:
        arm.add_resource_group(sub, node_rg, location)
        group = arm.resource_group(sub, node_rg)
        if group is not None:
            group.body["managedBy"] = cluster["id"]
            group.body.setdefault("tags", {})["aks-managed-cluster-name"] = cluster["name"]
    identity = cluster.get("identity") or {}
    if identity.get("type") == "SystemAssigned":
        principals.append(identity["principalId"])
        arm.register_principal(identity["principalId"], "ServicePrincipal")
    kubelet_name = f"{cluster['name']}-agentpool"
    kubelet_id = f"/subscriptions/{sub}/resourcegroups/{node_rg}/providers/{IDENTITY_TYPE}/{kubelet_name}"
    kubelet = arm.store.get(kubelet_id)
    if kubelet is None:
        object_id = new_guid()
        kubelet = arm.store.put(
            kubelet_id,
            IDENTITY_TYPE,
            {
                "id": kubelet_id,
                "name": kubelet_name,
                "type": IDENTITY_TYPE,
                "location": location,
                "tags": {},
                "properties": {
                    "tenantId": TENANT_ID,
                    "principalId": object_id,
                    "clientId": new_guid(),
                    "isolationScope": "None",
                },
            },
            internal={"principals": [object_id]},
        )
        arm.register_principal(object_id, "ServicePrincipal")
    kprops = kubelet.body["properties"]
    props["identityProfile"] = {
        "kubeletidentity": {
            "resourceId": kubelet.id,
            "clientId": kprops["clientId"],
            "objectId": kprops["principalId"],
        }
    }
    node_rg_id = f"/subscriptions/{sub}/resourceGroups/{node_rg}"
    if vnet is None:
        vnet = _managed_vnet(arm, node_rg_id, location)
        for pool in props["agentPoolProfiles"]:
            pool.setdefault("vnetSubnetID", None)
        network.mark_subnet_in_use(arm, vnet.id + "/subnets/aks-subnet", _vmss_ip_configuration(cluster))
    access = props.get("apiServerAccessProfile") or {}
    if access.get("enablePrivateCluster") and str(access.get("privateDNSZone", "")).lower() == "system":
        zone_name = props["privateFQDN"].split(".", 1)[1]
        zone = privatedns.create_system_zone(arm, sub, node_rg, zone_name)
        link_name = f"{vnet.body['name'][:60]}-{_hash(vnet.id)}"
        if arm.store.get(f"{zone.id}/virtualNetworkLinks/{link_name}") is None:
            privatedns.create_system_link(arm, zone, link_name, vnet.id)
    return principals


def _managed_vnet(arm: Arm, node_rg_id: str, location: str) -> Resource:
    name = f"aks-vnet-{int(_hash(node_rg_id), 16) % 100000000:08d}"
    vid = f"{node_rg_id}/providers/{network.VNET_TYPE}/{name}"
    vnet = arm.store.get(vid)
    if vnet is not None:
        return vnet
    vnet = arm.store.put(
        vid,
        network.VNET_TYPE,
        {
            "name": name,
            "id": vid,
            "etag": f'W/"{uuid.uuid4()}"',
            "type": network.VNET_TYPE,
            "location": location,
            "properties": {
                "addressSpace": {"addressPrefixes": [MANAGED_VNET_SPACE]},
                "provisioningState": "Succeeded",
                "resourceGuid": str(uuid.uuid4()),
                "enableDdosProtection": False,
            },
        },
    )
    arm.store.put(
        vid + "/subnets/aks-subnet",
        network.SUBNET_TYPE,
        {
            "name": "aks-subnet",
            "id": vid + "/subnets/aks-subnet",
            "etag": f'W/"{uuid.uuid4()}"',
            "type": network.SUBNET_TYPE,
            "properties": {"addressPrefix": MANAGED_SUBNET, "provisioningState": "Succeeded"},
        },
        internal={"users": []},
    )
    return vnet


def _vmss_ip_configuration(cluster: dict[str, Any]) -> str:
    props = cluster["properties"]
    pool = props["agentPoolProfiles"][0]["name"]
    sub = cluster["id"].split("/")[2]
    vmss = f"aks-{pool}-{int(_hash(cluster['id']), 16) % 100000000:08d}-vmss"
    return (
        f"/subscriptions/{sub}/resourceGroups/{props['nodeResourceGroup']}/providers/Microsoft.Compute/"
        f"virtualMachineScaleSets/{vmss}/virtualMachines/0/networkInterfaces/{vmss}/ipConfigurations/ipconfig1"
    )


def _cluster_written(arm: Arm, op: Operation) -> None:
    res = arm.store.get(op.resource_id)
    if res is None:
        return
    props = res.body["properties"]
    for pool in props.get("agentPoolProfiles") or []:
        pool["provisioningState"] = op.status
    if op.status == "Succeeded":
        props.pop("status", None)
    else:
        error = op.error or {"code": op.status, "message": f"The operation ended {op.status}."}
        props["status"] = {"provisioningError": {"code": error["code"], "message": error["message"]}}


def render(body: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(body)


def get_cluster(arm: Arm, req: Request) -> Response:
    res = arm.store.get(req.resource_id)
    if res is None or res.type != TYPE:
        raise arm.not_found(req.resource_id)
    return Response(200, render(res.body))


def list_clusters(arm: Arm, req: Request) -> Response:
    prefix = f"/subscriptions/{req.subscription_id}/resourceGroups/{req.resource_group}/".lower()
    return Response(
        200, {"value": [render(r.body) for r in arm.store.of_type(TYPE) if r.id.lower().startswith(prefix)]}
    )


def list_all_clusters(arm: Arm, req: Request) -> Response:
    prefix = f"/subscriptions/{req.subscription_id}/".lower()
    return Response(
        200, {"value": [render(r.body) for r in arm.store.of_type(TYPE) if r.id.lower().startswith(prefix)]}
    )


def delete_cluster(arm: Arm, req: Request) -> Response:
    rid = req.resource_id
    res = arm.store.get(rid)
    if res is None:
        return Response(204)
    op = arm.active_operation(rid)
    if op is not None:
        if op.kind == "delete":
            return Response(
                202,
                None,
                {
                    "Azure-AsyncOperation": arm.endpoint
                    + op.status_path()
                    + f"?api-version={req.api_version}",
                    "Location": arm.endpoint + op.result_path() + f"?api-version={req.api_version}",
                },
            )
        if op.kind == "create":
            # AKS refuses to delete a cluster whose create is still running (the create cannot be preempted;
            # its wording below): the caller waits for the create to end, then deletes.
            raise ArmError(409, "OperationNotAllowed", _busy_message(arm, rid))
        # A delete preempts a running update: that operation ends Canceled.
        op.outcome = "Canceled"
        op.error = {"code": "Canceled", "message": "The operation was canceled by a delete of the cluster."}
        op.duration = 0.0
        op.polls_needed = 0
        arm.advance()
    res.body["properties"]["provisioningState"] = "Deleting"
    sub = req.subscription_id
    node_rg = res.body["properties"].get("nodeResourceGroup")

    def deleted(arm: Arm, op: Operation) -> None:
        if op.status != "Succeeded" or not node_rg:
            return
        node_rg_id = f"/subscriptions/{sub}/resourceGroups/{node_rg}"
        network.release_subnets(arm, node_rg_id)
        arm.delete_resource(node_rg_id)

    return arm.start_lro(
        req, rid, "delete", status=202, headers=("Azure-AsyncOperation", "Location"), on_done=deleted
    )
