"""Task registry. Adding a task = one module defining an ``MPETask`` subclass + one line here."""

from __future__ import annotations

from macca_hub.tasks.base import MPETask, OpponentPolicy, StepResult, TaskSpec, episode_seed, force_to_mpe2
from macca_hub.tasks.mpe_cn import CooperativeNavigation
from macca_hub.tasks.mpe_pp import PredatorPrey
from macca_hub.tasks.mpe_world import World

TASKS: dict[str, type[MPETask]] = {
    "cn": CooperativeNavigation,
    "pp": PredatorPrey,
    "world": World,
}


def task_class(name: str) -> type[MPETask]:
    if name not in TASKS:
        raise ValueError(f"Unknown task {name!r}; valid tasks are {sorted(TASKS)}.")
    return TASKS[name]


def make_task(name: str, reward: str = "macca", opponent_policy: OpponentPolicy | None = None) -> MPETask:
    """Create the named task (a live mpe2 environment seen from the team's side)."""
    return task_class(name)(reward=reward, opponent_policy=opponent_policy)


__all__ = ["TASKS", "MPETask", "OpponentPolicy", "StepResult", "TaskSpec", "episode_seed", "force_to_mpe2",
           "make_task", "task_class"]
