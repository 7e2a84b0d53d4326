"""Role assignments, role definitions and permissions through the real azure-mgmt-authorization client."""

import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.msi import ManagedServiceIdentityClient

from simulator.testing import sdk_client
from tests.simulator.helpers import example, with_status

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
EXAMPLE_SUB = "a925f2f7-5c63-4b7b-8799-25a5f97bc3b2"


@pytest.fixture
def auth(simulator):
    return sdk_client(AuthorizationManagementClient, simulator, EXAMPLE_SUB)


@pytest.fixture
def msi(simulator):
    return sdk_client(ManagedServiceIdentityClient, simulator, EXAMPLE_SUB)


def _role(guid: str, sub: str = EXAMPLE_SUB) -> str:
    return f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def _example_principal(simulator, ex):
    props = ex["parameters"]["parameters"]["properties"]
    simulator.register_principal(props["principalId"], props["principalType"])
    return props


def _example_role_body(ex):
    """The example's request; its role definition (a custom role of the example's tenant) becomes a
    built-in one the simulator knows."""
    props = dict(ex["parameters"]["parameters"]["properties"])
    props["roleDefinitionId"] = _role(ACR_PULL)
    return {"properties": props}


@pytest.mark.parametrize(
    "name",
    [
        "RoleAssignments_CreateForSubscription.json",
        "RoleAssignments_CreateForResourceGroup.json",
        "RoleAssignments_CreateForResource.json",
    ],
)
def test_create_matches_examples(simulator, auth, name):
    ex = example(f"authorization/{name}")
    p = ex["parameters"]
    scope = "/" + p["scope"]
    simulator.add_resource_group(EXAMPLE_SUB, "testrg", "eastus")
    if "/providers/" in scope:
        simulator.add_resource(scope, "Microsoft.DocumentDb/databaseAccounts")
    _example_principal(simulator, ex)
    status, ra = auth.role_assignments.create(
        scope, p["roleAssignmentName"], _example_role_body(ex), cls=with_status
    )
    expected = ex["responses"]["201"]["body"]
    assert status == 201
    assert ra.id == expected["id"]
    assert ra.name == expected["name"]
    assert ra.type == expected["type"]
    assert ra.scope == expected["properties"]["scope"]
    assert ra.principal_id == expected["properties"]["principalId"]
    assert ra.principal_type == expected["properties"]["principalType"]
    assert ra.role_definition_id.endswith("/" + ACR_PULL)
    # the same request again is idempotent: 200 with the same assignment (the example's other answer)
    status, again = auth.role_assignments.create(
        scope, p["roleAssignmentName"], _example_role_body(ex), cls=with_status
    )
    assert status == 200 and "200" in ex["responses"]
    assert again.id == ra.id


def _seed_example_assignment(simulator, auth, ex_name: str):
    ex = example(f"authorization/{ex_name}")
    p = ex["parameters"]
    principal = ex["responses"]["200"]["body"]["properties"]["principalId"]
    simulator.register_principal(principal, "User")
    auth.role_assignments.create(
        "/" + p["scope"],
        p["roleAssignmentName"],
        {
            "properties": {
                "roleDefinitionId": _role(ACR_PULL),
                "principalId": principal,
                "principalType": "User",
            }
        },
    )
    return ex


def test_get_matches_example(simulator, auth):
    ex = _seed_example_assignment(simulator, auth, "RoleAssignments_Get.json")
    p = ex["parameters"]
    status, ra = auth.role_assignments.get("/" + p["scope"], p["roleAssignmentName"], cls=with_status)
    body = ex["responses"]["200"]["body"]
    assert status == 200
    assert (ra.id, ra.name, ra.scope, ra.principal_id) == (
        body["id"],
        body["name"],
        body["properties"]["scope"],
        body["properties"]["principalId"],
    )


