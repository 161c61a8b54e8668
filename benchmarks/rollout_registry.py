"""The registry a benchmark's (or a test's) rollouts record their promotions in: which version serves
is the registry's serving record alone (`repair.serving.rollout.registry_pointer`), and only an
approved model version may serve."""

from __future__ import annotations

from collections.abc import Iterable

from repair import registry
from repair.object_store import ObjectStore
from repair.serving.rollout import ServingPointer, registry_pointer


def approved_models(store: ObjectStore, versions: Iterable[int]) -> ServingPointer:
    """Approved model records for `versions` (records only: a rollout copies each version's files from
    the checkpoint it is given), and the registry's serving pointer to pass the rollouts."""
    for version in versions:
        record = registry.record_candidate(
            store, registry.MODEL, version, data_version=f"v{version}", checks={}
        )
        registry.approve(store, record)
    return registry_pointer(store)
