"""The simulated ARM authorizes every request against the caller's role assignments, as Azure does.

Real azure-mgmt clients; the caller is the app's managed identity (``simulator.app_principal_id``) unless a
test calls as another principal (``sdk_client(..., principal_id=...)``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.containerregistry import ContainerRegistryManagementClient
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.privatedns import PrivateDnsManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from devhost.testing import DevHost
from simulator import Simulator
from simulator.rbac import action_for, action_matches, parse_grant_spec, scope_covers
from simulator.testing import SUBSCRIPTION_ID, sdk_client

SUB = SUBSCRIPTION_ID
RG = "rg"
OTHER_RG = "other-rg"
RG_SCOPE = f"/subscriptions/{SUB}/resourceGroups/{RG}"
SUB_SCOPE = f"/subscriptions/{SUB}"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
RBAC_ADMIN = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"


def denied_message(principal: str, action: str, scope: str) -> str:
    return (
        f"The client '{principal}' with object id '{principal}' does not have authorization to perform "
        f"action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, "
        "please refresh your credentials."
    )


def assert_denied(
    exc: pytest.ExceptionInfo[HttpResponseError], principal: str, action: str, scope: str
) -> None:
    assert (exc.value.status_code, exc.value.error.code) == (403, "AuthorizationFailed")
    assert exc.value.error.message == denied_message(principal, action, scope)


@pytest.fixture
def groups(simulator: Simulator) -> None:
    simulator.add_resource_group(SUB, RG, "westeurope")
    simulator.add_resource_group(SUB, OTHER_RG, "westeurope")


def vnet_body(prefix: str = "10.0.0.0/16") -> dict:
    return {"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": [prefix]}}}


def vnet_path(rg: str, name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{name}"


def role_body(role_guid: str, principal: str) -> dict:
    return {
        "properties": {
            "roleDefinitionId": f"{SUB_SCOPE}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}",
            "principalId": principal,
            "principalType": "ServicePrincipal",
        }
    }


# ----- the rules, pure ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("*", "Microsoft.Network/virtualNetworks/write", True),
        ("*/read", "Microsoft.Network/virtualNetworks/read", True),
        ("*/read", "Microsoft.Network/virtualNetworks/write", False),
        ("Microsoft.Network/*", "Microsoft.Network/privateDnsZones/virtualNetworkLinks/write", True),
        ("Microsoft.Network/*", "Microsoft.ContainerRegistry/registries/write", False),
        ("Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/write", True),
        ("Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/read", False),
        ("Microsoft.Authorization/*/read", "microsoft.authorization/ROLEASSIGNMENTS/READ", True),
        ("Microsoft.Network/virtualNetworks/read", "Microsoft.Network/virtualNetworks/subnets/read", False),
    ],
)
def test_action_wildcards(pattern: str, action: str, matches: bool) -> None:
    assert action_matches(pattern, action) is matches


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("GET", f"{SUB_SCOPE}/resourcegroups/rg", "Microsoft.Resources/subscriptions/resourceGroups/read"),
        ("PUT", f"{SUB_SCOPE}/resourceGroups/rg", "Microsoft.Resources/subscriptions/resourceGroups/write"),
        ("GET", f"{SUB_SCOPE}/resourcegroups", "Microsoft.Resources/subscriptions/resourceGroups/read"),
        (
            "PUT",
            vnet_path(RG, "v") + "/virtualNetworkPeerings/p",
            "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write",
        ),
        (
            "PUT",
            f"{RG_SCOPE}/providers/Microsoft.Network/privateDnsZones/z.io/virtualNetworkLinks/l",
            "Microsoft.Network/privateDnsZones/virtualNetworkLinks/write",
        ),
        (
            "PUT",
            vnet_path(RG, "v") + f"/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
            "Microsoft.Authorization/roleAssignments/write",
        ),
        (
            "POST",
            f"{SUB_SCOPE}/providers/Microsoft.ContainerRegistry/checkNameAvailability",
            "Microsoft.ContainerRegistry/checkNameAvailability/read",
        ),
        ("POST", f"{SUB_SCOPE}/providers/Microsoft.Network/register", "Microsoft.Network/register/action"),
        (
            "POST",
            f"{RG_SCOPE}/providers/Microsoft.ContainerService/managedClusters/c/listClusterUserCredential",
            "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
        ),
        ("DELETE", vnet_path(RG, "v") + "/subnets/s", "Microsoft.Network/virtualNetworks/subnets/delete"),
        ("GET", f"{SUB_SCOPE}/providers/Microsoft.Network/locations/westeurope/operationStatuses/x", None),
    ],
)
def test_action_from_request(simulator: Simulator, method: str, path: str, action: str | None) -> None:
    assert action_for(method, path, simulator.arm.canonical_names()) == action


def test_scopes_cover_what_is_beneath_them_case_insensitively() -> None:
    assert scope_covers(SUB_SCOPE, vnet_path(RG, "v"))
    assert scope_covers(RG_SCOPE.upper(), vnet_path(RG, "v"))
    assert not scope_covers(RG_SCOPE, f"/subscriptions/{SUB}/resourceGroups/rg2")  # a prefix, not beneath
    assert not scope_covers(RG_SCOPE, SUB_SCOPE)
    assert scope_covers("/subscriptions/*", vnet_path(RG, "v"))


def test_grant_specs_name_the_rule_on_bad_input() -> None:
    assert parse_grant_spec("Owner@/subscriptions/x") == {"role": "Owner", "scope": "/subscriptions/x"}
    principal = str(uuid.uuid4())
    assert parse_grant_spec(f"{principal}:Role Based Access Control Administrator@{RG_SCOPE}") == {
        "principalId": principal,
        "role": "Role Based Access Control Administrator",
        "scope": RG_SCOPE,
    }
    with pytest.raises(ValueError, match=r"ROLE@SCOPE"):
        parse_grant_spec("Owner")


def test_grant_validation(simulator: Simulator) -> None:
    with pytest.raises(ValueError, match="role 'Janitor'"):
        simulator.grant("Janitor", SUB_SCOPE)
    with pytest.raises(ValueError, match="scope"):
        simulator.grant("Owner", "/subscriptions/not-a-guid")
    with pytest.raises(ValueError, match="principalId"):
        simulator.grant("Owner", SUB_SCOPE, principal_id="someone")
    with pytest.raises(ValueError, match="scope"):
        simulator.set_grants(["Owner@/resourceGroups/rg"])
    assert [g["scope"] for g in simulator.grants()] == ["/subscriptions/*"]  # a failed set changes nothing


# ----- authorization of requests --------------------------------------------------------------------------
def test_default_grant_is_owner_of_every_subscription(simulator: Simulator, groups: None) -> None:
    assert simulator.grants() == [
        {
            "principalId": simulator.app_principal_id,
            "role": "Owner",
            "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{OWNER}",
            "scope": "/subscriptions/*",
            "name": simulator.grants()[0]["name"],
        }
    ]
    other_sub = str(uuid.uuid4())
    acr = sdk_client(ContainerRegistryManagementClient, simulator, other_sub)
    assert acr.registries.check_name_availability(
        {"name": "anyname1", "type": "Microsoft.ContainerRegistry/registries"}
    ).name_available


def test_owner_of_the_group_only(simulator: Simulator, groups: None) -> None:
    simulator.set_grants([f"Owner@{RG_SCOPE}"])
    app = simulator.app_principal_id
    net = sdk_client(NetworkManagementClient, simulator)
    # Everything in the group, including its long-running operations (their status URLs are not authorized)
    net.virtual_networks.begin_create_or_update(RG, "vnet", vnet_body()).result()
    rm = sdk_client(ResourceManagementClient, simulator)
    assert rm.resource_groups.get(RG).name == RG
    # ... nothing outside it, not even a subscription-level name check.
    acr = sdk_client(ContainerRegistryManagementClient, simulator)
    with pytest.raises(HttpResponseError) as err:
        acr.registries.check_name_availability(
            {"name": "hopsacr1", "type": "Microsoft.ContainerRegistry/registries"}
        )
    assert_denied(
        err,
        app,
        "Microsoft.ContainerRegistry/checkNameAvailability/read",
        f"{SUB_SCOPE}/providers/Microsoft.ContainerRegistry/checkNameAvailability",
    )
    with pytest.raises(HttpResponseError) as err:
        net.virtual_networks.begin_create_or_update(OTHER_RG, "vnet", vnet_body())
    assert_denied(err, app, "Microsoft.Network/virtualNetworks/write", vnet_path(OTHER_RG, "vnet"))
    with pytest.raises(HttpResponseError) as err:
        rm.resource_groups.get(OTHER_RG)
    assert_denied(
        err,
        app,
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        f"{SUB_SCOPE}/resourcegroups/{OTHER_RG}",
    )
    # A group that does not exist: 403 first, as ARM authorizes before it looks.
    with pytest.raises(HttpResponseError) as err:
        rm.resource_groups.get("absent")
    assert err.value.status_code == 403
    assert [r["status"] for r in simulator.requests if r["method"] == "PUT"] == [201, 403]


def test_no_grant_at_all(simulator: Simulator, groups: None) -> None:
    simulator.revoke_all()
    assert simulator.grants() == []
    net = sdk_client(NetworkManagementClient, simulator)
    with pytest.raises(HttpResponseError) as err:
        net.virtual_networks.get(RG, "vnet")
    assert_denied(
        err, simulator.app_principal_id, "Microsoft.Network/virtualNetworks/read", vnet_path(RG, "vnet")
    )


def test_contributor_cannot_assign_roles_rbac_administrator_can(simulator: Simulator, groups: None) -> None:
    simulator.set_grants([f"Contributor@{SUB_SCOPE}"])
    app = simulator.app_principal_id
    identity = sdk_client(ManagedServiceIdentityClient, simulator).user_assigned_identities.create_or_update(
        RG, "id1", {"location": "westeurope"}
    )
    auth = sdk_client(AuthorizationManagementClient, simulator)
    name = str(uuid.uuid4())
    with pytest.raises(HttpResponseError) as err:
        auth.role_assignments.create(RG_SCOPE, name, role_body(ACR_PULL, identity.principal_id))
    assert_denied(
        err,
        app,
        "Microsoft.Authorization/roleAssignments/write",
        f"{RG_SCOPE}/providers/Microsoft.Authorization/roleAssignments/{name}",
    )
    simulator.grant("Role Based Access Control Administrator", RG_SCOPE)
    created = auth.role_assignments.create(RG_SCOPE, name, role_body(ACR_PULL, identity.principal_id))
    assert created.principal_id == identity.principal_id
    # ... at the group only: the subscription is still out of reach.
    with pytest.raises(HttpResponseError) as err:
        auth.role_assignments.create(SUB_SCOPE, name, role_body(ACR_PULL, identity.principal_id))
    assert err.value.status_code == 403
    # Contributor's notActions also take Microsoft.Authorization/*/Delete away; RBAC Administrator gives it.
    auth.role_assignments.delete(RG_SCOPE, name)


def test_private_dns_zone_contributor_on_the_subscription_links_in_any_group(
    simulator: Simulator, groups: None
) -> None:
    node_rg = "MC_rg_aks_westeurope"
    simulator.add_resource_group(SUB, node_rg, "westeurope")
    dns = sdk_client(PrivateDnsManagementClient, simulator)
    dns.private_zones.begin_create_or_update(
        node_rg, "abc.privatelink.westeurope.azmk8s.io", {"location": "global"}
    ).result()
    net = sdk_client(NetworkManagementClient, simulator)
    vnet = net.virtual_networks.begin_create_or_update(RG, "hops", vnet_body()).result()
    simulator.set_grants([f"Owner@{RG_SCOPE}"])
    link_body = {
        "location": "global",
        "properties": {"virtualNetwork": {"id": vnet.id}, "registrationEnabled": False},
    }
    zone = "abc.privatelink.westeurope.azmk8s.io"
    with pytest.raises(HttpResponseError) as err:
        dns.virtual_network_links.begin_create_or_update(node_rg, zone, "hops-link", link_body)
    assert_denied(
        err,
        simulator.app_principal_id,
        "Microsoft.Network/privateDnsZones/virtualNetworkLinks/write",
        f"{SUB_SCOPE}/resourceGroups/{node_rg}/providers/Microsoft.Network/privateDnsZones/{zone}"
        "/virtualNetworkLinks/hops-link",
    )
    simulator.grant("Private DNS Zone Contributor", SUB_SCOPE)
    link = dns.virtual_network_links.begin_create_or_update(node_rg, zone, "hops-link", link_body).result()
    assert link.properties.virtual_network.id == vnet.id
    # It covers private DNS only: no vnet in the node group.
    with pytest.raises(HttpResponseError) as err:
        net.virtual_networks.begin_create_or_update(node_rg, "sneaky", vnet_body())
    assert err.value.status_code == 403


def test_deny_removes_an_action_whatever_the_grants(simulator: Simulator, groups: None) -> None:
    simulator.deny_permission(SUB, RG, "Microsoft.Network/virtualNetworks/*")
    net = sdk_client(NetworkManagementClient, simulator)
    with pytest.raises(HttpResponseError) as err:
        net.virtual_networks.begin_create_or_update(RG, "vnet", vnet_body())
    assert_denied(
        err, simulator.app_principal_id, "Microsoft.Network/virtualNetworks/write", vnet_path(RG, "vnet")
    )
    net.virtual_networks.begin_create_or_update(OTHER_RG, "vnet", vnet_body()).result()


# ----- assignments the app makes are grants of their principals --------------------------------------------
def test_assignments_made_through_arm_grant_their_principal(simulator: Simulator, groups: None) -> None:
    identity = sdk_client(ManagedServiceIdentityClient, simulator).user_assigned_identities.create_or_update(
        RG, "ops", {"location": "westeurope"}
    )
    auth = sdk_client(AuthorizationManagementClient, simulator)
    as_identity = sdk_client(NetworkManagementClient, simulator, principal_id=identity.principal_id)
    with pytest.raises(HttpResponseError) as err:
        as_identity.virtual_networks.begin_create_or_update(RG, "vnet", vnet_body())
    assert_denied(
        err, identity.principal_id, "Microsoft.Network/virtualNetworks/write", vnet_path(RG, "vnet")
    )
    auth.role_assignments.create(
        RG_SCOPE, str(uuid.uuid4()), role_body(NETWORK_CONTRIBUTOR, identity.principal_id)
    )
    as_identity.virtual_networks.begin_create_or_update(RG, "vnet", vnet_body()).result()
    msi_as_identity = sdk_client(ManagedServiceIdentityClient, simulator, principal_id=identity.principal_id)
    with pytest.raises(HttpResponseError) as err:
        msi_as_identity.user_assigned_identities.create_or_update(RG, "more", {"location": "westeurope"})
    assert err.value.error.code == "AuthorizationFailed"
    listed = list(
        auth.role_assignments.list_for_scope(RG_SCOPE, filter=f"assignedTo('{identity.principal_id}')")
    )
    assert [(a.scope, a.role_definition_id.rsplit("/", 1)[-1]) for a in listed] == [
        (RG_SCOPE, NETWORK_CONTRIBUTOR)
    ]
    # Revoking a principal removes its ARM-made assignments too.
    simulator.revoke_all(identity.principal_id)
    assert (
        list(auth.role_assignments.list_for_scope(RG_SCOPE, filter=f"assignedTo('{identity.principal_id}')"))
        == []
    )


# ----- role assignment listing ----------------------------------------------------------------------------
def test_listing_shows_the_callers_own_assignments_inherited_included(
    simulator: Simulator, groups: None
) -> None:
    app = simulator.app_principal_id
    simulator.set_grants([f"Owner@{RG_SCOPE}"])
    auth = sdk_client(AuthorizationManagementClient, simulator)
    mine = list(auth.role_assignments.list_for_scope(RG_SCOPE, filter=f"assignedTo('{app}')"))
    assert [(a.scope, a.role_definition_id.rsplit("/", 1)[-1], a.principal_id) for a in mine] == [
        (RG_SCOPE, OWNER, app)
    ]
    again = auth.role_assignments.get(RG_SCOPE, mine[0].name)
    assert again.id == f"{RG_SCOPE}/providers/Microsoft.Authorization/roleAssignments/{mine[0].name}"
    # Listing at the subscription needs roleAssignments/read there.
    with pytest.raises(HttpResponseError) as err:
        list(auth.role_assignments.list_for_scope(SUB_SCOPE, filter=f"assignedTo('{app}')"))
    assert_denied(
        err,
        app,
        "Microsoft.Authorization/roleAssignments/read",
        f"{SUB_SCOPE}/providers/Microsoft.Authorization/roleAssignments",
    )
    simulator.grant("Contributor", SUB_SCOPE)
    mine = list(auth.role_assignments.list_for_scope(RG_SCOPE, filter=f"principalId eq '{app}'"))
    assert sorted((a.scope, a.role_definition_id.rsplit("/", 1)[-1]) for a in mine) == sorted(
        [(RG_SCOPE, OWNER), (SUB_SCOPE, CONTRIBUTOR)]
    )
    at_scope = list(auth.role_assignments.list_for_scope(RG_SCOPE, filter="atScope()"))
    assert {a.scope for a in at_scope} == {RG_SCOPE, SUB_SCOPE}  # atScope() keeps the inherited ones
    from_sub = list(auth.role_assignments.list_for_scope(SUB_SCOPE))
    assert {a.scope for a in from_sub} == {RG_SCOPE, SUB_SCOPE}  # without it: those beneath too


# ----- permissions API ------------------------------------------------------------------------------------
def test_permissions_at_group_and_resource_merge_inherited_grants(simulator: Simulator, groups: None) -> None:
    net = sdk_client(NetworkManagementClient, simulator)
    net.virtual_networks.begin_create_or_update(RG, "vnet", vnet_body()).result()
    simulator.set_grants(
        [
            f"Contributor@{SUB_SCOPE}",
            f"Role Based Access Control Administrator@{RG_SCOPE}",
            f"Network Contributor@{vnet_path(RG, 'vnet')}",
        ]
    )
    auth = sdk_client(AuthorizationManagementClient, simulator)
    at_group = [(p.actions, p.not_actions) for p in auth.permissions.list_for_resource_group(RG)]
    contributor = simulator.arm.rbac.role("Contributor").permissions[0]
    rbac_admin = simulator.arm.rbac.role(RBAC_ADMIN).permissions[0]
    assert sorted(at_group) == sorted(
        [
            (list(contributor.actions), list(contributor.not_actions)),
            (list(rbac_admin.actions), []),
        ]
    )
    at_vnet = list(auth.permissions.list_for_resource(RG, "Microsoft.Network", "", "virtualNetworks", "vnet"))
    assert len(at_vnet) == 3
    assert ["Microsoft.Network/*" in p.actions for p in at_vnet].count(True) == 1
    at_other = list(auth.permissions.list_for_resource_group(OTHER_RG))
    assert [(p.actions, p.not_actions) for p in at_other] == [
        (list(contributor.actions), list(contributor.not_actions))
    ]


def test_permissions_api_has_no_subscription_scope(simulator: Simulator, groups: None) -> None:
    token = simulator.token_for()
    path = f"{SUB_SCOPE}/providers/Microsoft.Authorization/permissions"
    url = f"{simulator.endpoint}{path}?api-version=2022-04-01"
    answer = requests.get(
        url, headers={"Authorization": f"Bearer {token}"}, verify=simulator.ca_file, timeout=10
    )
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "InvalidResourceType"


# ----- custom roles ---------------------------------------------------------------------------------------
def test_custom_role_through_arm_and_its_not_actions(simulator: Simulator, groups: None) -> None:
    auth = sdk_client(AuthorizationManagementClient, simulator)
    role_id = str(uuid.uuid4())
    definition = auth.role_definitions.create_or_update(
        SUB_SCOPE,
        role_id,
        {
            "role_name": "Hopsworks network operator",
            "description": "vnets, no deletes",
            "role_type": "CustomRole",
            "permissions": [
                {
                    "actions": [
                        "Microsoft.Network/virtualNetworks/*",
                        "Microsoft.Resources/subscriptions/resourceGroups/read",
                    ],
                    "not_actions": ["Microsoft.Network/virtualNetworks/delete"],
                }
            ],
            "assignable_scopes": [SUB_SCOPE],
        },
    )
    assert (definition.name, definition.role_type, definition.role_name) == (
        role_id,
        "CustomRole",
        "Hopsworks network operator",
    )
    got = auth.role_definitions.get_by_id(
        f"{SUB_SCOPE}/providers/Microsoft.Authorization/roleDefinitions/{role_id}"
    )
    assert got.permissions[0].not_actions == ["Microsoft.Network/virtualNetworks/delete"]
    assert [d.name for d in auth.role_definitions.list(SUB_SCOPE, filter="type eq 'CustomRole'")] == [role_id]
    simulator.set_grants([f"Hopsworks network operator@{RG_SCOPE}"])
    net = sdk_client(NetworkManagementClient, simulator)
    net.virtual_networks.begin_create_or_update(RG, "vnet", vnet_body()).result()
    with pytest.raises(HttpResponseError) as err:
        net.virtual_networks.begin_delete(RG, "vnet")
    assert_denied(
        err, simulator.app_principal_id, "Microsoft.Network/virtualNetworks/delete", vnet_path(RG, "vnet")
    )
    # Writing a role definition is itself authorized (Microsoft.Authorization/roleDefinitions/write).
    with pytest.raises(HttpResponseError) as err:
        auth.role_definitions.create_or_update(
            SUB_SCOPE,
            str(uuid.uuid4()),
            {"role_name": "x", "permissions": [{"actions": ["*"]}], "assignable_scopes": [SUB_SCOPE]},
        )
    assert err.value.status_code == 403


def test_custom_role_from_python(simulator: Simulator, groups: None) -> None:
    body = simulator.add_custom_role(
        "Reads groups", ["Microsoft.Resources/subscriptions/resourceGroups/read"]
    )
    assert body["properties"]["type"] == "CustomRole"
    simulator.set_grants([{"role": "Reads groups", "scope": SUB_SCOPE}])
    rm = sdk_client(ResourceManagementClient, simulator)
    assert rm.resource_groups.get(OTHER_RG).name == OTHER_RG
    with pytest.raises(HttpResponseError) as err:
        rm.resource_groups.create_or_update("new-rg", {"location": "westeurope"})
    assert err.value.status_code == 403


def test_builtin_definitions_carry_real_permissions(simulator: Simulator) -> None:
    auth = sdk_client(AuthorizationManagementClient, simulator)
    contributor = auth.role_definitions.get(SUB_SCOPE, CONTRIBUTOR)
    assert contributor.role_name == "Contributor" and contributor.role_type == "BuiltInRole"
    assert contributor.permissions[0].actions == ["*"]
    assert {
        "Microsoft.Authorization/*/Delete",
        "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action",
        "Microsoft.Blueprint/blueprintAssignments/write",
        "Microsoft.Blueprint/blueprintAssignments/delete",
        "Microsoft.Compute/galleries/share/action",
    } <= set(contributor.permissions[0].not_actions)
    names = {d.role_name: d.name for d in auth.role_definitions.list(SUB_SCOPE)}
    assert names["User Access Administrator"] == "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
    assert names["Role Based Access Control Administrator"] == RBAC_ADMIN
    assert names["Private DNS Zone Contributor"] == "b12aa53e-6015-4669-85d0-8515ebb3ae7f"
    assert names["Reader"] == "acdd72a7-3385-48ef-bd42-f606fba81ae7"
    assert names["Network Contributor"] == NETWORK_CONTRIBUTOR
    assert names["Owner"] == OWNER


# ----- control API ----------------------------------------------------------------------------------------
def test_grants_over_the_control_api(simulator: Simulator, groups: None) -> None:
    url = f"{simulator.endpoint}/_simulator/grants"
    kw = {"verify": simulator.ca_file, "timeout": 10}
    assert [g["scope"] for g in requests.get(url, **kw).json()] == ["/subscriptions/*"]
    replaced = requests.put(url, json=[f"Reader@{SUB_SCOPE}"], **kw)
    assert replaced.status_code == 200 and [g["role"] for g in replaced.json()] == ["Reader"]
    added = requests.post(url, json={"role": "Owner", "scope": RG_SCOPE}, **kw)
    assert added.status_code == 201 and added.json()["principalId"] == simulator.app_principal_id
    net = sdk_client(NetworkManagementClient, simulator)
    net.virtual_networks.begin_create_or_update(RG, "vnet", vnet_body()).result()
    with pytest.raises(HttpResponseError):
        net.virtual_networks.begin_create_or_update(OTHER_RG, "vnet", vnet_body())
    bad = requests.post(url, json={"role": "Owner", "scope": "rg"}, **kw)
    assert bad.status_code == 400 and "scope" in bad.json()["error"]["message"]
    as_post = requests.post(url, json=[f"Owner@{RG_SCOPE}", {"role": "Reader", "scope": SUB_SCOPE}], **kw)
    assert as_post.status_code == 200 and [g["role"] for g in as_post.json()] == ["Owner", "Reader"]
    assert requests.put(url, json={"role": "Owner", "scope": RG_SCOPE}, **kw).status_code == 400
    assert requests.delete(url, **kw).status_code == 204
    assert requests.get(url, **kw).json() == []
    assert simulator.state()["grants"] == []


# ----- settings: python -m simulator --grant, the local host's SIMULATOR_GRANTS / --grant -------------------
ROOT = Path(__file__).resolve().parents[2]


def test_python_m_simulator_grant_flags(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "simulator", "--polls-to-complete", "1"]
    bad = subprocess.run(
        [*base, "--grant", "Owner"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )
    assert bad.returncode == 2 and "--grant" in bad.stderr and "ROLE@SCOPE" in bad.stderr
    proc = subprocess.Popen(
        [*base, "--grant", f"Owner@{RG_SCOPE}", "--grant", f"Reader@{SUB_SCOPE}"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        lines: list[str] = []
        while len([line for line in lines if line.startswith("Grant:")]) < 2:
            lines.append(proc.stdout.readline() if proc.stdout else "")
            assert lines[-1], "python -m simulator ended early"
        endpoint = next(
            line.split(": ", 1)[1].strip() for line in lines if line.startswith("Simulated Azure")
        )
        ca = next(line.split(": ", 1)[1].strip() for line in lines if line.startswith("CA certificate"))
        grants = requests.get(f"{endpoint}/_simulator/grants", verify=ca, timeout=10).json()
        assert [(g["role"], g["scope"]) for g in grants] == [("Owner", RG_SCOPE), ("Reader", SUB_SCOPE)]
        assert f"App identity (principal id): {Simulator().app_principal_id}\n" in lines
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_devhost_passes_its_grant_settings_to_its_simulator(tmp_path: Path) -> None:
    from devhost.cli import apply_simulator_grants, simulator_grants

    assert simulator_grants(["Reader@/subscriptions/*"], f" Owner@{RG_SCOPE} ;") == [
        f"Owner@{RG_SCOPE}",
        "Reader@/subscriptions/*",
    ]
    assert simulator_grants([], "") == []
    sim = Simulator()
    assert apply_simulator_grants(sim, [], "") and [g["scope"] for g in sim.grants()] == ["/subscriptions/*"]
    assert not apply_simulator_grants(sim, ["Owner@nowhere"], "")
    assert [g["scope"] for g in sim.grants()] == ["/subscriptions/*"]  # bad input changes nothing
    with DevHost(
        app_dir=ROOT / "tests" / "devhost" / "sample_app",
        db_path=tmp_path / "state.db",
        simulator=True,
        env={"SIMULATOR_GRANTS": f"Owner@{RG_SCOPE};Private DNS Zone Contributor@{SUB_SCOPE}"},
        extra_args=["--no-example-groups", "--grant", f"Reader@{SUB_SCOPE}"],
    ) as host:
        output = host.output()
    assert f"simulated Azure grant: Owner at {RG_SCOPE} to {sim.app_principal_id}" in output
    assert f"simulated Azure grant: Private DNS Zone Contributor at {SUB_SCOPE}" in output
    assert f"simulated Azure grant: Reader at {SUB_SCOPE}" in output
    assert "/subscriptions/*" not in output


def test_the_node_resource_group_is_out_of_reach_of_group_grants(simulator: Simulator, groups: None) -> None:
    from azure.mgmt.containerservice import ContainerServiceClient

    from tests.simulator.test_containerservice import guide_cluster

    simulator.set_grants([f"Owner@{RG_SCOPE}"])
    net = sdk_client(NetworkManagementClient, simulator)
    body = vnet_body("10.10.0.0/16")
    body["properties"]["subnets"] = [{"name": "nodes", "properties": {"addressPrefix": "10.10.0.0/20"}}]
    net.virtual_networks.begin_create_or_update(RG, "aks-vnet", body).result()
    cluster = (
        sdk_client(ContainerServiceClient, simulator)
        .managed_clusters.begin_create_or_update(RG, "aks", guide_cluster())
        .result()
    )
    node_rg = cluster.properties.node_resource_group
    rm = sdk_client(ResourceManagementClient, simulator)
    with pytest.raises(HttpResponseError) as err:
        rm.resource_groups.get(node_rg)
    assert_denied(
        err,
        simulator.app_principal_id,
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        f"{SUB_SCOPE}/resourcegroups/{node_rg}",
    )
    dns = sdk_client(PrivateDnsManagementClient, simulator)
    with pytest.raises(HttpResponseError) as err:
        list(dns.private_zones.list_by_resource_group(node_rg))
    assert err.value.error.code == "AuthorizationFailed"
    simulator.grant("Private DNS Zone Contributor", SUB_SCOPE)
    zones = list(dns.private_zones.list_by_resource_group(node_rg))
    assert [z.name for z in zones] == [cluster.properties.private_fqdn.split(".", 1)[1]]


# ----- linked scopes: a write that references another resource needs an action there too --------------------
def linked_message(principal: str, action: str, scope: str, linked_action: str, linked: str) -> str:
    return (
        f"The client '{principal}' with object id '{principal}' has permission to perform action "
        f"'{action}' on scope '{scope}'; however, it does not have permission to perform action "
        f"'{linked_action}' on the linked scope(s) '{linked}' or the linked scope(s) are invalid."
    )


def test_peering_needs_peer_on_the_remote_and_a_dns_link_join_on_the_vnet(
    simulator: Simulator, groups: None
) -> None:
    app = simulator.app_principal_id
    net = sdk_client(NetworkManagementClient, simulator)
    local = net.virtual_networks.begin_create_or_update(RG, "local", vnet_body("10.1.0.0/16")).result()
    remote = net.virtual_networks.begin_create_or_update(
        OTHER_RG, "remote", vnet_body("10.2.0.0/16")
    ).result()
    dns = sdk_client(PrivateDnsManagementClient, simulator)
    dns.private_zones.begin_create_or_update(OTHER_RG, "z.io", {"location": "global"}).result()
    zone_id = f"{SUB_SCOPE}/resourceGroups/{OTHER_RG}/providers/Microsoft.Network/privateDnsZones/z.io"
    simulator.set_grants([f"Network Contributor@{RG_SCOPE}", f"Private DNS Zone Contributor@{zone_id}"])

    peering = {"properties": {"remoteVirtualNetwork": {"id": remote.id}, "allowVirtualNetworkAccess": True}}
    with pytest.raises(HttpResponseError) as err:
        net.virtual_network_peerings.begin_create_or_update(RG, "local", "to-remote", peering)
    assert (err.value.status_code, err.value.error.code) == (403, "LinkedAuthorizationFailed")
    assert err.value.error.message == linked_message(
        app,
        "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write",
        vnet_path(RG, "local") + "/virtualNetworkPeerings/to-remote",
        "Microsoft.Network/virtualNetworks/peer/action",
        remote.id,
    )

    def link(vnet_id: str) -> dict:
        return {
            "location": "global",
            "properties": {"virtualNetwork": {"id": vnet_id}, "registrationEnabled": False},
        }

    # join/action on the local vnet comes from Network Contributor on its group; none on the remote one.
    dns.virtual_network_links.begin_create_or_update(OTHER_RG, "z.io", "to-local", link(local.id)).result()
    with pytest.raises(HttpResponseError) as err:
        dns.virtual_network_links.begin_create_or_update(OTHER_RG, "z.io", "to-remote", link(remote.id))
    assert err.value.error.message == linked_message(
        app,
        "Microsoft.Network/privateDnsZones/virtualNetworkLinks/write",
        zone_id + "/virtualNetworkLinks/to-remote",
        "Microsoft.Network/virtualNetworks/join/action",
        remote.id,
    )
    simulator.grant("Network Contributor", remote.id)
    net.virtual_network_peerings.begin_create_or_update(RG, "local", "to-remote", peering).result()
    dns.virtual_network_links.begin_create_or_update(OTHER_RG, "z.io", "to-remote", link(remote.id)).result()


def test_custom_role_assigned_through_arm_and_deleted_only_when_unassigned(
    simulator: Simulator, groups: None
) -> None:
    identity = sdk_client(ManagedServiceIdentityClient, simulator).user_assigned_identities.create_or_update(
        RG, "ops", {"location": "westeurope"}
    )
    auth = sdk_client(AuthorizationManagementClient, simulator)
    role_id = str(uuid.uuid4())
    auth.role_definitions.create_or_update(
        SUB_SCOPE,
        role_id,
        {
            "role_name": "Subnet joiner",
            "permissions": [{"actions": ["Microsoft.Network/virtualNetworks/subnets/join/action"]}],
            "assignable_scopes": [SUB_SCOPE],
        },
    )
    name = str(uuid.uuid4())
    auth.role_assignments.create(RG_SCOPE, name, role_body(role_id, identity.principal_id))
    with pytest.raises(HttpResponseError) as err:
        auth.role_definitions.delete(SUB_SCOPE, role_id)
    assert (err.value.status_code, err.value.error.code) == (409, "RoleDefinitionHasAssignments")
    auth.role_assignments.delete(RG_SCOPE, name)
    assert auth.role_definitions.delete(SUB_SCOPE, role_id).name == role_id
    with pytest.raises(HttpResponseError) as err:
        auth.role_definitions.get(SUB_SCOPE, role_id)
    assert err.value.error.code == "RoleDefinitionDoesNotExist"
