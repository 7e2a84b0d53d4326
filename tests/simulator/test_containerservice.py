"""AKS managed clusters in the simulator, through the real azure-mgmt-containerservice client.

The official REST examples (../shared/arm-examples/containerservice) first, then what AKS does by itself
(node resource group, kubelet identity, private DNS zone and privateFQDN, node subnet in use), the delete
cascade, the network validations and a write while an operation runs.
"""

import json
import uuid
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.privatedns import PrivateDnsManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from simulator.testing import SUBSCRIPTION_ID, sdk_client

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "arm-examples" / "containerservice"
EX_SUB = "00000000-0000-0000-0000-000000000000"  # the examples' subscription (a GUID already)
SUB = SUBSCRIPTION_ID
RG = "rg"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"


def example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def first(simulator, method: str, path_part: str) -> dict:
    return [r for r in simulator.requests if r["method"] == method and path_part in r["path"]][0]


def subnet_id(vnet="aks-vnet", subnet="nodes", rg=RG):
    return (
        f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{vnet}"
        f"/subnets/{subnet}"
    )


@pytest.fixture
def aks(simulator):
    simulator.add_resource_group(EX_SUB, "rg1", "location1")
    simulator.add_resource_group(SUB, RG, "westeurope")
    return sdk_client(ContainerServiceClient, simulator, EX_SUB)


@pytest.fixture
def mine(simulator, aks):
    """A client in the test subscription, with the AKS vnet the app would make."""
    net = sdk_client(NetworkManagementClient, simulator)
    body = {
        "location": "westeurope",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.10.0.0/16"]},
            "subnets": [
                {"name": "nodes", "properties": {"addressPrefix": "10.10.0.0/20"}},
                {"name": "other", "properties": {"addressPrefix": "10.10.16.0/24"}},
            ],
        },
    }
    net.virtual_networks.begin_create_or_update(RG, "aks-vnet", body).result()
    return sdk_client(ContainerServiceClient, simulator)


def guide_cluster(service_cidr="10.0.0.0/16", dns_ip="10.0.0.10", subnet=None, **props):
    """The cluster the app asks for: system identity, RBAC, Azure CNI without overlay, private."""
    body = {
        "location": "westeurope",
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "dnsPrefix": "hops",
            "enableRBAC": True,
            "agentPoolProfiles": [
                {
                    "name": "system",
                    "mode": "System",
                    "count": 3,
                    "vmSize": "Standard_D8s_v5",
                    "osType": "Linux",
                    "type": "VirtualMachineScaleSets",
                    "vnetSubnetID": subnet or subnet_id(),
                }
            ],
            "networkProfile": {"networkPlugin": "azure", "serviceCidr": service_cidr, "dnsServiceIP": dns_ip},
            "apiServerAccessProfile": {"enablePrivateCluster": True},
        },
    }
    body["properties"].update(props)
    return body


# ----- official examples -------------------------------------------------------------------------------
def test_example_private_cluster_public_fqdn(aks, simulator):
    ex = example("ManagedClustersCreate_PrivateClusterPublicFQDN.json")
    p = ex["parameters"]
    simulator.polls_to_complete = 2
    poller = aks.managed_clusters.begin_create_or_update(
        p["resourceGroupName"], p["resourceName"], p["parameters"]
    )
    result = poller.result()
    assert first(simulator, "PUT", "/managedClusters/clustername1")["status"] == 201
    expected = ex["responses"]["200"]["body"]
    props = result.properties
    assert result.id == expected["id"]
    assert result.type == expected["type"]
    assert result.location == "location1"
    assert result.tags == expected["tags"]
    assert props.provisioning_state == "Succeeded"
    assert (
        props.node_resource_group == expected["properties"]["nodeResourceGroup"]
    )  # MC_rg1_clustername1_location1
    assert props.dns_prefix == "dnsprefix1"
    assert props.enable_rbac is True
    assert props.api_server_access_profile.enable_private_cluster is True
    assert props.api_server_access_profile.private_dns_zone == "system"
    label, zone = props.private_fqdn.split(".", 1)
    assert label.startswith("dnsprefix1-")
    guid, rest = zone.split(".", 1)
    assert str(uuid.UUID(guid)) == guid and rest == "privatelink.location1.azmk8s.io"
    assert props.fqdn == f"{label}.hcp.location1.azmk8s.io"  # enablePrivateClusterPublicFQDN
    assert props.network_profile.network_plugin == "kubenet"
    assert props.network_profile.service_cidr == "10.0.0.0/16"
    assert props.network_profile.dns_service_ip == "10.0.0.10"
    assert props.agent_pool_profiles[0].provisioning_state == "Succeeded"
    assert props.service_principal_profile.client_id == "clientid"
    assert props.service_principal_profile.secret is None  # secrets are never echoed
    assert props.windows_profile.admin_password is None
    assert props.current_kubernetes_version


