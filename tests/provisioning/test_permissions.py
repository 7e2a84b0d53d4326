"""provisioning.permissions: the actions a request needs at each scope, ARM's evaluation of the caller's
grants, the least-privilege built-in assignments and the equivalent custom roles."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from provisioning import permissions, roles
from provisioning.permissions import Grants, Need
from provisioning.request import SetupRequest, validate_setup_request
from tests.provisioning.sample_requests import SUBSCRIPTION, peering_request, subnet_request

SUB = f"/subscriptions/{SUBSCRIPTION}"
RG = f"{SUB}/resourceGroups/hopsworks-rg"
NODE_RG = f"{SUB}/resourceGroups/MC_hopsworks-rg_hopsaks-cluster_northeurope"
LINK_WRITE = "Microsoft.Network/privateDnsZones/virtualNetworkLinks/write"
RA_WRITE = "Microsoft.Authorization/roleAssignments/write"
RA_DELETE = "Microsoft.Authorization/roleAssignments/delete"


def request(body: dict[str, object]) -> SetupRequest:
    model = validate_setup_request(body)
    assert isinstance(model, SetupRequest), model
    return model


PEERING = request(peering_request())
SUBNET = request(subnet_request())
PEERING_SUBSCRIPTION_ROLES = request(peering_request(identity={"name": "hw-id", "roleScope": "subscription"}))
ALL_SHAPES = pytest.mark.parametrize(
    "model", [PEERING, SUBNET, PEERING_SUBSCRIPTION_ROLES], ids=["peering", "subnet", "subscription-roles"]
)


def entries(role: roles.BuiltInRole) -> list[Mapping[str, object]]:
    return [{"actions": list(role.actions), "notActions": list(role.not_actions)}]


def grants(assigned: Iterable[tuple[roles.BuiltInRole | permissions.CustomRole, str]]) -> Grants:
    """What preflight would read for these assignments: the permissions API on the group merges every one
    that applies there; the role assignments listed at the group carry their scopes."""
    reads = []
    for role, scope in assigned:
        if isinstance(role, permissions.CustomRole):
            reads.append((scope, [{"actions": list(role.actions), "notActions": []}]))
        else:
            reads.append((scope, entries(role)))
    applicable = [(scope, e) for scope, e in reads if permissions.scope_contains(scope, RG)]
    group = [entry for _, e in applicable for entry in e]
    return Grants.from_reads(RG, group, applicable)


def missing_actions(model: SetupRequest, assigned: Iterable[tuple[object, str]]) -> list[tuple[str, str]]:
    found = permissions.missing(permissions.needs(model), grants(assigned))  # type: ignore[arg-type]
    return [(need.action, need.scope) for need in found]


# ---------------------------------------------------------------- needs


def test_needs_by_topology_and_scope() -> None:
    peering = permissions.needs(PEERING)
    subnet = permissions.needs(SUBNET)
    by_action = {(n.action, n.scope_kind): n for n in peering}
    link = by_action[(LINK_WRITE, permissions.NODE_RESOURCE_GROUP)]
    assert link.scope == NODE_RG and link.grant_scope == SUB and link.required
    assert "MC_hopsworks-rg_hopsaks-cluster_northeurope" in link.where and SUB in link.where
    assert ("Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write", "resourceGroup") in by_action
    assert not any("privateDnsZones" in n.action or "Peerings" in n.action for n in subnet)
    assert {n.scope for n in subnet if n.required} == {RG}
    check = [n for n in subnet if n.action == roles.CHECK_REGISTRY_NAME_ACTION]
    assert [(n.scope, n.required) for n in check] == [(SUB, False)]
    sub_roles = [n for n in permissions.needs(PEERING_SUBSCRIPTION_ROLES) if n.scope_kind == "subscription"]
    assert {n.action for n in sub_roles if n.required} == set(roles.SUBSCRIPTION_ROLE_ACTIONS)
    assert permissions.needs(PEERING) == permissions.needs(PEERING.to_orchestration_dict())


def test_node_resource_group_takes_the_groups_location_when_the_request_has_none() -> None:
    body = peering_request()
    del body["location"]
    model = request(body)
    assert any(n.scope.endswith("_<location>") for n in permissions.needs(model))
    assert any(n.scope.endswith("_westeurope") for n in permissions.needs(model, location="westeurope"))


# ---------------------------------------------------------------- the matrix, evaluated as ARM does


OWNER, CONTRIBUTOR, RBAC = roles.OWNER, roles.CONTRIBUTOR, roles.RBAC_ADMINISTRATOR
DNS = roles.PRIVATE_DNS_ZONE_CONTRIBUTOR


@ALL_SHAPES
def test_owner_on_the_subscription_allows_everything(model: SetupRequest) -> None:
    assert missing_actions(model, [(OWNER, SUB)]) == []


def test_owner_on_the_group_only_misses_the_node_resource_group_in_peering() -> None:
    assert missing_actions(SUBNET, [(OWNER, RG)]) == []
    missing = missing_actions(PEERING, [(OWNER, RG)])
    assert (LINK_WRITE, NODE_RG) in missing
    assert {scope for _, scope in missing} == {NODE_RG}
    assert {action for action, _ in missing} == set(roles.NODE_RESOURCE_GROUP_ACTIONS)


@pytest.mark.parametrize("model", [PEERING, SUBNET], ids=["peering", "subnet"])
def test_contributor_on_the_subscription_misses_role_assignment_writes(model: SetupRequest) -> None:
    assert missing_actions(model, [(CONTRIBUTOR, SUB)]) == [(RA_WRITE, RG), (RA_DELETE, RG)]


@pytest.mark.parametrize("model", [PEERING, SUBNET], ids=["peering", "subnet"])
def test_contributor_and_rbac_admin_on_the_group_with_dns_zone_contributor_on_the_subscription(
    model: SetupRequest,
) -> None:
    assert missing_actions(model, [(CONTRIBUTOR, RG), (RBAC, RG), (DNS, SUB)]) == []


def test_role_scope_subscription_needs_role_assignment_writes_on_the_subscription() -> None:
    missing = missing_actions(PEERING_SUBSCRIPTION_ROLES, [(CONTRIBUTOR, RG), (RBAC, RG), (DNS, SUB)])
    assert missing == [(RA_WRITE, SUB), (RA_DELETE, SUB)]  # read comes with Private DNS Zone Contributor
    assert missing_actions(PEERING_SUBSCRIPTION_ROLES, [(CONTRIBUTOR, RG), (RBAC, SUB), (DNS, SUB)]) == []


def test_a_grant_on_another_group_or_a_deny_in_the_answer_does_not_count() -> None:
    other = f"{SUB}/resourceGroups/other-rg"
    required = [n for n in permissions.needs(SUBNET) if n.required]
    assert len(missing_actions(SUBNET, [(OWNER, other)])) == len(required)
    denied = Grants(({"actions": ["*"], "notActions": ["Microsoft.ContainerService/*/write"]},), ())
    found = permissions.missing(permissions.needs(SUBNET), denied)
    assert [n.action for n in found] == ["Microsoft.ContainerService/managedClusters/write"]


# ---------------------------------------------------------------- least privilege


def grant_set(model: SetupRequest) -> set[tuple[str, str]]:
    return {(g.role.name, g.scope) for g in permissions.plan(model).builtin}


def test_least_privilege_builtin_assignments() -> None:
    group = {("Contributor", RG), ("Role Based Access Control Administrator", RG)}
    assert grant_set(SUBNET) == group
    assert grant_set(PEERING) == group | {("Private DNS Zone Contributor", SUB)}
    assert grant_set(PEERING_SUBSCRIPTION_ROLES) == {
        ("Contributor", RG),
        ("Role Based Access Control Administrator", SUB),
        ("Private DNS Zone Contributor", SUB),
    }


@ALL_SHAPES
def test_the_printed_sets_allow_the_run_and_nothing_is_redundant(model: SetupRequest) -> None:
    plan = permissions.plan(model)
    assert missing_actions(model, [(g.role, g.scope) for g in plan.builtin]) == []
    for dropped in plan.builtin:
        rest = [(g.role, g.scope) for g in plan.builtin if g is not dropped]
        assert missing_actions(model, rest), f"{dropped.role.name} is redundant"
    assert missing_actions(model, [(role, role.scope) for role in plan.custom]) == []


@ALL_SHAPES
def test_custom_roles_hold_exactly_the_required_actions_and_each_one_is_needed(model: SetupRequest) -> None:
    plan = permissions.plan(model)
    required = {n.action for n in plan.needs if n.required}
    listed = [action for role in plan.custom for action in role.actions]
    assert len(listed) == len(set(listed)) and set(listed) == required
    assert not any("*" in action for action in listed)
    for role in plan.custom:
        definition = role.definition()
        assert definition["AssignableScopes"] == [role.scope] and definition["NotActions"] == []
        json.dumps(definition)
        for action in role.actions:
            kept = tuple(a for a in role.actions if a != action)
            without = permissions.CustomRole(role.name, role.scope, kept)
            others = [(r, r.scope) for r in plan.custom if r is not role]
            missing = missing_actions(model, [*others, (without, role.scope)])
            assert missing and {a for a, _ in missing} == {action}, (action, missing)


def test_custom_role_scopes() -> None:
    assert [r.scope for r in permissions.plan(SUBNET).custom] == [RG]
    peering = permissions.plan(PEERING).custom
    assert [r.scope for r in peering] == [RG, SUB]
    assert set(peering[1].actions) == set(roles.NODE_RESOURCE_GROUP_ACTIONS)
    sub_roles = permissions.plan(PEERING_SUBSCRIPTION_ROLES).custom
    assert RA_WRITE in sub_roles[1].actions and RA_WRITE not in sub_roles[0].actions


def test_az_commands_constrain_what_a_role_assignment_writer_may_assign() -> None:
    plan = permissions.plan(PEERING)
    for role in (*roles.IDENTITY_ROLES, roles.NETWORK_CONTRIBUTOR):
        assert role.guid in permissions.ROLE_ASSIGNMENT_CONDITION
    assert roles.OWNER.guid not in permissions.ROLE_ASSIGNMENT_CONDITION
    commands = plan.builtin_az_commands("11111111-2222-3333-4444-555555555555")
    with_condition = [c for c in commands if "--condition " in c]
    assert len(with_condition) == 1 and "Role Based Access Control Administrator" in with_condition[0]
    words = shlex.split(with_condition[0])  # a shell hands az the condition as one argument, unchanged
    assert words[words.index("--condition") + 1] == permissions.ROLE_ASSIGNMENT_CONDITION
    assert words[words.index("--role") + 1] == "Role Based Access Control Administrator"
    assert all("--assignee-object-id 11111111-2222-3333-4444-555555555555" in c for c in commands)
    custom = plan.az_commands()
    assert custom[:2] == [
        "az role definition create --role-definition @hopsworks-setup.json",
        "az role definition create --role-definition @hopsworks-setup-subscription.json",
    ]
    assert "--condition " in custom[2] and "--condition " not in custom[3]


def test_plan_renders_for_people_and_machines() -> None:
    plan = permissions.plan(PEERING)
    text = permissions.render_text(plan)
    for expected in ("Contributor", "Private DNS Zone Contributor", LINK_WRITE, "az role definition create",
                     "MC_hopsworks-rg_hopsaks-cluster_northeurope", roles.CHECK_REGISTRY_NAME_ACTION):
        assert expected in text
    as_json = json.loads(json.dumps(plan.to_dict()))
    assert {g["role"] for g in as_json["builtInRoleAssignments"]} == {
        "Contributor", "Role Based Access Control Administrator", "Private DNS Zone Contributor"
    }
    assert as_json["customRoles"][1]["scope"] == SUB


def test_what_to_grant_for_a_missing_need() -> None:
    plan = permissions.plan(PEERING)
    link = next(n for n in plan.needs if n.action == LINK_WRITE)
    assert plan.grant_for(link) == f"'Private DNS Zone Contributor' on {SUB}"
    write = next(n for n in plan.needs if n.action == RA_WRITE)
    assert plan.grant_for(write) == f"'Role Based Access Control Administrator' on {RG}"
    optional = Need(roles.CHECK_REGISTRY_NAME_ACTION, "subscription", SUB, SUB, required=False)
    assert "Reader" in plan.grant_for(optional)


# ---------------------------------------------------------------- python -m client permissions


def test_client_permissions_command_prints_the_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from client.cli import main

    path = tmp_path / "request.json"
    path.write_text(json.dumps(peering_request()))
    assert main(["permissions", str(path)]) == 0
    text = capsys.readouterr().out
    assert "Private DNS Zone Contributor" in text and "$APP_PRINCIPAL_ID" in text
    principal = "5f1e0c1a-7b3d-4e5f-9a8b-0c1d2e3f4a5b"
    assert main(["permissions", str(path), "--json", "--principal-id", principal]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer == {**permissions.plan(PEERING).to_dict(), "azCommands": answer["azCommands"]}
    assert all(principal in command for command in answer["azCommands"]["builtInRoles"])
    path.write_text(json.dumps(peering_request(topology="vpn")))
    assert main(["permissions", str(path)]) == 2
    assert "topology:" in capsys.readouterr().err
    assert main(["permissions", str(tmp_path / "missing.json")]) == 2


def test_optional_subscription_checks_are_noted_when_not_granted_and_never_required() -> None:
    """The registry-name check and the listing of the subscription's vnets (preflight's overlap check) are
    used when allowed: Owner on the group alone passes with a note for each; Reader on the subscription
    silences both; neither enters the least-privilege set."""
    optional = {(n.action, n.scope) for n in permissions.needs(SUBNET) if not n.required}
    assert optional == {(roles.CHECK_REGISTRY_NAME_ACTION, SUB), (roles.LIST_SUBSCRIPTION_VNETS_ACTION, SUB)}

    group_only = permissions.check_grants(SUBNET, grants([(roles.OWNER, RG)]))
    assert group_only.problems == ()
    (registry, vnets) = group_only.notes
    assert "registry name is free" in registry and roles.CHECK_REGISTRY_NAME_ACTION in registry
    assert "address spaces overlap" in vnets and roles.LIST_SUBSCRIPTION_VNETS_ACTION in vnets
    assert f"subscription '{SUB}'" in vnets

    with_reader = permissions.check_grants(SUBNET, grants([(roles.OWNER, RG), (roles.READER, SUB)]))
    assert with_reader.problems == () and with_reader.notes == ()

    plan = permissions.plan(SUBNET)
    assert not any(g.role is roles.READER for g in plan.builtin)
    assert [r.scope for r in plan.custom] == [RG]  # the group's own vnet read is required there, as before
    assert "address spaces overlap" in permissions.render_text(plan)
