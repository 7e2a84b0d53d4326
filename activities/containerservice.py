"""The private AKS cluster (guide step 1). Creating one takes 5-15 minutes: `begin_aks_cluster` only starts
the PUT (`polling=False`), the orchestrator then calls `get_aks_cluster` on durable timers."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities import _results, adoption, arm, c, deletion, errors, ownership
from provisioning import function_names

bp = df.Blueprint()

CLUSTER_TYPE = "Microsoft.ContainerService/managedClusters"
SYSTEM_POOL_NAME = "system"


@_results.registered(bp, function_names.BEGIN_AKS_CLUSTER)
def begin_aks_cluster(wanted: c.BeginClusterInput) -> dict[str, Any]:
    """Start creating the cluster exactly as the guide configures it; never wait for it.

    Already there: adopted without a write when it has the guide's configuration (whatever its state: a
    cluster this run started and that is still Creating is only reported). Ended Failed or Canceled: this
    run's own cluster is PUT again when the failure was a passing one (`adoption.cluster_put_again`), else
    the cluster's error; someone else's Failed cluster is never written to.
    """
    group, name, run_id = wanted.resource_group, wanted.name, wanted.run_id
    clusters = arm.containerservice(wanted.subscription_id).managed_clusters

    def put() -> Any:  # polling=False: the answer is the PUT's own (201 Creating; Updating when PUT again)
        return clusters.begin_create_or_update(group, name, _cluster_body(wanted), polling=False).result()

    cluster = arm.get_or_none(clusters.get, group, name)
    if cluster is not None:
        problems = adoption.cluster_problems(
            existing_cluster(cluster),
            wanted_location=wanted.location,
            node_subnet_id=wanted.node_subnet_id,
            service_cidr=wanted.service_cidr,
            dns_service_ip=wanted.dns_service_ip,
        )
        if problems:
            return _results.incompatible("AKS cluster", name, problems)
        action = ownership.action_from_tags(cluster.tags, run_id)
        failure = cluster_failure(cluster)
        if failure is None:
            return _cluster_started(cluster, action)
        detail = _provisioning_error(cluster)
        if action != ownership.CREATED or not adoption.cluster_put_again(_results.state(cluster), *detail):
            return failure
        # get_aks_cluster then checks what the PUT again made.
        again = _results.put_right(
            put,
            kind="AKS cluster",
            wrong=lambda _: None,
            owned=_results.resource(cluster.id, CLUSTER_TYPE, action),
        )
        return _cluster_started(again, action)

    return _cluster_started(put(), ownership.CREATED)


def _cluster_body(wanted: c.BeginClusterInput) -> Any:
    from azure.mgmt.containerservice import models

    return models.ManagedCluster(
        location=wanted.location,
        tags=ownership.run_tags(wanted.tags, wanted.instance_id, wanted.run_id),
        identity=models.ManagedClusterIdentity(type="SystemAssigned"),
        properties=models.ManagedClusterProperties(
            dns_prefix=adoption.dns_prefix(wanted.name),
            kubernetes_version=wanted.kubernetes_version or None,
            enable_rbac=True,  # no aad_profile: AKS-managed Azure AD stays disabled, as the guide says
            agent_pool_profiles=[
                models.ManagedClusterAgentPoolProfile(
                    name=SYSTEM_POOL_NAME,
                    mode="System",
                    type="VirtualMachineScaleSets",
                    os_type="Linux",
                    count=wanted.node_count,
                    vm_size=wanted.vm_size,
                    vnet_subnet_id=wanted.node_subnet_id,
                )
            ],
            # Azure CNI without overlay: pods get vnet IPs that Hopsworks can reach.
            network_profile=models.ContainerServiceNetworkProfile(
                network_plugin="azure",
                service_cidr=wanted.service_cidr,
                dns_service_ip=wanted.dns_service_ip,
            ),
            api_server_access_profile=models.ManagedClusterAPIServerAccessProfile(
                enable_private_cluster=True
            ),
        ),
    )


def _cluster_started(cluster: Any, action: str) -> dict[str, Any]:
    output = c.BeginClusterOutput(id=cluster.id, provisioning_state=_results.state(cluster))
    return _results.ok([_results.resource(cluster.id, CLUSTER_TYPE, action)], output)


@_results.registered(bp, function_names.GET_AKS_CLUSTER)
def get_aks_cluster(wanted: c.GetClusterInput) -> dict[str, Any]:
    """Read the cluster (no write): its state and, once there, the identities, node RG and private FQDN.

    Ended Failed or Canceled: the cluster's error, with `provisioningState` and `resourceId`. It is transient
    when this run's own cluster failed for a passing reason: then begin_aks_cluster, called again, PUTs it
    again (reconcile); otherwise permanent.
    """
    clusters = arm.containerservice(wanted.subscription_id).managed_clusters
    cluster = clusters.get(wanted.resource_group, wanted.name)
    failure = cluster_failure(cluster)
    if failure is not None:
        ours = ownership.action_from_tags(cluster.tags, wanted.run_id) == ownership.CREATED
        failure["error"]["transient"] = ours and adoption.cluster_put_again(
            _results.state(cluster), *_provisioning_error(cluster)
        )
        return failure
    return _results.ok([], _cluster_output(cluster))


def _cluster_output(cluster: Any) -> c.ClusterOutput:
    """The cluster's state, identities, node resource group and private FQDN."""
    kubelet = (_results.prop(cluster, "identity_profile") or {}).get("kubeletidentity")
    return c.ClusterOutput(
        id=cluster.id,
        provisioning_state=_results.state(cluster),
        principal_id=cluster.identity.principal_id if cluster.identity else None,
        kubelet_object_id=kubelet.object_id if kubelet else None,
        node_resource_group=_results.prop(cluster, "node_resource_group"),
        private_fqdn=_results.prop(cluster, "private_fqdn"),
    )


