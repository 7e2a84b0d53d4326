"""Rollback decisions: what a failed run deletes, in which order, each step's state after, and the message.

Pure (the orchestrator executes the deletes and reports each outcome here). The rules:
- only resources this run reported as `created` are deleted; `existing` ones (there before the run) never;
- a step's resources go before those of the steps it needs (steps are listed in a dependency order, so
  walking them backwards does that); within a step, reverse creation order; an id reported twice once;
- deleting a resource deletes what lies under it (subnets, peerings, role assignments scoped to it): a child
  whose own delete failed is gone once its parent is deleted, so it is not left behind;
- a step is `rolled_back` when nothing it created is left; else it keeps `succeeded` (its work stands) or,
  if it never finished, becomes `failed`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from provisioning import status
from provisioning.contracts import CREATED, StepFailure

CLUSTER_TYPE = "microsoft.containerservice/managedclusters"
# A cluster still being created refuses deletes with 409 OperationNotAllowed: that is a wait, not a fault.
BUSY_CLUSTER_CODES = frozenset({"operationnotallowed"})


@dataclass(frozen=True)
class Deletion:
    id: str
    type: str
    step: str


def deletion_order(
    step_names: Sequence[str], resources_by_step: Mapping[str, Sequence[Mapping[str, Any]]]
) -> list[Deletion]:
    """The resources this run created, in the order to delete them (see the module docstring)."""
    order: list[Deletion] = []
    seen: set[str] = set()
    for step in reversed(step_names):
        for resource in reversed(list(resources_by_step.get(step, ()))):
            key = resource["id"].casefold()
            if resource.get("action") != CREATED or key in seen:
                continue
            seen.add(key)
            order.append(Deletion(resource["id"], resource["type"], step))
    return order


def is_under(child_id: str, parent_id: str) -> bool:
    """True when `child_id` lies under `parent_id` (ARM ids compare without case)."""
    return child_id.casefold().startswith(parent_id.casefold().rstrip("/") + "/")


def waits_for_cluster(resource_type: str, error_code: str) -> bool:
    """True when a delete's answer means "the cluster is still being created": wait for a terminal state on
    durable timers (bounded by the cluster timeout) instead of spending the retry budget."""
    return resource_type.casefold() == CLUSTER_TYPE and error_code.casefold() in BUSY_CLUSTER_CODES


@dataclass
class Rollback:
    """One rollback in progress: the order, and what each outcome does to the steps' states."""

    step_names: tuple[str, ...]
    states: dict[str, str]  # the run's step states; updated in place as steps settle
    order: list[Deletion]
    remaining: dict[str, int] = field(default_factory=dict)
    rolled_back: list[str] = field(default_factory=list)
    left_behind: list[tuple[Deletion, str]] = field(default_factory=list)

    @classmethod
    def plan(
        cls,
        step_names: Sequence[str],
        states: dict[str, str],
        resources_by_step: Mapping[str, Sequence[Mapping[str, Any]]],
    ) -> Rollback:
        order = deletion_order(step_names, resources_by_step)
        remaining = {name: sum(deletion.step == name for deletion in order) for name in step_names}
        return cls(tuple(step_names), states, order, remaining)

    def deleted(self, deletion: Deletion) -> bool:
        """`deletion` is gone (and everything left behind under it). Answers whether a step settled."""
        gone = [deletion] + [kept for kept, _ in self.left_behind if is_under(kept.id, deletion.id)]
        self.left_behind = [(kept, code) for kept, code in self.left_behind if kept not in gone]
        settled = False
        for removed in gone:
            self.rolled_back.append(removed.id)
            self.remaining[removed.step] -= 1
            if self.remaining[removed.step] == 0:
                settled = self._settle(removed.step) or settled
        return settled

    def kept(self, deletion: Deletion, code: str) -> None:
        """`deletion` could not be removed (`code` says why)."""
        self.left_behind.append((deletion, code))

    def finish(self) -> None:
        """Settle every step once all deletes have answered."""
        for name in self.step_names:
            self._settle(name)

    def _settle(self, step: str) -> bool:
        state = self.states.get(step, status.PENDING)
        if state not in (status.SUCCEEDED, status.RUNNING):
            return False
        if self.remaining[step] == 0:
            self.states[step] = status.ROLLED_BACK
        elif state == status.RUNNING:
            self.states[step] = status.FAILED
        return self.states[step] != state

    def message(self, failures: Sequence[StepFailure]) -> str:
        """What the failed orchestration reports: the failure(s), what was rolled back, what was left."""
        first = failures[0]
        parts = [_described(f"Setup failed at step {first.step}", first)]
        parts += [_described(f"Step {other.step} also failed", other) for other in failures[1:]]
        if self.rolled_back:
            parts.append(f"Rolled back {len(self.rolled_back)} resource(s) this run created: "
                         f"{', '.join(self.rolled_back)}")
        else:
            parts.append("Rolled back: nothing (this run had created nothing)")
        if self.left_behind:
            kept = ", ".join(f"{deletion.id} ({code})" for deletion, code in self.left_behind)
            parts.append(f"Left behind {len(self.left_behind)} resource(s) that could not be removed: {kept}")
        else:
            parts.append("Left behind: nothing")
        return ". ".join(parts) + "."


def _described(prefix: str, failure: StepFailure) -> str:
    message = failure.message.strip().rstrip(".")
    return f"{prefix}: {failure.code}: {message}" if message else f"{prefix}: {failure.code}"