def test_example_private_cluster_fqdn_subdomain(aks, simulator):
    ex = example("ManagedClustersCreate_PrivateClusterFQDNSubdomain.json")
    p = ex["parameters"]
    result = aks.managed_clusters.begin_create_or_update(
        p["resourceGroupName"], p["resourceName"], p["parameters"]
    ).result()
    assert first(simulator, "PUT", "/managedClusters/")["status"] == 201
    expected = ex["responses"]["200"]["body"]["properties"]
    assert (
        result.properties.private_fqdn == expected["privateFQDN"]
    )  # domain1.privatelink.location1.azmk8s.io
    assert result.properties.fqdn_subdomain == "domain1"
    assert result.properties.node_resource_group == expected["nodeResourceGroup"]
    assert (
        result.properties.api_server_access_profile.private_dns_zone
        == expected["apiServerAccessProfile"]["privateDNSZone"]
    )


def test_example_create_with_user_assigned_identity_get_and_delete(aks, simulator):
    ex = example("ManagedClustersCreate_Update.json")
    p = ex["parameters"]
    (uid,) = p["parameters"]["identity"]["userAssignedIdentities"]
    # The example's identity must exist first, as in Azure.
    with pytest.raises(HttpResponseError) as err:
        aks.managed_clusters.begin_create_or_update(
            p["resourceGroupName"], p["resourceName"], p["parameters"]
        ).result()
    assert err.value.status_code == 400 and err.value.error.code == "InvalidParameter"
    simulator.add_resource_group(EX_SUB, "rgName1", "location1")
    msi = sdk_client(ManagedServiceIdentityClient, simulator, EX_SUB)
    identity = msi.user_assigned_identities.create_or_update(
        "rgName1", "identity1", {"location": "location1"}
    )

    result = aks.managed_clusters.begin_create_or_update(
        p["resourceGroupName"], p["resourceName"], p["parameters"]
    ).result()
    assert first(simulator, "PUT", "/managedClusters/")["status"] == 400
    assert [
        r["status"] for r in simulator.requests if r["method"] == "PUT" and "managedClusters" in r["path"]
    ][-1] == 201
    assert result.identity.type == "UserAssigned"
    (given,) = result.identity.user_assigned_identities.values()
    assert given.principal_id == identity.principal_id and given.client_id == identity.client_id
    assert result.properties.provisioning_state == "Succeeded"
    assert result.properties.fqdn.startswith("dnsprefix1-") and result.properties.fqdn.endswith(
        ".hcp.location1.azmk8s.io"
    )
    assert result.properties.private_fqdn is None  # not a private cluster

    ex = example("ManagedClustersGet.json")
    g = ex["parameters"]
    got = aks.managed_clusters.get(g["resourceGroupName"], g["resourceName"])
    assert got.id == ex["responses"]["200"]["body"]["id"]
    assert (
        got.properties.node_resource_group
        == ex["responses"]["200"]["body"]["properties"]["nodeResourceGroup"]
    )
    assert got.properties.identity_profile["kubeletidentity"].object_id

    ex = example("ManagedClustersDelete.json")
    d = ex["parameters"]
    seen = []
    aks.managed_clusters.begin_delete(
        d["resourceGroupName"],
        d["resourceName"],
        raw_response_hook=lambda r: seen.append((r.http_request.method, r.http_response)),
    ).result()
    method, answer = seen[0]
    assert method == "DELETE" and answer.status_code == 202
    assert answer.headers["Location"].startswith(simulator.endpoint + f"/subscriptions/{EX_SUB}/providers/")
    with pytest.raises(ResourceNotFoundError):
        aks.managed_clusters.get(g["resourceGroupName"], g["resourceName"])
    aks.managed_clusters.begin_delete(d["resourceGroupName"], d["resourceName"]).result()
    assert simulator.requests[-1]["status"] == 204


