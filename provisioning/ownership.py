"""Who made a resource: this run (`created`, rolled back on failure) or someone before it (`existing`, never
deleted). docs/DESIGN.md, "Who made it: created vs existing".

Plain rules over values the activities read from Azure: the run's tags on taggable resources, the run's
description on role assignments, and preflight's snapshot (`existedBefore`) for subnets and peerings, which
carry no tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from provisioning import naming
from provisioning.contracts import CREATED, EXISTING


def run_tags(user_tags: Mapping[str, str] | None, instance_id: str, run_id: str) -> dict[str, str]:
    """Tags for a resource this run creates: the user's, plus which setup and which run made it."""
    tags = dict(user_tags or {})
    tags[naming.RUN_TAG_INSTANCE] = instance_id
    tags[naming.RUN_TAG_RUN] = run_id
    return tags


def action_from_tags(tags: Mapping[str, str] | None, run_id: str) -> str:
    """`created` when the resource carries this run's runId tag (an activity re-executed after a host crash
    finds its own work), else `existing` (never deleted by a rollback)."""
    return CREATED if tags and run_id and tags.get(naming.RUN_TAG_RUN) == run_id else EXISTING


def action_from_snapshot(resource_id: str, existed_before: Iterable[str] | None, fallback: str) -> str:
    """Subnets and peerings carry no tags. Preflight lists the ones that existed before the run
    (`existedBefore`): one found now that is not on that list can only be this run's (an activity re-executed
    after a host crash), so it is `created`. Without a snapshot the caller's own rule (`fallback`) decides."""
    if existed_before is None:
        return fallback
    return EXISTING if resource_id.casefold() in {known.casefold() for known in existed_before} else CREATED


def peering_action(vnet_tags: Iterable[Mapping[str, str] | None], run_id: str) -> str:
    """A peering found under the derived name, without a snapshot: this run's when either vnet it hangs
    between carries this run's runId (a peering on a vnet this run made cannot predate the run)."""
    return CREATED if any(action_from_tags(tags, run_id) == CREATED for tags in vnet_tags) else EXISTING


# Role assignments have no tags; their description carries the runId instead: `hopsworks-setup-run=<run id>`.
DESCRIPTION_PREFIX = f"{naming.RUN_TAG_RUN}="


def role_assignment_description(run_id: str) -> str:
    return DESCRIPTION_PREFIX + run_id


def action_from_description(description: str | None, run_id: str) -> str:
    ours = description and run_id and description.strip() == role_assignment_description(run_id)
    return CREATED if ours else EXISTING
