"""The published datasets: one recipe per (task, quality), each a policy + size + seed.

``macca-hub build <task> --quality <quality>`` follows the recipe; flags override its size/seed.
All learned behaviour policies are shipped in ``macca_hub/assets/policies/`` (see
``dataset_builders/README.md`` for how each was trained), so every recipe builds offline.
"""

from __future__ import annotations

import dataclasses

from dataset_builders.policies import SHIPPED, PolicySpec
from macca_hub.data.format import QUALITIES
from macca_hub.tasks import TASKS
from macca_hub.utils.io import read_json

#: Gaussian std added to the learned policies' actions while collecting (then clipped to [-1, 1]).
COLLECTION_NOISE = 0.1
DEFAULT_TRANSITIONS = 1_000_000


@dataclasses.dataclass(frozen=True)
class Recipe:
    task: str
    quality: str
    policy: PolicySpec
    num_transitions: int
    seed: int = 0


def uniform_recipe(task: str, quality: str = "random") -> Recipe:
    """The foundation's uniform-random builder, kept as an option (``macca-hub build --uniform``)."""
    return Recipe(task, quality, PolicySpec(kind="uniform"), num_transitions=DEFAULT_TRANSITIONS)


def recipe(task: str, quality: str) -> Recipe:
    """The recipe of ``(task, quality)``, with clear errors for unknown names."""
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; valid tasks are {sorted(TASKS)}.")
    if quality not in QUALITIES:
        raise ValueError(f"Unknown quality {quality!r}; valid qualities are {list(QUALITIES)}.")
    name = f"{task}-{quality}"
    folder = SHIPPED / name  # existence is checked when the policy is loaded (make_policy)
    if quality == "medium-replay":
        spec = PolicySpec(kind="replay", name=name, path=str(folder / "replay.npz"), noise_std=0.0)
        if not (folder / "config.json").is_file():  # not shipped: make_policy will say how to make it
            return Recipe(task, quality, spec, num_transitions=DEFAULT_TRANSITIONS)
        cfg = read_json(folder / "config.json")
        return Recipe(task, quality, spec, num_transitions=int(cfg["transitions"]), seed=int(cfg["train_seed"]))
    spec = PolicySpec(kind="mlp", name=name, path=str(folder), noise_std=COLLECTION_NOISE)
    return Recipe(task, quality, spec, num_transitions=DEFAULT_TRANSITIONS)
