"""The private AKS cluster (guide step 1). Creating one takes 5-15 minutes: `begin_aks_cluster` only starts
the PUT (`polling=False`), the orchestrator then calls `get_aks_cluster` on durable timers."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities import _compat, _results, arm

bp = df.Blueprint()

CLUSTER_TYPE = "Microsoft.ContainerService/managedClusters"
SYSTEM_POOL_NAME = "system"
FAILED_STATES = ("failed", "canceled")


@bp.activity_trigger(input_name="payload")
@_results.arm_activity
def begin_aks_cluster(payload: dict[str, Any]) -> dict[str, Any]:
    """Start creating the cluster exactly as the guide configures it; never wait for it.

    Already there: adopted without a write when it has the guide's configuration (whatever its state: a
    cluster this run started and that is still Creating is only reported). Ended Failed: the cluster's error.
    """
    resource_group, name, run_id = payload["resourceGroup"], payload["name"], payload["runId"]
    clusters = arm.containerservice(payload["subscriptionId"]).managed_clusters

    cluster = arm.get_or_none(clusters.get, resource_group, name)
    if cluster is not None:
        problems = _compat.cluster_problems(
            existing_cluster(cluster),
            wanted_location=payload.get("location"),
            node_subnet_id=payload["nodeSubnetId"],
            service_cidr=payload["serviceCidr"],
            dns_service_ip=payload["dnsServiceIp"],
        )
        if problems:
            return _results.incompatible("AKS cluster", name, problems)
        failure = cluster_failure(cluster)
        if failure is not None:
            return failure
        action = _results.action_from_tags(cluster.tags, run_id)
        return _cluster_started(cluster, action)

    poller = clusters.begin_create_or_update(resource_group, name, _cluster_body(payload), polling=False)
    # With polling=False the poller holds the PUT's own answer (201, provisioningState Creating).
    return _cluster_started(poller.result(), _results.CREATED)


def _cluster_body(payload: dict[str, Any]) -> Any:
    from azure.mgmt.containerservice import models

    return models.ManagedCluster(
        location=payload["location"],
        tags=_results.run_tags(payload.get("tags"), payload["instanceId"], payload["runId"]),
        identity=models.ManagedClusterIdentity(type="SystemAssigned"),
        properties=models.ManagedClusterProperties(
            dns_prefix=_compat.dns_prefix(payload["name"]),
            kubernetes_version=payload.get("kubernetesVersion") or None,
            enable_rbac=True,  # no aad_profile: AKS-managed Azure AD stays disabled, as the guide says
            agent_pool_profiles=[
                models.ManagedClusterAgentPoolProfile(
                    name=SYSTEM_POOL_NAME,
                    mode="System",
                    type="VirtualMachineScaleSets",
                    os_type="Linux",
                    count=payload["nodeCount"],
                    vm_size=payload["vmSize"],
                    vnet_subnet_id=payload["nodeSubnetId"],
                )
            ],
            # Azure CNI without overlay: pods get vnet IPs that Hopsworks can reach.
            network_profile=models.ContainerServiceNetworkProfile(
                network_plugin="azure",
                service_cidr=payload["serviceCidr"],
                dns_service_ip=payload["dnsServiceIp"],
            ),
            api_server_access_profile=models.ManagedClusterAPIServerAccessProfile(
                enable_private_cluster=True
            ),
        ),
    )


def _cluster_started(cluster: Any, action: str) -> dict[str, Any]:
    state = cluster.properties.provisioning_state if cluster.properties else None
    return _results.ok(
        [_results.resource(cluster.id, CLUSTER_TYPE, action)],
        {"id": cluster.id, "provisioningState": _results.plain(state)},
    )


@bp.activity_trigger(input_name="payload")
@_results.arm_activity
def get_aks_cluster(payload: dict[str, Any]) -> dict[str, Any]:
    """Read the cluster (no write): its state and, once there, the identities, node RG and private FQDN."""
    clusters = arm.containerservice(payload["subscriptionId"]).managed_clusters
    cluster = clusters.get(payload["resourceGroup"], payload["name"])
    failure = cluster_failure(cluster)
    if failure is not None:
        return failure
    properties = cluster.properties
    kubelet = (properties.identity_profile or {}).get("kubeletidentity") if properties else None
    return _results.ok(
        [],
        {
            "id": cluster.id,
            "provisioningState": _results.plain(properties.provisioning_state) if properties else None,
            "principalId": cluster.identity.principal_id if cluster.identity else None,
            "kubeletObjectId": kubelet.object_id if kubelet else None,
            "nodeResourceGroup": properties.node_resource_group if properties else None,
            "privateFqdn": properties.private_fqdn if properties else None,
        },
    )


def cluster_failure(cluster: Any) -> dict[str, Any] | None:
    """The error result when the cluster's last operation ended Failed or Canceled, else None."""
    properties = cluster.properties
    state = _results.plain(properties.provisioning_state) if properties else None
    if not state or state.casefold() not in FAILED_STATES:
        return None
    detail = properties.status.provisioning_error if properties.status else None
    code = (detail.code if detail else None) or _results.CLUSTER_FAILED
    message = (detail.message if detail else None) or f"the cluster's last operation ended {state}"
    return _results.error(code, f"AKS cluster '{cluster.name}' is {state}: {message}", transient=False)


def existing_cluster(cluster: Any) -> _compat.ExistingCluster:
    """The plain facts the compatibility rules need from an SDK ManagedCluster (shared with preflight)."""
    properties = cluster.properties
    network = properties.network_profile if properties else None
    api_server = properties.api_server_access_profile if properties else None
    return _compat.ExistingCluster(
        location=cluster.location,
        identity_type=_results.plain(cluster.identity.type) if cluster.identity else None,
        enable_rbac=properties.enable_rbac if properties else None,
        has_aad_profile=bool(properties and properties.aad_profile),
        network_plugin=_results.plain(network.network_plugin) if network else None,
        network_plugin_mode=_results.plain(network.network_plugin_mode) if network else None,
        service_cidr=network.service_cidr if network else None,
        dns_service_ip=network.dns_service_ip if network else None,
        private_cluster=api_server.enable_private_cluster if api_server else None,
        subnet_ids=tuple(pool.vnet_subnet_id for pool in (properties.agent_pool_profiles or []))
        if properties
        else (),
    )