# ----- what AKS makes by itself ------------------------------------------------------------------------
def test_private_cluster_side_effects(mine, simulator):
    simulator.polls_to_complete = 3
    started = mine.managed_clusters.begin_create_or_update(
        RG, "hops-aks", guide_cluster(), polling=False
    ).result()
    assert started.properties.provisioning_state == "Creating"
    states = [mine.managed_clusters.get(RG, "hops-aks").properties.provisioning_state for _ in range(3)]
    assert states == ["Creating", "Creating", "Succeeded"]  # done after 3 observations
    cluster = mine.managed_clusters.get(RG, "hops-aks")
    props = cluster.properties
    node_rg = props.node_resource_group
    assert node_rg == "MC_rg_hops-aks_westeurope"
    # The system identity and the kubelet identity (a user-assigned identity in the node resource group).
    assert cluster.identity.type == "SystemAssigned"
    assert str(uuid.UUID(cluster.identity.principal_id)) == cluster.identity.principal_id
    assert cluster.identity.tenant_id
    kubelet = props.identity_profile["kubeletidentity"]
    assert (
        f"/resourcegroups/{node_rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/".lower()
        in (kubelet.resource_id.lower())
    )
    msi = sdk_client(ManagedServiceIdentityClient, simulator)
    kubelet_identity = msi.user_assigned_identities.get(node_rg, kubelet.resource_id.rsplit("/", 1)[-1])
    assert kubelet_identity.principal_id == kubelet.object_id
    assert kubelet_identity.client_id == kubelet.client_id
    # The private DNS zone in the node resource group, and privateFQDN inside it.
    dns = sdk_client(PrivateDnsManagementClient, simulator)
    zones = list(dns.private_zones.list_by_resource_group(node_rg))
    assert len(zones) == 1
    zone = zones[0].name
    assert zone.endswith(".privatelink.westeurope.azmk8s.io")
    assert props.private_fqdn.split(".", 1)[1] == zone
    assert props.private_fqdn.startswith("hops-")
    # AKS links its zone to the cluster's own vnet: linking that vnet again is a duplicate.
    links = list(dns.virtual_network_links.list(node_rg, zone))
    assert [link.properties.virtual_network.id.lower() for link in links] == [
        subnet_id().rsplit("/subnets/", 1)[0].lower()
    ]
    # The node subnet is in use now.
    net = sdk_client(NetworkManagementClient, simulator)
    assert net.subnets.get(RG, "aks-vnet", "nodes").properties.ip_configurations
    with pytest.raises(HttpResponseError) as err:
        net.subnets.begin_delete(RG, "aks-vnet", "nodes").result()
    assert err.value.error.code == "InUseSubnetCannotBeDeleted"


def test_all_principals_can_receive_role_assignments(mine, simulator):
    cluster = mine.managed_clusters.begin_create_or_update(RG, "c", guide_cluster()).result()
    auth = sdk_client(AuthorizationManagementClient, simulator)
    vnet = subnet_id().rsplit("/subnets/", 1)[0]
    role = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{NETWORK_CONTRIBUTOR}"
    for principal in (
        cluster.identity.principal_id,
        cluster.properties.identity_profile["kubeletidentity"].object_id,
    ):
        created = auth.role_assignments.create(
            vnet,
            str(uuid.uuid4()),
            {
                "properties": {
                    "roleDefinitionId": role,
                    "principalId": principal,
                    "principalType": "ServicePrincipal",
                }
            },
        )
        assert created.principal_id == principal  # authorization models are flattened


