"""Predator-Prey (``pp``): 3 predators (the team) chase 1 prey driven by a fixed policy."""

from __future__ import annotations

import numpy as np

from macca_hub.tasks.base import MPETask, OpponentPolicy, flee_nearest


class PredatorPrey(MPETask):
    name = "pp"
    env_id = "simple_tag_v3"
    description = "MPE Predator-Prey: 3 predators vs 1 prey, 2 obstacles (mpe2 simple_tag_v3)"
    reward_doc = "r^i = -0.1 * distance(predator i, prey) + 10 if predator i touches the prey."
    opponent_doc = (
        "frozen MATD3 prey (shipped policy pp-prey, trained jointly against the predators with its stock mpe2 "
        "reward); the scripted prey (flees the nearest predator) stays available as PredatorPrey.scripted_opponent()"
    )
    opponent_id = "pp-prey"
    env_kwargs = {"num_good": 1, "num_adversaries": 3, "num_obstacles": 2}
    team_prefixes = ("adversary_",)

    def macca_rewards(self) -> np.ndarray:
        pred, prey = self.team_agents, self.opponent_agents
        p, q = self._positions(pred), self._positions(prey)
        dist = np.linalg.norm(p[:, None, :] - q[None, :, :], axis=-1)[:, 0]
        touch = self._touching(p, q, np.array([a.size for a in pred]), np.array([a.size for a in prey]))[:, 0]
        return -0.1 * dist + 10.0 * touch

    @staticmethod
    def scripted_opponent() -> OpponentPolicy:
        """The foundation's scripted prey, kept as an option: ``make_task("pp", opponent_policy=...)``."""
        # prey obs: vel(2) pos(2) obstacles(2x2) predators(3x2) ... -> predators at [8:14]
        return lambda obs: flee_nearest(obs, slice(8, 14), 3)
