"""A scripted, in-memory Azure that answers the orchestrator's activity calls (no SDK, no HTTP).

It answers like the activities do (DESIGN.md, activity contract): idempotent ensures that report `created`
or `existing`, a cluster that takes `cluster_seconds` to reach Succeeded, deletes that take a few calls for
a cluster. It remembers which run created what and what each resource depends on, so tests can check that
a rollback removed exactly this run's resources, dependents before what they depend on. Faults are scripted
per activity (optionally matching the input): returned transient/permanent errors or a crash (the activity
raising, which the host reports as TaskFailed).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from provisioning import naming

VNET = "Microsoft.Network/virtualNetworks"
SUBNET = "Microsoft.Network/virtualNetworks/subnets"
PEERING = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
IDENTITY = "Microsoft.ManagedIdentity/userAssignedIdentities"
ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
CLUSTER = "Microsoft.ContainerService/managedClusters"
REGISTRY = "Microsoft.ContainerRegistry/registries"
DNS_LINK = "Microsoft.Network/privateDnsZones/virtualNetworkLinks"

_IDS = uuid.UUID("5b1d0c8e-3f7a-4d2e-9c61-0a8b7e6f5d43")


def fake_guid(*parts: str) -> str:
    return str(uuid.uuid5(_IDS, "|".join(parts)))


@dataclass
class Crash:
    """An activity that raised: the host records TaskFailed with these."""

    reason: str
    details: str = "Traceback (most recent call last): ..."


@dataclass
class Fault:
    activity: str
    code: str
    transient: bool = False
    times: int = 1
    crash: bool = False
    when: Callable[[dict], bool] | None = None
    message: str = "scripted fault"
    # Only after this many matching calls have succeeded (e.g. the second ensure_peering).
    skip: int = 0


@dataclass
class Resource:
    id: str
    type: str
    run_id: str | None
    depends_on: tuple[str, ...] = ()
    delete_calls: int = 0


@dataclass
class Call:
    time: datetime
    activity: str
    input: dict


@dataclass
class FakeAzure:
    location: str = "northeurope"
    cluster_seconds: float = 600
    activity_seconds: float = 1
    # get_aks_cluster at a time >= ready answers Succeeded; a Failed cluster answers an error.
    cluster_fails: bool = False
    # The cluster's create ends Failed this many times for a cause that passes (get_aks_cluster answers it
    # transient with provisioningState Failed); begin_aks_cluster PUTs it again and it builds anew.
    cluster_failed_creates: int = 0
    cluster_delete_polls: int = 2  # delete_resource answers done:false this many times for a cluster
    # ARM refuses to delete a cluster still being created (409 OperationNotAllowed, classified transient).
    cluster_busy_until_ready: bool = False
    resources: dict[str, Resource] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    cluster_ready_at: datetime | None = None
    cluster_failed: bool = False  # the current create ended Failed (cluster_failed_creates)
    peering_lag: int = 0  # answers that still say Initiated after both sides exist
    durations: dict[str, float] = field(default_factory=dict)  # per activity, else activity_seconds
    created_log: list[str] = field(default_factory=list)  # ids, in creation order
    known: dict[str, Resource] = field(default_factory=dict)  # everything ever created, kept after deletes

    # ------------------------------------------------------------------ scripting

    def fault(self, activity: str, code: str, **options: Any) -> Fault:
        fault = Fault(activity, code, **options)
        self.faults.append(fault)
        return fault

    def calls_to(self, activity: str) -> list[Call]:
        return [call for call in self.calls if call.activity == activity]

    def created_by(self, run_id: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.run_id == run_id]

    def add_existing(self, rid: str, rtype: str) -> None:
        self.resources[rid.casefold()] = Resource(rid, rtype, None)

    # ------------------------------------------------------------------ answering

    def answer(self, now: datetime, activity: str, payload: dict) -> tuple[dict | Crash, float]:
        self.calls.append(Call(now, activity, payload))
        seconds = self.durations.get(activity, self.activity_seconds)
        for fault in self.faults:
            if fault.activity != activity or fault.times <= 0:
                continue
            if fault.when is not None and not fault.when(payload):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                continue
            fault.times -= 1
            if fault.crash:
                return Crash(f"Activity function '{activity}' failed: {fault.code}"), seconds
            return {"ok": False, "error": {"code": fault.code, "message": fault.message,
                                           "status": 503 if fault.transient else 400,
                                           "transient": fault.transient}}, seconds
        handler = getattr(self, f"_{activity}")
        return handler(now, payload), seconds

    def _ensure(self, payload: dict, rid: str, rtype: str, depends_on: tuple[str, ...] = ()) -> dict:
        existing = self.resources.get(rid.casefold())
        if existing is None:
            resource = Resource(rid, rtype, payload["runId"], depends_on)
            self.resources[rid.casefold()] = self.known[rid.casefold()] = resource
            self.created_log.append(rid)
            action = "created"
        else:
            action = "created" if existing.run_id == payload["runId"] else "existing"
        return {"id": rid, "type": rtype, "action": action}

    def _rid(self, payload: dict, rtype: str, name: str, *children: str) -> str:
        return naming.resource_id(payload["subscriptionId"], payload["resourceGroup"], rtype, name, *children)

    def _preflight(self, now: datetime, payload: dict) -> dict:
        return {"ok": True, "resources": [], "outputs": {"location": self.location}}

    def _ensure_identity(self, now: datetime, payload: dict) -> dict:
        rid = self._rid(payload, IDENTITY, payload["name"])
        resource = self._ensure(payload, rid, IDENTITY)
        return {"ok": True, "resources": [resource],
                "outputs": {"id": rid, "principalId": fake_guid("principal", rid),
                            "clientId": fake_guid("client", rid)}}

    def _ensure_role_assignment(self, now: datetime, payload: dict) -> dict:
        scope, principal = payload["scope"], payload["principalId"]
        name = naming.role_assignment_name(scope, payload["roleDefinitionGuid"], principal)
        rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
        principal_owner = [r.id for r in self.resources.values()
                           if principal in (fake_guid("principal", r.id), fake_guid("kubelet", r.id))]
        scope_owner = [r.id for r in self.resources.values() if r.id.casefold() == scope.casefold()]
        resource = self._ensure(payload, rid, ROLE_ASSIGNMENT, tuple(principal_owner + scope_owner))
        return {"ok": True, "resources": [resource], "outputs": {"id": rid}}

    def _network(self, payload: dict, vnet_name: str, subnets: list[str]) -> tuple[list[dict], str, dict]:
        vnet_id = self._rid(payload, VNET, vnet_name)
        reported = [self._ensure(payload, vnet_id, VNET)]
        subnet_ids = {}
        for subnet in subnets:
            sid = self._rid(payload, VNET, vnet_name, "subnets", subnet)
            subnet_ids[subnet] = sid
            reported.append(self._ensure(payload, sid, SUBNET, (vnet_id,)))
        return reported, vnet_id, subnet_ids

    def _ensure_aks_network(self, now: datetime, payload: dict) -> dict:
        reported, vnet_id, subnet_ids = self._network(
            payload, payload["vnetName"], [s["name"] for s in payload["subnets"]])
        return {"ok": True, "resources": reported, "outputs": {"vnetId": vnet_id, "subnetIds": subnet_ids}}

    def _ensure_hopsworks_network(self, now: datetime, payload: dict) -> dict:
        reported, vnet_id, subnet_ids = self._network(payload, payload["vnetName"], [payload["subnetName"]])
        return {"ok": True, "resources": reported,
                "outputs": {"vnetId": vnet_id, "subnetId": subnet_ids[payload["subnetName"]]}}

    def _ensure_peering(self, now: datetime, payload: dict) -> dict:
        local = self._rid(payload, VNET, payload["vnetName"])
        rid = f"{local}/virtualNetworkPeerings/{payload['peeringName']}"
        resource = self._ensure(payload, rid, PEERING, (local, payload["remoteVnetId"]))
        remote_prefix = payload["remoteVnetId"].casefold() + "/virtualnetworkpeerings/"
        back = any(key.startswith(remote_prefix) for key in self.resources)
        if back and self.peering_lag > 0:
            self.peering_lag -= 1
            back = False
        return {"ok": True, "resources": [resource],
                "outputs": {"id": rid, "peeringState": "Connected" if back else "Initiated"}}

    def _cluster_outputs(self, rid: str, state: str, payload: dict) -> dict:
        node_rg = naming.node_resource_group(payload["resourceGroup"], payload["name"], self.location)
        return {"id": rid, "provisioningState": state, "principalId": fake_guid("principal", rid),
                "kubeletObjectId": fake_guid("kubelet", rid), "nodeResourceGroup": node_rg,
                "privateFqdn": f"{payload['name']}-dns-1a2b3c.{fake_guid('zone', rid)}.privatelink."
                               f"{self.location}.azmk8s.io"}

    def _begin_aks_cluster(self, now: datetime, payload: dict) -> dict:
        rid = self._rid(payload, CLUSTER, payload["name"])
        subnet = payload["nodeSubnetId"]
        vnet = subnet.rsplit("/subnets/", 1)[0]
        is_new = rid.casefold() not in self.resources
        resource = self._ensure(payload, rid, CLUSTER, (subnet, vnet))
        ended = self.cluster_ready_at is not None and now >= self.cluster_ready_at
        failed_before = ended and self.cluster_failed
        if is_new or failed_before:
            self.cluster_ready_at = now + timedelta(seconds=self.cluster_seconds)
            self.cluster_failed = False
        state = "Succeeded" if self.cluster_ready_at is None or now >= self.cluster_ready_at else "Creating"
        return {"ok": True, "resources": [resource], "outputs": {"id": rid, "provisioningState": state}}

    def _get_aks_cluster(self, now: datetime, payload: dict) -> dict:
        rid = self._rid(payload, CLUSTER, payload["name"])
        ready = self.cluster_ready_at is None or now >= self.cluster_ready_at
        if ready and (self.cluster_failed or self.cluster_failed_creates > 0):
            if not self.cluster_failed:
                self.cluster_failed_creates -= 1
                self.cluster_failed = True
            return {"ok": False, "resources": [], "error": {
                "code": "OperationPreempted", "status": 200, "transient": True, "provisioningState": "Failed",
                "resourceId": rid, "message": "the cluster's create ended Failed: OperationPreempted"}}
        if ready and self.cluster_fails:
            error = {"code": "VMExtensionProvisioningError", "status": 200,
                     "message": "the cluster's operation ended Failed", "transient": False}
            return {"ok": False, "error": error}
        outputs = self._cluster_outputs(rid, "Succeeded" if ready else "Creating", payload)
        return {"ok": True, "resources": [], "outputs": outputs}

    def _ensure_registry(self, now: datetime, payload: dict) -> dict:
        rid = self._rid(payload, REGISTRY, payload["name"])
        resource = self._ensure(payload, rid, REGISTRY)
        return {"ok": True, "resources": [resource],
                "outputs": {"id": rid, "loginServer": f"{payload['name'].lower()}.azurecr.io"}}

    def _ensure_retention_policy(self, now: datetime, payload: dict) -> dict:
        return {"ok": True, "resources": [], "outputs": {"days": payload["days"], "status": "enabled"}}

    def _ensure_dns_zone_link(self, now: datetime, payload: dict) -> dict:
        zone = payload["privateFqdn"].split(".", 1)[1]
        zone_id = naming.resource_id(payload["subscriptionId"], payload["nodeResourceGroup"],
                                     "Microsoft.Network/privateDnsZones", zone)
        rid = f"{zone_id}/virtualNetworkLinks/{payload['linkName']}"
        cluster = [r.id for r in self.resources.values() if r.type == CLUSTER]
        resource = self._ensure(payload, rid, DNS_LINK, tuple(cluster) + (payload["vnetId"],))
        return {"ok": True, "resources": [resource], "outputs": {"zoneName": zone, "id": rid}}

    def _delete_resource(self, now: datetime, payload: dict) -> dict:
        key = payload["id"].casefold()
        resource = self.resources.get(key)
        if resource is None:
            return {"ok": True, "resources": [], "outputs": {"done": True}}
        creating = self.cluster_ready_at is not None and now < self.cluster_ready_at
        if resource.type == CLUSTER and self.cluster_busy_until_ready and creating:
            return {"ok": False, "error": {
                "code": "OperationNotAllowed", "status": 409, "transient": True,
                "message": "Operation is not allowed because there's an in progress create managed cluster "
                           "operation"}}
        if resource.type == CLUSTER and resource.delete_calls < self.cluster_delete_polls:
            resource.delete_calls += 1
            return {"ok": True, "resources": [], "outputs": {"done": False}}
        del self.resources[key]
        if resource.type == VNET:  # a vnet takes its subnets and peerings with it
            for child in [k for k in self.resources if k.startswith(key + "/")]:
                del self.resources[child]
        self.deleted.append(resource.id)
        return {"ok": True, "resources": [], "outputs": {"done": True}}