def cluster_failure(cluster: Any) -> dict[str, Any] | None:
    """The error result when the cluster's last operation ended Failed or Canceled, else None."""
    state = _results.state(cluster)
    if not adoption.is_failed(state):
        return None
    code, message = _provisioning_error(cluster)
    return _results.error(
        code or _results.CLUSTER_FAILED,
        f"AKS cluster '{cluster.name}' is {state}: {message or f'the last operation on it ended {state}'}",
        provisioningState=state,
        resourceId=cluster.id,
    )


def delete(subscription_id: str, resource_id: str, resource_type: str) -> c.DeleteOutput:
    """Delete the cluster (rollback). It takes minutes: started with polling=False, done once a GET finds it
    gone; no second DELETE while it is Deleting. AKS refusing because the cluster is still busy (409
    OperationNotAllowed while Creating) answers `busy`: the caller waits for a terminal state and asks
    again (provisioning.deletion)."""
    from azure.core.exceptions import HttpResponseError

    parts = arm.parse_id(resource_id)
    clusters = arm.containerservice(subscription_id).managed_clusters
    cluster = arm.get_or_none(clusters.get, parts["resource_group"], parts["name"])
    if cluster is None:
        return deletion.outcome(True)
    if (_results.state(cluster) or "").casefold() != "deleting":
        try:
            clusters.begin_delete(parts["resource_group"], parts["name"], polling=False)
        except HttpResponseError as exc:
            if not deletion.is_busy(errors.classify(exc)):
                raise
            return deletion.outcome(False, busy=True)
    return deletion.outcome(False)


def _provisioning_error(cluster: Any) -> tuple[str | None, str]:
    """(code, message) of the error AKS records on a cluster whose last operation failed."""
    status = _results.prop(cluster, "status")
    detail = status.provisioning_error if status else None
    return (detail.code if detail else None), ((detail.message if detail else None) or "")


def existing_cluster(cluster: Any) -> adoption.ExistingCluster:
    """The plain facts the compatibility rules need from an SDK ManagedCluster (shared with preflight)."""
    network = _results.prop(cluster, "network_profile")
    api_server = _results.prop(cluster, "api_server_access_profile")
    return adoption.ExistingCluster(
        location=cluster.location,
        identity_type=_results.plain(cluster.identity.type) if cluster.identity else None,
        enable_rbac=_results.prop(cluster, "enable_rbac"),
        has_aad_profile=bool(_results.prop(cluster, "aad_profile")),
        network_plugin=_results.plain(network.network_plugin) if network else None,
        network_plugin_mode=_results.plain(network.network_plugin_mode) if network else None,
        service_cidr=network.service_cidr if network else None,
        dns_service_ip=network.dns_service_ip if network else None,
        private_cluster=api_server.enable_private_cluster if api_server else None,
        subnet_ids=tuple(pool.vnet_subnet_id for pool in _results.prop(cluster, "agent_pool_profiles") or []),
    )


def find_cluster(subscription_id: str, resource_group: str, name: str) -> Any:
    """The cluster under `name`, or None (preflight's read)."""
    return arm.get_or_none(arm.containerservice(subscription_id).managed_clusters.get, resource_group, name)


# ---------------------------------------------------------------- read-only inspection (plan, teardown)


@bp.activity_trigger(input_name="payload")
@_results.arm_activity
def inspect_cluster(payload: dict[str, Any]) -> dict[str, Any]:
    """Read the cluster (no write): whether it exists, its tags, state, identities, node resource group and
    the facts the adoption rules compare."""
    import dataclasses

    def facts(cluster: Any) -> dict[str, Any]:
        failure = cluster_failure(cluster)
        rules = dataclasses.asdict(existing_cluster(cluster))
        rules["subnet_ids"] = list(rules["subnet_ids"])
        failed = failure["error"] if failure else None
        return {**_cluster_output(cluster).to_dict(), "facts": rules, "failure": failed}

    cluster = find_cluster(payload["subscriptionId"], payload["resourceGroup"], payload["name"])
    return _results.inspected(cluster, CLUSTER_TYPE, facts)
