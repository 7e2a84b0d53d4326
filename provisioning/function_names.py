"""The names of the app's orchestrators and activities: what registering a function needs, nothing more.

Kept apart from `provisioning.contracts` (which re-exports them) so that importing the app for indexing does
not build the contracts: a module registers its functions under these names at import time and imports the
contracts only when a function runs (cold start, docs/DESIGN.md).
"""

SETUP_ORCHESTRATOR = "setup_orchestrator"
PEERING_CHAIN = "setup_peering_chain"  # sub-orchestration: one peering, then the other, then Connected
CLUSTER_WATCH = "setup_cluster_watch"  # sub-orchestration: read the cluster until its provisioning ended
TEARDOWN_ORCHESTRATOR = "teardown_orchestrator"
RECORD_ORCHESTRATOR = "setup_record"  # the durable record of what setups for one target created
ORCHESTRATORS = (SETUP_ORCHESTRATOR, PEERING_CHAIN, CLUSTER_WATCH)

PREFLIGHT = "preflight"
ENSURE_IDENTITY = "ensure_identity"
ENSURE_ROLE_ASSIGNMENT = "ensure_role_assignment"
ENSURE_AKS_NETWORK = "ensure_aks_network"
ENSURE_HOPSWORKS_NETWORK = "ensure_hopsworks_network"
ENSURE_PEERING = "ensure_peering"
BEGIN_AKS_CLUSTER = "begin_aks_cluster"
GET_AKS_CLUSTER = "get_aks_cluster"
ENSURE_REGISTRY = "ensure_registry"
ENSURE_RETENTION_POLICY = "ensure_retention_policy"
ENSURE_DNS_ZONE_LINK = "ensure_dns_zone_link"
DELETE_RESOURCE = "delete_resource"
ACTIVITIES = (
    PREFLIGHT, ENSURE_IDENTITY, ENSURE_ROLE_ASSIGNMENT, ENSURE_AKS_NETWORK, ENSURE_HOPSWORKS_NETWORK,
    ENSURE_PEERING, BEGIN_AKS_CLUSTER, GET_AKS_CLUSTER, ENSURE_REGISTRY, ENSURE_RETENTION_POLICY,
    ENSURE_DNS_ZONE_LINK, DELETE_RESOURCE,
)