def test_list_for_scope_matches_example(simulator, auth):
    ex = _seed_example_assignment(simulator, auth, "RoleAssignments_Get.json")
    listed = example("authorization/RoleAssignments_ListForScope.json")
    listed_items = list(auth.role_assignments.list_for_scope("/" + listed["parameters"]["scope"]))
    expected = listed["responses"]["200"]["body"]["value"]
    # The caller's own assignment (the default grant: the app's identity is Owner of the subscription) is
    # listed too, as ARM lists the caller's; the rest is the example.
    own = [i for i in listed_items if i.principal_id == simulator.app_principal_id]
    assert [(i.scope, i.role_definition_id.rsplit("/", 1)[-1]) for i in own] == [
        ("/" + listed["parameters"]["scope"], OWNER)
    ]
    items = [i for i in listed_items if i.principal_id != simulator.app_principal_id]
    assert [(i.id, i.principal_id, i.scope) for i in items] == [
        (e["id"], e["properties"]["principalId"], e["properties"]["scope"]) for e in expected
    ]
    assert ex["parameters"]["roleAssignmentName"] == items[0].name


def test_delete_matches_example(simulator, auth):
    ex = _seed_example_assignment(simulator, auth, "RoleAssignments_Delete.json")
    p = ex["parameters"]
    status, deleted = auth.role_assignments.delete("/" + p["scope"], p["roleAssignmentName"], cls=with_status)
    assert status == 200
    assert deleted.id == ex["responses"]["200"]["body"]["id"]
    status, nothing = auth.role_assignments.delete("/" + p["scope"], p["roleAssignmentName"], cls=with_status)
    assert (status, nothing) == (204, None)
    with pytest.raises(ResourceNotFoundError) as err:
        auth.role_assignments.get("/" + p["scope"], p["roleAssignmentName"])
    assert err.value.error.code == "RoleAssignmentNotFound"


def test_role_definitions_match_examples(simulator, auth):
    by_id = example("authorization/GetRoleDefinitionById.json")
    status, rd = auth.role_definitions.get_by_id(_role(ACR_PULL), cls=with_status)
    assert status == 200
    assert rd.type == by_id["responses"]["200"]["body"]["type"]
    assert (rd.name, rd.role_name, rd.role_type) == (ACR_PULL, "AcrPull", "BuiltInRole")
    assert rd.permissions[0].actions == ["Microsoft.ContainerRegistry/registries/pull/read"]
    by_name = example("authorization/GetRoleDefinitionByName.json")
    status, rd = auth.role_definitions.get(f"/subscriptions/{EXAMPLE_SUB}", ACR_PULL, cls=with_status)
    assert status == 200 and rd.type == by_name["responses"]["200"]["body"]["type"]
    assert rd.id == _role(ACR_PULL)
    names = {d.role_name for d in auth.role_definitions.list(f"/subscriptions/{EXAMPLE_SUB}")}
    assert {
        "AcrPull",
        "AcrPush",
        "AcrDelete",
        "Azure Kubernetes Service Cluster User Role",
        "Network Contributor",
        "Owner",
        "Contributor",
    } <= names
    found = list(auth.role_definitions.list(f"/subscriptions/{EXAMPLE_SUB}", filter="roleName eq 'AcrPush'"))
    assert [d.name for d in found] == ["8311e382-0749-4cb8-b61a-304f252e45ec"]
    with pytest.raises(ResourceNotFoundError) as err:
        auth.role_definitions.get(f"/subscriptions/{EXAMPLE_SUB}", str(uuid.uuid4()))
    assert err.value.error.code == "RoleDefinitionDoesNotExist"


def _identity(simulator, msi, rg="rg", name="id1"):
    simulator.add_resource_group(EXAMPLE_SUB, rg, "eastus")
    return msi.user_assigned_identities.create_or_update(rg, name, {"location": "eastus"})


def _body(principal: str, role: str = ACR_PULL, principal_type: str | None = "ServicePrincipal"):
    props = {"roleDefinitionId": _role(role), "principalId": principal}
    if principal_type:
        props["principalType"] = principal_type
    return {"properties": props}