def test_delete_removes_node_group_kubelet_identity_zone_and_frees_the_subnet(mine, simulator):
    cluster = mine.managed_clusters.begin_create_or_update(RG, "c", guide_cluster()).result()
    node_rg = cluster.properties.node_resource_group
    kubelet = cluster.properties.identity_profile["kubeletidentity"]
    rm = sdk_client(ResourceManagementClient, simulator)
    assert rm.resource_groups.check_existence(node_rg) is True
    simulator.polls_to_complete = 2
    mine.managed_clusters.begin_delete(RG, "c", polling=False)
    assert mine.managed_clusters.get(RG, "c").properties.provisioning_state == "Deleting"
    mine.managed_clusters.begin_delete(RG, "c").result()  # joins the running delete
    with pytest.raises(ResourceNotFoundError):
        mine.managed_clusters.get(RG, "c")
    assert rm.resource_groups.check_existence(node_rg) is False
    assert simulator.resource(kubelet.resource_id) is None
    state = simulator.state()
    assert kubelet.object_id.lower() not in state["principals"]
    assert cluster.identity.principal_id.lower() not in state["principals"]
    net = sdk_client(NetworkManagementClient, simulator)
    assert not net.subnets.get(RG, "aks-vnet", "nodes").properties.ip_configurations
    net.subnets.begin_delete(RG, "aks-vnet", "nodes").result()  # free again


def test_delete_while_creating_is_refused_until_the_create_ends(mine, simulator):
    """AKS does not let a delete preempt a create (409 OperationNotAllowed); tests/simulator/test_busy_vnet.py
    has the whole story (message, delete accepted after the create, a delete preempting an update)."""
    simulator.polls_to_complete = 2
    mine.managed_clusters.begin_create_or_update(RG, "c", guide_cluster(), polling=False)
    with pytest.raises(ResourceExistsError) as err:
        mine.managed_clusters.begin_delete(RG, "c", polling=False)
    assert (err.value.status_code, err.value.error.code) == (409, "OperationNotAllowed")
    for _ in range(2):
        mine.managed_clusters.get(RG, "c")
    mine.managed_clusters.begin_delete(RG, "c").result()
    with pytest.raises(ResourceNotFoundError):
        mine.managed_clusters.get(RG, "c")


def test_without_a_subnet_the_cluster_gets_its_own_vnet(aks, simulator):
    body = guide_cluster()
    del body["properties"]["agentPoolProfiles"][0]["vnetSubnetID"]
    cluster = aks.managed_clusters.begin_create_or_update("rg1", "own", body).result()
    net = sdk_client(NetworkManagementClient, simulator, EX_SUB)
    vnets = list(net.virtual_networks.list(cluster.properties.node_resource_group))
    assert [v.properties.address_space.address_prefixes for v in vnets] == [["10.224.0.0/12"]]


# ----- validations -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("service_cidr", "dns_ip", "code"),
    [
        ("10.10.0.0/16", "10.10.0.10", "ServiceCidrOverlapExistingSubnetsCidr"),  # the vnet itself
        ("10.10.16.0/24", "10.10.16.10", "ServiceCidrOverlapExistingSubnetsCidr"),  # a subnet
        ("10.0.0.0/8", "10.0.0.10", "ServiceCidrOverlapExistingSubnetsCidr"),  # contains the vnet
        ("172.30.0.0/16", "172.30.0.10", "InvalidServiceCidr"),
        ("172.31.128.0/20", "172.31.128.10", "InvalidServiceCidr"),
        ("169.254.0.0/16", "169.254.0.10", "InvalidServiceCidr"),
        ("192.0.2.0/24", "192.0.2.10", "InvalidServiceCidr"),
        ("10.0.0.5/16", "10.0.0.10", "InvalidServiceCidr"),
        ("10.0.0.0/16", "10.1.0.10", "InvalidDNSServiceIP"),
        ("10.0.0.0/16", "10.0.0.0", "InvalidDNSServiceIP"),
        ("10.0.0.0/16", "10.0.0.1", "InvalidDNSServiceIP"),
        ("10.0.0.0/16", None, "InvalidDNSServiceIP"),  # serviceCidr without dnsServiceIP
    ],
)
def test_service_cidr_and_dns_ip_rules(mine, simulator, service_cidr, dns_ip, code):
    body = guide_cluster(service_cidr, dns_ip)
    if dns_ip is None:
        del body["properties"]["networkProfile"]["dnsServiceIP"]
    with pytest.raises(HttpResponseError) as err:
        mine.managed_clusters.begin_create_or_update(RG, "c", body).result()
    assert err.value.status_code == 400
    assert err.value.error.code == code
    with pytest.raises(ResourceNotFoundError):
        mine.managed_clusters.get(RG, "c")  # nothing half-made


