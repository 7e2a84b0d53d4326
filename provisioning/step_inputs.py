"""What each step asks its activity to do: the typed input of every call, built from the normalized request,
the run's common fields and the outputs of the steps it needs (passed in explicitly, typed).

Pure, so the orchestrator only sequences and the inputs are unit-tested without the replay engine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from provisioning import contracts as c
from provisioning import naming, roles, topology
from provisioning.rollback import Deletion


@dataclass(frozen=True)
class StepInputs:
    request: Mapping[str, Any]
    common: c.Common
    existed_before: list[str] | None = None  # preflight's snapshot (see contracts.PreflightOutput)

    def after_preflight(self, found: c.PreflightOutput) -> StepInputs:
        """The inputs of every later step: the location preflight found (when the request has none), and
        the snapshot of what existed before the run."""
        location = self.request.get("location") or found.location
        common = dataclasses.replace(self.common, location=location)
        return StepInputs(self.request, common, found.existed_before)

    def _of(self, input_type: type[c.ActivityInput], **fields: Any) -> Any:
        return input_type(**self.common.fields(), **fields)

    # -- preflight and the identity
    def preflight(self) -> c.PreflightInput:
        return self._of(c.PreflightInput, request=dict(self.request))

    def identity(self) -> c.IdentityInput:
        return self._of(c.IdentityInput, name=self.request["identity"]["name"])

    def role_assignment(
        self, scope: str, role: roles.BuiltInRole, principal_id: str
    ) -> c.RoleAssignmentInput:
        return self._of(c.RoleAssignmentInput, scope=scope, role_definition_guid=role.guid,
                        principal_id=principal_id, principal_type=roles.PRINCIPAL_TYPE_SERVICE_PRINCIPAL)

    def identity_roles(self, identity: c.IdentityOutput) -> list[c.RoleAssignmentInput]:
        """AcrPull, AcrPush, AcrDelete and AKS Cluster User for the identity, at the requested scope."""
        scope = naming.identity_role_scope(
            self.request["subscriptionId"], self.request["resourceGroup"],
            self.request["identity"].get("roleScope", "resourceGroup"),
        )
        return [self.role_assignment(scope, role, identity.principal_id) for role in roles.IDENTITY_ROLES]

    # -- networks
    def aks_network(self) -> c.AksNetworkInput:
        aks = self.request["aks"]
        return self._of(c.AksNetworkInput, vnet_name=aks["vnetName"], address_space=aks["addressSpace"],
                        subnets=topology.of(self.request["topology"]).aks_subnets(self.request),
                        existed_before=self.existed_before)

    def hopsworks_network(self) -> c.HopsworksNetworkInput:
        network = self.request["hopsworksNetwork"]
        return self._of(c.HopsworksNetworkInput, vnet_name=network["vnetName"],
                        address_space=network["addressSpace"], subnet_name=network["subnetName"],
                        subnet_prefix=network["subnetPrefix"], existed_before=self.existed_before)

    def peerings(
        self, aks_network: c.AksNetworkOutput, hopsworks_network: c.HopsworksNetworkOutput
    ) -> tuple[c.PeeringInput, c.PeeringInput]:
        """(Hopsworks -> AKS on the Hopsworks vnet, AKS -> Hopsworks on the AKS vnet): one after the other."""
        hopsworks_vnet = self.request["hopsworksNetwork"]["vnetName"]
        aks_vnet = self.request["aks"]["vnetName"]
        on_hopsworks, on_aks = naming.peering_names(hopsworks_vnet, aks_vnet)
        return (
            self._of(c.PeeringInput, vnet_name=hopsworks_vnet, peering_name=on_hopsworks,
                     remote_vnet_id=aks_network.vnet_id, existed_before=self.existed_before),
            self._of(c.PeeringInput, vnet_name=aks_vnet, peering_name=on_aks,
                     remote_vnet_id=hopsworks_network.vnet_id, existed_before=self.existed_before),
        )

    # -- the cluster
    def begin_cluster(self, aks_network: c.AksNetworkOutput) -> c.BeginClusterInput:
        aks = self.request["aks"]
        return self._of(
            c.BeginClusterInput, name=aks["name"],
            node_subnet_id=aks_network.subnet_ids[aks["nodeSubnetName"]], service_cidr=aks["serviceCidr"],
            dns_service_ip=aks["dnsServiceIp"], node_count=aks.get("nodeCount", 1), vm_size=aks.get("vmSize"),
            kubernetes_version=aks.get("kubernetesVersion"),
        )

    def get_cluster(self) -> c.GetClusterInput:
        return self._of(c.GetClusterInput, name=self.request["aks"]["name"])

    def network_role(
        self, aks_network: c.AksNetworkOutput, cluster: c.ClusterOutput
    ) -> c.RoleAssignmentInput:
        """Network Contributor for the cluster's identity on its vnet."""
        return self.role_assignment(aks_network.vnet_id, roles.NETWORK_CONTRIBUTOR, str(cluster.principal_id))

    def dns_link(
        self, cluster: c.ClusterOutput, hopsworks_network: c.HopsworksNetworkOutput
    ) -> c.DnsLinkInput:
        return self._of(
            c.DnsLinkInput, node_resource_group=str(cluster.node_resource_group),
            private_fqdn=str(cluster.private_fqdn), vnet_id=hopsworks_network.vnet_id,
            link_name=naming.dns_link_name(self.request["hopsworksNetwork"]["vnetName"]),
        )

    # -- the registry
    def registry(self) -> c.RegistryInput:
        return self._of(c.RegistryInput, name=self.request["acr"]["name"])

    def retention(self) -> c.RetentionInput:
        acr = self.request["acr"]
        return self._of(c.RetentionInput, name=acr["name"], days=acr.get("retentionDays", 7))

    def acr_pull(self, registry: c.RegistryOutput, cluster: c.ClusterOutput) -> c.RoleAssignmentInput:
        """AcrPull for the cluster's kubelet identity on the registry."""
        return self.role_assignment(registry.id, roles.ACR_PULL, str(cluster.kubelet_object_id))

    # -- rollback
    def delete(self, deletion: Deletion) -> c.DeleteInput:
        return self._of(c.DeleteInput, id=deletion.id, type=deletion.type)
