"""The published datasets: one recipe per (task, quality), each a policy + size + seed.

``macca-hub build <task> --quality <quality>`` follows the recipe; flags override its size/seed.
"""

from __future__ import annotations

import dataclasses

from dataset_builders.policies import PolicySpec
from macca_hub.data.format import QUALITIES
from macca_hub.tasks import TASKS


@dataclasses.dataclass(frozen=True)
class Recipe:
    task: str
    quality: str
    policy: PolicySpec
    num_transitions: int
    seed: int = 0


def recipe(task: str, quality: str) -> Recipe:
    """The recipe of ``(task, quality)``, with clear errors for unknown names."""
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; valid tasks are {sorted(TASKS)}.")
    if quality not in QUALITIES:
        raise ValueError(f"Unknown quality {quality!r}; valid qualities are {list(QUALITIES)}.")
    if quality == "random":
        return Recipe(task, quality, PolicySpec(kind="uniform"), num_transitions=1_000_000)
    raise ValueError(
        f"The {quality!r} quality of {task!r} needs a trained behaviour policy, which is not shipped yet; "
        "only 'random' can be built."
    )