RG_SCOPE = f"/subscriptions/{EXAMPLE_SUB}/resourceGroups/rg"


def test_exists_and_update_not_permitted(simulator, auth, msi):
    identity = _identity(simulator, msi)
    name = str(uuid.uuid4())
    auth.role_assignments.create(RG_SCOPE, name, _body(identity.principal_id))
    with pytest.raises(ResourceExistsError) as err:
        auth.role_assignments.create(RG_SCOPE, str(uuid.uuid4()), _body(identity.principal_id))
    assert (err.value.status_code, err.value.error.code) == (409, "RoleAssignmentExists")
    with pytest.raises(ResourceExistsError) as err:
        auth.role_assignments.create(
            RG_SCOPE, name, _body(identity.principal_id, "8311e382-0749-4cb8-b61a-304f252e45ec")
        )
    assert err.value.error.code == "RoleAssignmentUpdateNotPermitted"
    # the same role for the same principal at another scope is another assignment
    auth.role_assignments.create(
        f"/subscriptions/{EXAMPLE_SUB}", str(uuid.uuid4()), _body(identity.principal_id)
    )
    listed = list(
        auth.role_assignments.list_for_scope(RG_SCOPE, filter=f"principalId eq '{identity.principal_id}'")
    )
    assert len(listed) == 2  # the one at the group and the inherited one from the subscription
    at_scope = list(auth.role_assignments.list_for_scope(f"/subscriptions/{EXAMPLE_SUB}", filter="atScope()"))
    # the identity's AcrPull there, and the caller's own Owner (the default grant)
    assert sorted((a.principal_id, a.role_definition_id.rsplit("/", 1)[-1]) for a in at_scope) == sorted(
        [(identity.principal_id, ACR_PULL), (simulator.app_principal_id, OWNER)]
    )


@pytest.mark.parametrize(
    ("name", "body", "status", "code"),
    [
        ("not-a-guid", None, 400, "InvalidRoleAssignmentId"),
        (
            None,
            {"properties": {"roleDefinitionId": _role(str(uuid.uuid4())), "principalId": "P"}},
            400,
            "RoleDefinitionDoesNotExist",
        ),
        (
            None,
            {"properties": {"roleDefinitionId": "AcrPull", "principalId": "P"}},
            400,
            "InvalidRoleDefinitionId",
        ),
        (
            None,
            {"properties": {"roleDefinitionId": _role(ACR_PULL), "principalId": str(uuid.UUID(int=7))}},
            400,
            "PrincipalNotFound",
        ),
        (
            None,
            {
                "properties": {
                    "roleDefinitionId": _role(ACR_PULL),
                    "principalId": "P",
                    "principalType": "User",
                }
            },
            400,
            "UnmatchedPrincipalType",
        ),
    ],
)
def test_validation_errors(simulator, auth, msi, name, body, status, code):
    identity = _identity(simulator, msi)
    if body is None:
        body = _body(identity.principal_id)
    body["properties"]["principalId"] = body["properties"]["principalId"].replace("P", identity.principal_id)
    with pytest.raises(HttpResponseError) as err:
        auth.role_assignments.create(RG_SCOPE, name or str(uuid.uuid4()), body)
    assert (err.value.status_code, err.value.error.code) == (status, code)


def test_scope_must_exist(simulator, auth, msi):
    identity = _identity(simulator, msi)
    with pytest.raises(ResourceNotFoundError) as err:
        auth.role_assignments.create(
            f"/subscriptions/{EXAMPLE_SUB}/resourceGroups/nope",
            str(uuid.uuid4()),
            _body(identity.principal_id),
        )
    assert err.value.error.code == "ResourceGroupNotFound"
    vnet = f"{RG_SCOPE}/providers/Microsoft.Network/virtualNetworks/absent"
    with pytest.raises(ResourceNotFoundError) as err:
        auth.role_assignments.create(vnet, str(uuid.uuid4()), _body(identity.principal_id))
    assert err.value.error.code == "ResourceNotFound"