def test_node_subnet_must_exist(mine):
    for sid in (subnet_id(subnet="absent"), subnet_id(vnet="absent-vnet")):
        with pytest.raises(HttpResponseError) as err:
            mine.managed_clusters.begin_create_or_update(RG, "c", guide_cluster(subnet=sid)).result()
        assert err.value.status_code == 400
        assert err.value.error.code == "SubnetNotFound"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda b: b.pop("identity"), "InvalidParameter"),
        (lambda b: b["identity"].update(type="None"), "InvalidParameter"),
        (lambda b: b["properties"]["networkProfile"].update(networkPlugin="calico"), "InvalidParameter"),
        (
            lambda b: b["properties"]["networkProfile"].update(
                networkPluginMode="overlay", networkPlugin="kubenet"
            ),
            "InvalidParameter",
        ),
        (lambda b: b["properties"].update(agentPoolProfiles=[]), "InvalidParameter"),
        (lambda b: b["properties"].update(kubernetesVersion="1.19.0"), "K8sVersionNotSupported"),
        (lambda b: b.pop("location"), "LocationRequired"),
    ],
)
def test_cluster_body_rules(mine, change, code):
    body = guide_cluster()
    change(body)
    with pytest.raises(HttpResponseError) as err:
        mine.managed_clusters.begin_create_or_update(RG, "c", body).result()
    assert err.value.status_code == 400
    assert err.value.error.code == code


def test_write_while_an_operation_runs_is_operation_not_allowed(mine, simulator):
    simulator.polls_to_complete = 3
    mine.managed_clusters.begin_create_or_update(RG, "c", guide_cluster(), polling=False)
    with pytest.raises(ResourceExistsError) as err:
        mine.managed_clusters.begin_create_or_update(RG, "c", guide_cluster(), polling=False)
    assert err.value.status_code == 409
    assert err.value.error.code == "OperationNotAllowed"
    for _ in range(3):
        mine.managed_clusters.get(RG, "c")
    # Done: the same PUT again is an update (200) that changes nothing and keeps the identities.
    before = mine.managed_clusters.get(RG, "c")
    assert before.properties.provisioning_state == "Succeeded"
    again = mine.managed_clusters.begin_create_or_update(RG, "c", guide_cluster()).result()
    assert [r["status"] for r in simulator.requests if r["method"] == "PUT"][-1] == 200
    assert again.identity.principal_id == before.identity.principal_id
    assert again.properties.private_fqdn == before.properties.private_fqdn
    assert again.properties.identity_profile["kubeletidentity"].object_id == (
        before.properties.identity_profile["kubeletidentity"].object_id
    )


def test_immutable_network_properties(mine):
    mine.managed_clusters.begin_create_or_update(RG, "c", guide_cluster()).result()
    with pytest.raises(HttpResponseError) as err:
        mine.managed_clusters.begin_create_or_update(
            RG, "c", guide_cluster("10.1.0.0/16", "10.1.0.10")
        ).result()
    assert err.value.error.code == "PropertyChangeNotAllowed"
    with pytest.raises(HttpResponseError) as err:
        mine.managed_clusters.begin_create_or_update(
            RG, "c", guide_cluster(subnet=subnet_id(subnet="other"))
        ).result()
    assert err.value.error.code == "PropertyChangeNotAllowed"


def test_failed_operation_shows_the_provisioning_error(mine, simulator):
    simulator.add_fault(
        method="PUT", path="/managedClusters/c", kind="lro_failed", code="VMExtensionProvisioningError"
    )
    with pytest.raises(HttpResponseError) as err:
        mine.managed_clusters.begin_create_or_update(RG, "c", guide_cluster()).result()
    assert err.value.error.code == "VMExtensionProvisioningError"
    cluster = mine.managed_clusters.get(RG, "c")
    assert cluster.properties.provisioning_state == "Failed"
    assert cluster.properties.status.provisioning_error.code == "VMExtensionProvisioningError"