def test_deleting_a_resource_removes_assignments_scoped_under_it(simulator, auth, msi):
    identity = _identity(simulator, msi)
    target = _identity(simulator, msi, name="target")
    name = str(uuid.uuid4())
    auth.role_assignments.create(target.id, name, _body(identity.principal_id))
    assert auth.role_assignments.get(target.id, name).scope == target.id
    msi.user_assigned_identities.delete("rg", "target")
    with pytest.raises(ResourceNotFoundError):
        auth.role_assignments.get(target.id, name)


def test_principal_not_found_fault_for_young_principals(simulator, auth, msi):
    simulator.add_fault(
        method="PUT", path="/roleAssignments/", kind="principal_not_found", requests=3, count=-1
    )
    identity = _identity(simulator, msi)  # created at request n
    name = str(uuid.uuid4())
    with pytest.raises(HttpResponseError) as err:
        auth.role_assignments.create(RG_SCOPE, name, _body(identity.principal_id))
    assert (err.value.status_code, err.value.error.code) == (400, "PrincipalNotFound")
    list(auth.role_assignments.list_for_scope(RG_SCOPE))  # time passes: request n+2; the PUT is n+3
    created = auth.role_assignments.create(RG_SCOPE, name, _body(identity.principal_id))
    assert created.principal_id == identity.principal_id


def test_principal_replication_delay_standing_option(simulator, auth, msi):
    simulator.principal_replication_requests = 2
    identity = _identity(simulator, msi)
    with pytest.raises(HttpResponseError) as err:
        auth.role_assignments.create(RG_SCOPE, str(uuid.uuid4()), _body(identity.principal_id))
    assert err.value.error.code == "PrincipalNotFound"
    auth.role_assignments.create(RG_SCOPE, str(uuid.uuid4()), _body(identity.principal_id))
    simulator.principal_replication_requests = 0
    simulator.principal_replication_delay = 60
    late = _identity(simulator, msi, name="late")
    with pytest.raises(HttpResponseError) as err:
        auth.role_assignments.create(RG_SCOPE, str(uuid.uuid4()), _body(late.principal_id))
    assert err.value.error.code == "PrincipalNotFound"
    simulator.principal_replication_delay = 0
    auth.role_assignments.create(RG_SCOPE, str(uuid.uuid4()), _body(late.principal_id))


def test_permissions_honour_denials(simulator, auth, msi):
    identity = _identity(simulator, msi)
    perms = list(auth.permissions.list_for_resource_group("rg"))
    assert [(p.actions, p.not_actions) for p in perms] == [(["*"], [])]
    simulator.deny_permission(EXAMPLE_SUB, "rg", "Microsoft.Authorization/roleAssignments/write")
    perms = list(auth.permissions.list_for_resource_group("rg"))
    assert perms[0].not_actions == ["Microsoft.Authorization/roleAssignments/write"]
    with pytest.raises(HttpResponseError) as err:
        auth.role_assignments.create(RG_SCOPE, str(uuid.uuid4()), _body(identity.principal_id))
    assert (err.value.status_code, err.value.error.code) == (403, "AuthorizationFailed")
    with pytest.raises(ResourceNotFoundError) as err:
        list(auth.permissions.list_for_resource_group("absent"))
    assert err.value.error.code == "ResourceGroupNotFound"


def test_throttled_and_failing_writes_are_retried_by_the_sdk(simulator, auth, msi):
    identity = _identity(simulator, msi)
    simulator.add_fault(method="PUT", path="/roleAssignments/", status=429, retry_after=0)
    simulator.add_fault(method="PUT", path="/roleAssignments/", status=500)
    created = auth.role_assignments.create(RG_SCOPE, str(uuid.uuid4()), _body(identity.principal_id))
    assert created.principal_id == identity.principal_id
    assert [r["status"] for r in simulator.requests if r["method"] == "PUT"][-3:] == [429, 500, 201]
